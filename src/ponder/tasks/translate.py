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
>>> t("The weather is good.")
{'translation': 'Das Wetter ist gut.', 'source': 'en', 'target': 'de'}
>>> t("The weather is good.")["warning"]
'the output is the input unchanged: the model did not translate it into German'
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ponder.errors import ConfigError
from ponder.llm.base import Generator
from ponder.prompts.template import PromptTemplate
from ponder.tasks.base import ModelLike, Result, Task
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


class Translator(Task):
    """``pipeline("translation", target="de")``; ``source`` defaults to auto-detection."""

    task = "translation"
    generative = True
    default_generation: ClassVar[dict[str, Any]] = {"repetition_penalty": 1.1}

    def __init__(
        self,
        target: str | None = None,
        *,
        source: str | None = None,
        prompt: str | None = None,
        system: str | None = None,
        raw: bool = False,
        model: ModelLike = None,
        embedder: Any = None,
        **generation: Any,
    ) -> None:
        self._remember(target=target, source=source, prompt=prompt, system=system, raw=raw)
        super().__init__(model=model, embedder=embedder, **generation)
        if not target:
            raise ConfigError("translation needs a target language: target='de' (--to de)")
        self.target = resolve_language(target)
        self.source = None if source in (None, "", "auto") else resolve_language(source)
        if self.source == self.target:
            raise ConfigError(
                f"source and target are both {language_name(self.target)}: nothing to translate;"
                " pick another --to language"
            )
        self.prompt = PromptTemplate(prompt or TRANSLATE_PROMPT)
        if "text" not in self.prompt.variables:
            raise ConfigError("the translation prompt needs a {text} variable")
        self.system = system
        self.raw = raw

    def _body(self, text: str, source: str | None, gen: Generator) -> str:
        values = {
            "text": text,
            "source_name": f"{language_name(source)} " if source else "",
            "target_name": language_name(self.target),
            "source": language_name(source) if source else "",
            "target": language_name(self.target),
        }
        body = self.prompt.fill(**{k: v for k, v in values.items() if k in self.prompt.variables})
        if self.raw or not gen.has_chat_template:
            body += RAW_SUFFIX.format(target_name=language_name(self.target))
        return body

    def _run(self, text: str) -> Result:
        gen = self.generator
        source = self.source or guess_language(text)
        try:
            n_in = gen.count_tokens(text)
        except Exception:
            n_in = len(text) // 3 + 1
        stop = ("\n",) if "\n" not in text.strip() else ()
        cfg = self.generation_config(max_new_tokens=2 * n_in + 32, stop=stop)
        completion = gen.complete(self._body(text, source, gen), cfg, system=self.system,
                                  raw=self.raw)
        translation = clean_translation(completion.text, text)
        out: Result = {"translation": translation, "source": source, "target": self.target}
        warning = translation_warning(text, translation, source, self.target)
        if warning:
            out["warning"] = warning
        if completion.finish_reason == "length":
            out["truncated"] = True
        if any(w in gen.model_id.lower() for w in WEAK_TRANSLATORS):
            out["note"] = WEAK_NOTE.format(model=gen.model_id)
        return out


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


__all__ = ["Translator", "clean_translation", "translation_warning"]
