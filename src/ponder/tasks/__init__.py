"""NLP task pipelines over the local model, with Hugging Face-style names and calls.

``pipeline(task, model=..., **options)`` returns a callable over a string (one typed result,
which also reads as a ``dict``; ``.to_dict()`` is its JSON object) or a list of strings (a list
of them): summarization (extractive, abstractive with map-reduce,
lead; by default the one measured best), sentiment analysis (a trained classifier head by
default, or LLM log-likelihood) and zero-shot classification (by embedding similarity, the
default, or LLM log-likelihood), translation (by prompt, with wrong-language warnings) and
few-shot prompting (with nearest-example selection). Offline: models load lazily from local files.

>>> from ponder.tasks import pipeline
>>> from ponder.llm.fake import ScriptedGenerator
>>> summarize = pipeline("summarization", method="abstractive",
...                      model=ScriptedGenerator(["Rain is due on Monday."]))
>>> summarize("Forecasters expect rain on Monday. Temperatures will drop.").summary
'Rain is due on Monday.'
"""

from __future__ import annotations

from ponder.tasks.base import PromptOptions, Task, TaskOptions, TaskResult
from ponder.tasks.classify import ClassifyOptions, LabelResult, ZeroShotClassifier
from ponder.tasks.fewshot import FewShot, FewShotOptions, FewShotResult, load_examples
from ponder.tasks.registry import ALIASES, TASKS, pipeline, resolve_task
from ponder.tasks.sentiment import SentimentAnalyzer, SentimentOptions
from ponder.tasks.summarize import SummarizeOptions, Summarizer, SummaryResult
from ponder.tasks.translate import TranslateOptions, TranslationResult, Translator

__all__ = [
    "ALIASES",
    "TASKS",
    "ClassifyOptions",
    "FewShot",
    "FewShotOptions",
    "FewShotResult",
    "LabelResult",
    "PromptOptions",
    "SentimentAnalyzer",
    "SentimentOptions",
    "SummarizeOptions",
    "Summarizer",
    "SummaryResult",
    "Task",
    "TaskOptions",
    "TaskResult",
    "TranslateOptions",
    "TranslationResult",
    "Translator",
    "ZeroShotClassifier",
    "load_examples",
    "pipeline",
    "resolve_task",
]
