"""Ponder's collection API: list, create, info, drop; upload documents (an ingest job); add,
get, update, delete by id or ``where``; query (text or embedding, ``k``, ``where``,
``strategy``, ``explain``); one chunk; the 2D map.

Scopes: reading needs ``read``, changing records ``write``, creating a collection ``write``,
dropping one ``admin``; a key limited to some collections sees only those.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile

from ponder.errors import InputError
from ponder.ingest.registry import SUPPORTED_EXTENSIONS, unsupported_reason
from ponder.server.auth import Caller, authorize, may_see
from ponder.server.limits import LimitError, check_count, check_k, check_where
from ponder.server.map import collection_map as build
from ponder.server.schemas import (
    AddRequest,
    ChunkList,
    ChunkOut,
    CollectionCreate,
    CollectionInfo,
    CollectionList,
    DeleteRequest,
    DeleteResponse,
    Dropped,
    ErrorResponse,
    GetRequest,
    HitOut,
    IdsResponse,
    JobOut,
    MapOut,
    QueryRequest,
    QueryResponse,
    UpdateRequest,
    UpdateResponse,
)

router = APIRouter(tags=["Collections"], responses={"4XX": {"model": ErrorResponse}})
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="Collection name.",
                           examples=["notes"])]
TEXT_TYPES = {".txt", ".md", ".markdown", ".html", ".htm", ".csv", ".jsonl"}


def _state(request: Request) -> Any:
    return request.app.state.ponder


def chunk_out(c: Any) -> ChunkOut:
    return ChunkOut(id=c.id, doc_id=c.doc_id, text=c.text, source=c.source, start=c.start,
                    end=c.end, page=c.page, heading_path=list(c.heading_path),
                    metadata=c.metadata, location=c.location)


@router.get("/v1/collections", response_model=CollectionList, summary="List collections")
async def list_collections(request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read")

    def infos() -> list[dict[str, Any]]:
        out = []
        for name in state.list_collections():
            if may_see(key, name):
                with state.collection(name).reading() as col:
                    out.append(col.info())
        return out

    return CollectionList(collections=[CollectionInfo(**i) for i in await state.in_io(infos)])


@router.post("/v1/collections", response_model=CollectionInfo, status_code=201,
             summary="Create a collection (embedded with the server's embedder)")
async def create_collection(req: CollectionCreate, request: Request,
                            key: Caller) -> Any:
    state = _state(request)
    authorize(key, "write", req.name)
    col = await state.in_io(state.create_collection, req.name, req.metric, req.index)
    return CollectionInfo(**col.info())


@router.get("/v1/collections/{name}", response_model=CollectionInfo,
            summary="Counts, model, index and size of a collection")
async def collection_info(name: Name, request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read", name)

    def info() -> dict[str, Any]:
        with state.collection(name).reading() as col:
            return col.info()

    return CollectionInfo(**await state.in_io(info))


@router.delete("/v1/collections/{name}", response_model=Dropped,
               summary="Drop a collection and its files")
async def drop_collection(name: Name, request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "admin", name)
    await state.in_io(state.drop_collection, name)
    return Dropped(dropped=name)


def _safe_filename(name: str | None) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    safe = re.sub(r"[^A-Za-z0-9._\-]+", "_", base).strip("._")
    if not safe:
        raise InputError(f"upload file name {name!r} is empty or unusable: give the file a name "
                         "such as notes.md")
    return safe[:120]


def check_upload(filename: str, data: bytes) -> None:
    """Refuse, before anything is written, a file no loader reads or whose bytes do not match
    its type (a binary file named ``.txt``)."""

    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SUPPORTED_EXTENSIONS:
        raise LimitError(f"{filename}: {unsupported_reason(suffix)}", status=415, param="files")
    if suffix in TEXT_TYPES:
        bad = b"\x00" in data[:65536]
        if not bad:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                bad = True
        if bad:
            raise LimitError(
                f"{filename}: the file is named {suffix} but is not UTF-8 text (it looks binary):"
                " upload the text itself, or give the file its real extension", status=415,
                param="files",
            )
    if suffix == ".pdf" and not data.startswith(b"%PDF"):
        raise LimitError(f"{filename}: not a PDF file (no %PDF header)", status=415,
                         param="files")


@router.post("/v1/collections/{name}/documents", response_model=JobOut, status_code=202,
             summary="Upload files (multipart) and start an ingest job")
async def upload_documents(
    name: Name,
    request: Request,
    key: Caller,
    files: Annotated[list[UploadFile], File(description="Files: .txt .md .html .pdf .csv "
                                                        ".jsonl")],
    text_field: Annotated[str | None, Form(description="CSV/JSONL text column.")] = None,
) -> Any:
    state = _state(request)
    authorize(key, "write", name)
    await state.in_io(state.collection, name)  # 404 before reading the files
    if not files:
        raise InputError("no files uploaded: send one or more 'files' parts")
    check_count(len(files), 100, "files")
    received: list[tuple[str, bytes]] = []
    total = 0
    for f in files:
        data = await f.read()
        total += len(data)
        if total > state.limits.max_upload_bytes:
            raise LimitError(
                f"the upload is over the limit of {state.limits.max_upload_bytes} bytes: send "
                "fewer or smaller files", status=413, param="files",
            )
        fname = _safe_filename(f.filename)
        check_upload(fname, data)
        received.append((fname, data))
    job = await state.in_io(state.jobs.start_ingest, name, received, text_field)
    return job.to_model()


@router.post("/v1/collections/{name}/add", response_model=IdsResponse,
             summary="Add records (texts and/or precomputed embeddings); ids are replaced")
async def add(name: Name, req: AddRequest, request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "write", name)
    check_count(len(req.ids), state.limits.max_batch_texts, "ids")
    if req.texts is None and req.embeddings is None:
        raise InputError("add needs texts or embeddings: give one per id")

    def run() -> list[str]:
        with state.collection(name).writing() as col:
            return col.add(ids=req.ids, texts=req.texts, metadatas=req.metadatas,
                           embeddings=req.embeddings)

    return IdsResponse(ids=await state.in_io(run))


@router.post("/v1/collections/{name}/get", response_model=ChunkList,
             summary="Records by id and/or where filter")
async def get(name: Name, req: GetRequest, request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read", name)
    check_where(req.where, state.limits)
    if req.ids is None and req.where is None and req.limit is None:
        raise InputError("get needs ids, where or limit (to list the first records)")

    def run() -> list[Any]:
        with state.collection(name).reading() as col:
            return col.get(ids=req.ids, where=req.where, limit=req.limit)

    return ChunkList(chunks=[chunk_out(c) for c in await state.in_io(run)])


@router.get("/v1/collections/{name}/chunks/{chunk_id}", response_model=ChunkOut,
            summary="One chunk by id (the web page opens citations with it)")
async def get_chunk(name: Name, chunk_id: str, request: Request,
                    key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read", name)

    def run() -> list[Any]:
        with state.collection(name).reading() as col:
            return col.get(ids=[chunk_id])

    found = await state.in_io(run)
    if not found:
        raise LimitError(f"no chunk {chunk_id!r} in collection {name!r}", status=404,
                         param="chunk_id")
    return chunk_out(found[0])


@router.post("/v1/collections/{name}/update", response_model=UpdateResponse,
             summary="Replace (or merge) the metadata of records by id")
async def update(name: Name, req: UpdateRequest, request: Request,
                 key: Caller) -> Any:
    state = _state(request)
    authorize(key, "write", name)
    check_count(len(req.ids), state.limits.max_batch_texts, "ids")

    def run() -> None:
        with state.collection(name).writing() as col:
            col.update(req.ids, req.metadatas, merge=req.merge)

    await state.in_io(run)
    return UpdateResponse(updated=len(req.ids))


@router.post("/v1/collections/{name}/delete", response_model=DeleteResponse,
             summary="Delete records by id and/or where filter")
async def delete(name: Name, req: DeleteRequest, request: Request,
                 key: Caller) -> Any:
    state = _state(request)
    authorize(key, "write", name)
    check_where(req.where, state.limits)

    def run() -> int:
        with state.collection(name).writing() as col:
            return col.delete(ids=req.ids, where=req.where)

    return DeleteResponse(deleted=await state.in_io(run))


@router.post("/v1/collections/{name}/query", response_model=QueryResponse,
             summary="Search by meaning (text or embedding), filtered, with the plan")
async def query(name: Name, req: QueryRequest, request: Request,
                key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read", name)
    check_k(req.k, state.limits)
    check_where(req.where, state.limits)
    if (req.query is None) == (req.embedding is None):
        raise InputError("query needs exactly one of 'query' (text) or 'embedding'")
    if req.query is not None and not req.query.strip():
        raise InputError("query is blank: give some text to search for")
    oc = await state.in_io(state.collection, name)
    vector = req.embedding
    if req.query is not None and oc.col.model_id == state.embedder.model_id:
        prefix = state.embedder.query_prefix
        vector = (await state.batcher.embed([prefix + req.query]))[0]

    def run() -> Any:
        with oc.reading() as col:
            if vector is not None:
                return col.search(embedding=vector, k=req.k, where=req.where,
                                  strategy=req.strategy, explain=req.explain)
            return col.search(req.query, k=req.k, where=req.where, strategy=req.strategy,
                              explain=req.explain)

    hits = await state.in_io(run)
    plan = getattr(hits, "plan", None)
    return QueryResponse(
        results=[HitOut(**h.to_dict()) for h in hits],
        plan=plan.to_dict() if plan is not None else None,
        plan_text=str(plan) if plan is not None else None,
    )


@router.get("/v1/collections/{name}/map", response_model=MapOut,
            summary="2D map of the collection's embeddings (PCA, or UMAP when installed)")
async def collection_map(
    name: Name, request: Request, key: Caller,
    color_by: Annotated[str | None, Query(max_length=64, description="Metadata field.")] = None,
    sample: Annotated[int, Query(ge=2, le=20_000, description="Most points.")] = 2000,
    method: Annotated[str, Query(pattern="^(auto|pca|umap)$")] = "auto",
) -> Any:
    state = _state(request)
    authorize(key, "read", name)

    def run() -> Any:
        with state.collection(name).reading() as col:
            return build(col, color_by=color_by, sample=sample, method=method)

    result = await state.in_io(run)
    return MapOut(**result.to_dict())


__all__ = ["check_upload", "chunk_out", "router"]
