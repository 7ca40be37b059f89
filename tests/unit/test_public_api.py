"""Pins the public API: a change here is a change users see.

The names are written out literally, so adding, removing or renaming a public name fails here
until this file is updated on purpose (and the change is noted for users).
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import ponder
import ponder.errors as errors

PUBLIC: dict[str, list[str]] = {
    "ponder": [
        "Answer", "Chunk", "Collection", "Embedder", "GenerationConfig", "Generator",
        "HashEmbedder", "Hit", "IngestReport", "LoadedDocument", "PonderError",
        "ScriptedGenerator", "Settings", "ask", "load_embedder", "load_generator", "load_settings",
        "pipeline",
    ],
    "ponder.errors": [
        "BackendUnavailableError", "CollectionClosedError", "CollectionError",
        "CollectionExistsError", "CollectionLockedError", "CollectionNotFoundError", "ConfigError",
        "ContextLengthError", "EmbeddingMismatchError", "FilterError", "GenerationError",
        "InputError", "LoaderError", "ModelError", "ModelNotFoundError", "PonderError",
        "VectorIndexError",
    ],
    "ponder.testing": [
        "HashEmbedder", "ScriptedGenerator", "ToyLanguageModel",
    ],
    "ponder.testing.contracts": [
        "EmbedderContract", "GeneratorContract", "VectorIndexContract",
    ],
    "ponder.ingest": [
        "DEMO_MODULES", "DiscoveryResult", "LoadResult", "Loader", "SUPPORTED_EXTENSIONS",
        "chunk_document", "discover", "load_path", "load_path_report", "load_pydoc", "loader_for",
        "register_loader", "render_module", "stdlib_modules", "unregister_loader",
    ],
    "ponder.embed": [
        "Embedder", "HashEmbedder", "MiniLMEmbedder", "available_embedders", "default_backend",
        "known_embedders", "load_embedder",
    ],
    "ponder.llm": [
        "Completion", "DecodingTrace", "GenerationConfig", "Generator", "Message", "StreamInfo",
        "Token", "TokenStream", "clear_cache", "load_generator",
    ],
    "ponder.prompts": [
        "InjectionSpan", "OutputCheck", "PromptTemplate", "REMOVED_MARKER", "check_output",
        "defuse_special_tokens", "detect_injections", "fence", "make_boundary", "neutralize",
    ],
    "ponder.rag": [
        "Answer", "AskConfig", "CHAINS", "Citation", "RetrievalConfig", "SentenceSupport",
        "answer_from_hits", "ask", "closed_book", "register_chain", "retrieve", "unregister_chain",
    ],
    "ponder.tasks": [
        "ALIASES", "ClassifyOptions", "FewShot", "FewShotOptions", "FewShotResult", "LabelResult",
        "PromptOptions", "SentimentAnalyzer", "SentimentOptions", "SummarizeOptions",
        "Summarizer", "SummaryResult", "TASKS", "Task", "TaskOptions", "TaskResult",
        "TranslateOptions", "TranslationResult", "Translator", "ZeroShotClassifier",
        "load_examples", "pipeline", "resolve_task",
    ],
    "ponder.text": [
        "ABBREVIATIONS", "CHARS_PER_TOKEN_ESTIMATE", "NUMBER_ABBREVIATIONS", "TokenCount",
        "count_tokens", "count_words", "estimate_tokens", "sentence_spans", "split_sentences",
        "token_counter", "truncate_words",
    ],
    "ponder.evaluate": [
        "BeirData", "BeirDoc", "RetrievalResult", "evaluate_beir", "evaluate_run", "ingest_corpus",
        "load_beir", "load_qrels", "mrr_at", "ndcg_at", "per_query_metrics", "recall_at",
    ],
    "ponder.safety": [
        "BiasReport", "BoldPrompt", "FaithfulnessReport", "MinimalPair", "StereotypeReport",
        "ToxicityScore", "bias_report", "bootstrap_ci", "check_summary", "faithfulness_report",
        "load_bold", "load_crows_pairs", "load_frank", "partial_corr", "permutation_gap",
        "split_pair", "stereotype_report", "toxicity",
    ],
    "ponder.chains": [
        "AskStep", "Chain", "ChainResult", "ChainStopped", "FunctionStep", "ModerateStep",
        "PromptStep", "RetrieveStep", "Step", "StepRecord", "TaskStep", "load_chain",
        "load_chain_text",
    ],
    "ponder.agents": [
        "Agent", "AgentResult", "AgentStep", "Calculator", "FunctionTool", "PydocTool", "SQLTool",
        "SearchTool", "Tool", "ToolError", "parse_tools", "react_grammar",
    ],
    "ponder.moderate": [
        "ACTIONS", "CATEGORIES", "Finding", "KINDS", "ModerationResult", "PIIMatch", "Policy",
        "find_pii", "find_profanity", "moderate", "redact", "toxicity_score",
    ],
    "ponder.ops": [
        "Lineage", "compare", "lineage_of", "load_rag_model", "log_eval_run", "log_rag_model",
        "promote", "snapshot_collection", "tracking_uri",
    ],
    "ponder.spark": [
        "SparkIngestReport", "answer_udf", "check_java", "chunk_udf", "classify_udf", "embed_udf",
        "get_spark", "ingest", "sentiment_udf", "snapshot_for_spark", "summarize_udf",
    ],
    "ponder.server": [
        "create_app",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == PUBLIC[module]
    assert len(set(mod.__all__)) == len(mod.__all__), "a name is listed twice"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_top_level_names_are_the_lazy_exports():
    assert sorted(ponder._EXPORTS) == PUBLIC["ponder"]


def test_import_is_cheap():
    code = "import ponder, sys; print('faiss' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_every_error_is_a_ponder_error_and_listed():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.PonderError)
        assert name in errors.__doc__, f"{name} missing from the tree in ponder.errors' docstring"


def test_collection_api_shape():
    c = ponder.Collection
    for method in (
        "create",
        "open",
        "get_or_create",
        "add",
        "ingest",
        "search",
        "get",
        "update",
        "delete",
        "count",
        "info",
        "keyword_search",
    ):
        assert callable(getattr(c, method)), method


def test_subpackages_reachable_from_plain_import():
    assert sorted(ponder._SUBPACKAGES) == [
        "agents", "chains", "embed", "evaluate", "finetune", "llm", "moderate", "ops", "rag",
        "safety", "server", "spark", "store", "tasks",
    ]
    assert callable(ponder.safety.toxicity)
    assert callable(ponder.rag.ask)
