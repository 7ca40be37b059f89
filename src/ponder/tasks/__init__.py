"""NLP task pipelines over the local model, with Hugging Face-style names and calls.

``pipeline(task, model=..., **options)`` returns a callable over a string (one ``dict``) or a
list of strings (a list of ``dict``): summarization (extractive, abstractive with map-reduce,
lead; by default the one measured best), sentiment analysis (a trained classifier head by
default, or LLM log-likelihood) and zero-shot classification (by embedding similarity, the
default, or LLM log-likelihood), translation (by prompt, with wrong-language warnings) and
few-shot prompting (with nearest-example selection). Offline: models load lazily from local files.

>>> from ponder.tasks import pipeline
>>> from ponder.llm.fake import ScriptedGenerator
>>> summarize = pipeline("summarization", method="abstractive",
...                      model=ScriptedGenerator(["Rain is due on Monday."]))
>>> summarize("Forecasters expect rain on Monday. Temperatures will drop.")["summary"]
'Rain is due on Monday.'
"""

from __future__ import annotations

from ponder.tasks.base import Result, Task
from ponder.tasks.classify import ZeroShotClassifier
from ponder.tasks.fewshot import FewShot, load_examples
from ponder.tasks.registry import ALIASES, TASKS, pipeline, resolve_task
from ponder.tasks.sentiment import SentimentAnalyzer
from ponder.tasks.summarize import Summarizer
from ponder.tasks.translate import Translator

__all__ = [
    "ALIASES",
    "TASKS",
    "FewShot",
    "Result",
    "SentimentAnalyzer",
    "Summarizer",
    "Task",
    "Translator",
    "ZeroShotClassifier",
    "load_examples",
    "pipeline",
    "resolve_task",
]
