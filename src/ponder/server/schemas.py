"""Pydantic models of every request and response the server speaks.

OpenAI-compatible bodies accept the fields the OpenAI API defines (those Ponder cannot honour
are refused with a 400 naming them); Ponder's own bodies refuse unknown fields (422 naming the
field). Examples show up in ``/docs``.

>>> ChatRequest(model="m", messages=[{"role": "user", "content": "Hi"}]).max_tokens is None
True
>>> QueryRequest(query="cats", k=3).k
3
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Strict = ConfigDict(extra="forbid")
Where = dict[str, Any]


class ErrorBody(BaseModel):
    message: str = Field(description="What went wrong and how to fix it.")
    type: str = Field(description="Error class, e.g. invalid_request_error, ConfigError.")
    param: str | None = Field(None, description="The request field at fault, when known.")
    code: str | int | None = None


class ErrorResponse(BaseModel):
    """Every error, OpenAI style: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorBody


# ------------------------------------------------------------------ OpenAI-compatible
class ContentPart(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str | list[ContentPart]
    name: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    model_config = Strict
    model: str = Field(description="A served model id (see GET /v1/models).")
    max_tokens: int | None = Field(None, ge=1, description="Most tokens to generate.")
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy.")
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0, description="Extension (vLLM/llama.cpp style).")
    repetition_penalty: float | None = Field(None, gt=0, le=10, description="Extension.")
    seed: int | None = None
    stop: str | list[str] | None = Field(None, description="Up to 4 stop strings.")
    n: int = Field(1, ge=1, le=8, description="Completions to return.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2, description="Accepted; must be 0.")
    frequency_penalty: float | None = Field(None, ge=-2, le=2, description="Accepted; must be 0.")
    user: str | None = None


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "model": "smollm2-135m-instruct-q4_1",
            "messages": [{"role": "user", "content": "Name a colour."}],
            "max_tokens": 16, "temperature": 0,
        }]},
    )


class CompletionRequest(_Sampling):
    prompt: str | list[str]
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool = False

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "model": "smollm2-135m-instruct-q4_1", "prompt": "The capital of France is",
            "max_tokens": 8, "temperature": 0,
        }]},
    )


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(BaseModel):
    token: str
    logprob: float | None = Field(description="None where the backend does not report it.")
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] | None
    logprobs: ChoiceLogprobs | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class LegacyLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float]] | None = None
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"] | None
    logprobs: LegacyLogprobs | None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"model": "all-MiniLM-L6-v2", "input": "a purring cat"}]},
    )
    model: str
    input: str | list[str] = Field(description="A text or a list of texts.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, description="Must equal the model's dimension.")
    user: str | None = None


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ponder"
    kind: Literal["generator", "embedder"] = "generator"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ------------------------------------------------------------------ collections
class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "notes"}]})
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
    metric: Literal["cosine", "dot", "l2", "l1"] = "cosine"
    index: Literal["flat", "ivf", "hnsw", "pq", "ivf-pq"] = "flat"


class CollectionInfo(BaseModel):
    name: str
    path: str
    documents: int
    chunks: int
    model: str
    dimension: int
    metric: str
    index: str
    index_params: dict[str, Any]
    size_bytes: int
    catalog_version: int


class CollectionList(BaseModel):
    collections: list[CollectionInfo]


class Dropped(BaseModel):
    dropped: str


class AddRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "ids": ["a", "b"], "texts": ["cats purr", "stocks fell"],
        "metadatas": [{"topic": "pets"}, {"topic": "markets"}],
    }]})
    ids: list[str] = Field(min_length=1)
    texts: list[str] | None = None
    metadatas: list[dict[str, Any]] | None = None
    embeddings: list[list[float]] | None = None


class IdsResponse(BaseModel):
    ids: list[str]


class GetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ids": ["a"]}, {"where": {"topic": "pets"}, "limit": 10}]})
    ids: list[str] | None = None
    where: Where | None = None
    limit: int | None = Field(None, ge=1, le=10_000)


class ChunkOut(BaseModel):
    id: str
    doc_id: str
    text: str
    source: str | None
    start: int
    end: int
    page: int | None
    heading_path: list[str]
    metadata: dict[str, Any]
    location: str


class ChunkList(BaseModel):
    chunks: list[ChunkOut]


class UpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ids": ["a"], "metadatas": [{"topic": "cats"}], "merge": True}]})
    ids: list[str] = Field(min_length=1)
    metadatas: list[dict[str, Any]]
    merge: bool = False


class UpdateResponse(BaseModel):
    updated: int


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ids": ["a"]}, {"where": {"topic": "markets"}}]})
    ids: list[str] | None = None
    where: Where | None = None


class DeleteResponse(BaseModel):
    deleted: int


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "a purring cat", "k": 5, "where": {"topic": "pets"}, "explain": True}]})
    query: str | None = Field(None, min_length=1, description="Text to search by meaning.")
    embedding: list[float] | None = Field(None, description="Or a precomputed query vector.")
    k: int = Field(10, ge=1, description="Results wanted (at most the server's k limit).")
    where: Where | None = Field(None, description="Metadata filter (the where language).")
    strategy: Literal["auto", "pre", "in", "post"] = "auto"
    explain: bool = Field(False, description="Return the query plan too.")


class HitOut(BaseModel):
    id: str
    score: float
    rank: int
    text: str
    source: str | None
    doc_id: str
    page: int | None
    heading_path: list[str]
    start: int
    end: int
    metadata: dict[str, Any]
    found_by: str


class QueryResponse(BaseModel):
    results: list[HitOut]
    plan: dict[str, Any] | None = None
    plan_text: str | None = None


# ------------------------------------------------------------------ jobs
class JobOut(BaseModel):
    id: str
    kind: Literal["ingest"] = "ingest"
    collection: str
    status: Literal["queued", "running", "done", "failed"]
    files: list[str]
    files_total: int = 0
    files_done: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    progress: float = Field(0.0, ge=0, le=1)
    report: dict[str, Any] | None = None
    error: str | None = None
    created: float
    finished: float | None = None


# ------------------------------------------------------------------ ask
class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "question": "How do I read a CSV file with a header row?", "collection": "stdlib",
        "k": 3, "stream": False}]})
    question: str = Field(min_length=1)
    collection: str
    k: int | None = Field(None, ge=1)
    where: Where | None = None
    chain: Literal["stuff", "map_reduce", "refine", "map_rerank"] | None = None
    retrieval: Literal["dense", "bm25", "hybrid"] | None = None
    fusion: Literal["zscore", "minmax", "rrf"] | None = None
    weights: tuple[float, float] | None = None
    min_score: float | None = None
    max_tokens: int | None = Field(None, ge=1)
    context_tokens: int | None = Field(None, ge=32)
    defense: Literal["full", "fence", "none"] | None = None
    support: Literal["lexical", "embedding"] | None = None
    answer: Literal["extractive", "generative", "auto"] | None = Field(
        None, description="Answer style, when this Ponder's ask supports it.")
    stream: bool = Field(False, description="SSE: token events, then one final event.")


class AskResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    question: str
    answer: str
    status: str
    citations: list[dict[str, Any]]
    unsupported: list[str]
    injections: list[dict[str, Any]]
    timings: dict[str, float]


# ------------------------------------------------------------------ tasks
class TaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | list[str] = Field(description="A text or a list of texts (at most 32).")


class SummarizeRequest(TaskRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "Long article text ..."}]})
    method: Literal["abstractive", "extractive", "lead"] | None = None
    max_tokens: int | None = Field(None, ge=1)


class SentimentRequest(TaskRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "I loved it"}]})
    method: str | None = Field(None, max_length=32,
                               description="Scoring method (the task's default if unset).")


class ClassifyRequest(TaskRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "The match went to extra time", "labels": ["sports", "politics"]}]})
    labels: list[str] = Field(min_length=2, max_length=50)
    multi_label: bool = False
    method: str | None = Field(None, max_length=32,
                               description="Scoring method (the task's default if unset).")


class TranslateRequest(TaskRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "Good morning", "target": "de"}]})
    target: str = Field(min_length=2, max_length=16)
    source: str | None = Field(None, min_length=2, max_length=16)
    max_tokens: int | None = Field(None, ge=1)


class TaskResponse(BaseModel):
    task: str
    results: list[dict[str, Any]]


# ------------------------------------------------------------------ health, map
class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    ready: bool
    generator: str
    embedder: str
    detail: str = ""


class MapPointOut(BaseModel):
    id: str
    x: float
    y: float
    label: str
    text: str
    source: str | None


class MapOut(BaseModel):
    collection: str
    method: str
    color_by: str | None
    explained: list[float]
    total: int
    points: list[MapPointOut]
