"""Translation by prompt, with any configured model; languages by name or ISO 639-1 code.

The result is ``{"translation", "source", "target"}`` plus, where something is detectably
wrong, a ``warning``: an empty output, the input returned unchanged, an output that is not in
the target language's script, or one whose function words say it is in another language
(``ponder.tasks.languages``). A model known to be too small to translate (the default
SmolLM2-135M) adds a ``note`` saying so: use a larger model (``model="path.gguf"`` or
``"openai:http://host/v1#model"``), which plugs in unchanged.

>>> from ponder.llm.fake import ScriptedGenerator
>>> g = ScriptedGenerator(["Das Wetter ist gut.", "The weather is good."])
>>> t = Translator(target="German", model=g)
>>> t("The weather is good.").to_dict()
{'translation': 'Das Wetter ist gut.', 'source': 'en', 'target': 'de'}
>>> t("The weather is good.").warning
'the output is the input unchanged: the model did not translate it into German'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from ponder.errors import ConfigError
from ponder.llm.base import Generator
from ponder.tasks.base import PromptOptions, Task, TaskResult
from ponder.tasks.languages import (
    LANGUAGES,
    SCRIPTS,
    STOPWORDS,
    guess_language,
    language_name,
    resolve_language,
    script_share,
    stopword_hits,
)

TRANSLATE_PROMPT = (
    "Translate the following {source_name}text into {target_name}. Reply with the "
    "{target_name} translation only.\n\n{text}"
)
RAW_SUFFIX = "\n\n{target_name} translation:"
WEAK_TRANSLATORS = ("135m",)
WEAK_NOTE = (
    "{model} is too small to translate reliably (expect wrong or partial translations): for "
    "real use pass a larger model, e.g. --model path/to/model.gguf or "
    "openai:http://host:port/v1#model"
)
_NAMES = "|".join(sorted(LANGUAGES.values(), key=len, reverse=True))
_PREFIX = re.compile(
    rf"^\s*(?:here(?:'s| is) (?:the |a |my )?(?:\w+ )?translation[^:\n]*:|"
    rf"(?:(?:{_NAMES}) )?(?:translation|text)?\s*:|(?:{_NAMES})\s*:)\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class TranslateOptions(PromptOptions):
    """Options of ``Translator``: ``target`` and ``source`` as ISO 639-1 codes once checked
    (names are accepted: ``"German"`` becomes ``"de"``); ``source=None`` guesses it."""

    target: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.target:
            raise ConfigError("translation needs a target language: target='de' (--to de)")
        target = resolve_language(self.target)
        source = None if self.source in (None, "", "auto") else resolve_language(self.source)
        if source == target:
            raise ConfigError(
                f"source and target are both {language_name(target)}: nothing to translate;"
                " pick another --to language"
            )
        self._set(target=target, source=source)


@dataclass(frozen=True, eq=False)
class TranslationResult(TaskResult):
    """One translation; ``source`` is the language given or guessed (``None``: unknown);
    ``warning`` says what looks wrong, ``note`` when the model is too small to trust."""

    translation: str
    source: str | None
    target: str
    warning: str | None = None
    truncated: bool = False
    note: str | None = None


class Translator(Task[TranslateOptions, TranslationResult]):
    """``pipeline("translation", target="de")``; ``source`` defaults to auto-detection."""

    task = "translation"
    options_type = TranslateOptions
    primary = "target"
    generative = True
    default_generation: ClassVar[dict[str, Any]] = {"repetition_penalty": 1.1}
    default_prompt = TRANSLATE_PROMPT
    raw_suffix = RAW_SUFFIX

    def prompt_for(self, gen: Generator, text: str, source: str | None) -> str:
        """The prompt that asks ``gen`` for the translation of ``text`` (from ``source``, when
        known)."""
        target = language_name(str(self.options.target))
        source_name = language_name(source) if source else ""
        return self.render(gen, text=text, target_name=target, target=target,
                           source_name=f"{source_name} " if source else "", source=source_name)

    def _run(self, text: str) -> TranslationResult:
        gen = self.generator
        target = str(self.options.target)
        source = self.options.source or guess_language(text)
        stop = ("\n",) if "\n" not in text.strip() else ()
        cfg = self.generation_config(max_new_tokens=2 * self.tokens(gen, text) + 32, stop=stop)
        completion = self.complete_text(gen, self.prompt_for(gen, text, source), cfg)
        translation = clean_translation(completion.text, text)
        weak = any(w in gen.model_id.lower() for w in WEAK_TRANSLATORS)
        return TranslationResult(
            translation, source, target,
            warning=translation_warning(text, translation, source, target),
            truncated=completion.finish_reason == "length",
            note=WEAK_NOTE.format(model=gen.model_id) if weak else None,
        )


def clean_translation(output: str, source_text: str) -> str:
    """Strip a "Translation:" / "German:" preamble and quotes the input did not have.

    >>> clean_translation('German translation: "Guten Tag"', "Good day")
    'Guten Tag'
    """
    text = output.strip()
    text = _PREFIX.sub("", text, count=1).strip() if _PREFIX.match(text) else text
    for a, b in (('"', '"'), ("“", "”"), ("'", "'"), ("«", "»"), ("„", "“")):
        if len(text) > 1 and text.startswith(a) and text.endswith(b) and not source_text.strip(
        ).startswith(a):
            text = text[1:-1].strip()
    return text


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def translation_warning(source_text: str, output: str, source: str | None,
                        target: str) -> str | None:
    """Why ``output`` does not look like a ``target`` translation of ``source_text``, if it
    detectably does not; ``None`` otherwise.

    >>> translation_warning("The cat is on the mat.", "The cat is on the mat, yes.", "en", "de")
    'the output looks like English, not German: the model did not translate it'
    >>> translation_warning("Good morning", "Доброе утро", "en", "ru") is None
    True
    """
    name = language_name(target)
    if not output.strip():
        return f"the model returned no translation into {name}"
    if _norm(output) == _norm(source_text):
        return f"the output is the input unchanged: the model did not translate it into {name}"
    script = SCRIPTS.get(target)
    if script and script_share(output, script) < 0.5:
        return (
            f"the output is not written in the {script.title()} script of {name}: the model "
            "cannot translate into it (use a larger multilingual model)"
        )
    if not script:
        if source in SCRIPTS and script_share(output, SCRIPTS[source]) >= 0.5:
            return f"the output is still in the script of {language_name(source)}, not {name}"
        guess = guess_language(output)
        if guess and guess != target and (guess == source or target in STOPWORDS):
            hits = stopword_hits(output)
            if target not in STOPWORDS or hits[guess] > 2 * hits[target]:
                return (
                    f"the output looks like {language_name(guess)}, not {name}: the model did "
                    "not translate it"
                )
    return None


__all__ = [
    "TranslateOptions",
    "TranslationResult",
    "Translator",
    "clean_translation",
    "translation_warning",
]
