"""Task names, as Hugging Face ``pipeline`` users know them, and ``pipeline()`` itself.

=================================================  ======================  =====================
task name (aliases)                                class                   result (fields)
=================================================  ======================  =====================
``summarization`` (``summarize``)                  ``Summarizer``          ``SummaryResult``
                                                                           (summary, method...)
``sentiment-analysis`` (``sentiment``)             ``SentimentAnalyzer``   ``LabelResult`` (label,
                                                                           score, scores, method)
``zero-shot-classification`` (``classify``,        ``ZeroShotClassifier``  ``LabelResult``
``zero-shot``, ``classification``)
``translation`` (``translate``,                    ``Translator``          ``TranslationResult``
``translation_en_to_de``...)                                               (translation, source,
                                                                           target [, warning])
``few-shot`` (``fewshot``)                         ``FewShot``             ``FewShotResult``
                                                                           (output, examples)
=================================================  ======================  =====================

Each class takes its options as keyword arguments (or whole, ``options=SummarizeOptions(...)``);
``result.to_dict()`` is the JSON object the CLI and the server print.

>>> sorted(TASKS)
['few-shot', 'sentiment-analysis', 'summarization', 'translation', 'zero-shot-classification']
>>> pipeline("translation_en_to_fr", model="fake").options.target
'fr'
>>> pipeline("summarise")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: unknown task 'summarise' (did you mean 'summarize'?); tasks: ...
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ponder.errors import ConfigError
from ponder.tasks.base import ModelLike, Task
from ponder.tasks.classify import ZeroShotClassifier
from ponder.tasks.fewshot import FewShot
from ponder.tasks.sentiment import SentimentAnalyzer
from ponder.tasks.summarize import Summarizer
from ponder.tasks.translate import Translator

TASKS: dict[str, type[Task]] = {
    "summarization": Summarizer,
    "sentiment-analysis": SentimentAnalyzer,
    "zero-shot-classification": ZeroShotClassifier,
    "translation": Translator,
    "few-shot": FewShot,
}
ALIASES: dict[str, str] = {
    "summarize": "summarization",
    "summary": "summarization",
    "sentiment": "sentiment-analysis",
    "classify": "zero-shot-classification",
    "classification": "zero-shot-classification",
    "zero-shot": "zero-shot-classification",
    "zeroshot": "zero-shot-classification",
    "translate": "translation",
    "fewshot": "few-shot",
    "few_shot": "few-shot",
}
_HF_TRANSLATION = re.compile(r"^translation_([a-z]{2,3})_to_([a-z]{2,3})$")


def resolve_task(name: str) -> tuple[str, dict[str, Any]]:
    """The canonical task name for ``name`` and any options it implies
    (``translation_en_to_de`` implies ``source="en", target="de"``)."""
    key = str(name).strip().lower().replace(" ", "-")
    m = _HF_TRANSLATION.match(key)
    if m:
        return "translation", {"source": m.group(1), "target": m.group(2)}
    key = ALIASES.get(key, key)
    if key in TASKS:
        return key, {}
    known = sorted([*TASKS, *ALIASES])
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown task {name!r}{hint}; tasks: {', '.join(sorted(TASKS))}")


def pipeline(
    task: str, model: ModelLike = None, *, embedder: Any = None, **options: Any
) -> Task:
    """A callable for ``task`` over a string or a list of strings (see the table above).

    ``model``: a ``ponder.llm.load_generator`` spec or a ``Generator`` (default: the settings'
    model, else the embedded SmolLM2-135M); ``embedder``: a ``load_embedder`` name or an
    ``Embedder``. ``options`` are the task's own (``labels=``, ``method=``, ``target=``...)
    and, for generative tasks, decoding options (``max_new_tokens=``, ``strategy=``...).
    Nothing loads until the first call.

    >>> clf = pipeline("zero-shot-classification", labels=["sports", "politics"], model="fake")
    >>> clf.options.labels, clf.options.method
    (('sports', 'politics'), 'embedding')
    """
    name, implied = resolve_task(task)
    for key, value in implied.items():
        options.setdefault(key, value)
    return TASKS[name](model=model, embedder=embedder, **options)


__all__ = ["ALIASES", "TASKS", "pipeline", "resolve_task"]
