"""Ingest jobs: uploaded files are saved under ``$PONDER_HOME/uploads/COLLECTION/`` and
ingested on a background thread (one job at a time), through the collection's own ingest
pipeline; ``GET /v1/jobs/{id}`` reports progress and, at the end, the ingest report.

Re-uploading a file of the same name replaces its document (ingest is idempotent); a file a
loader cannot read is reported in ``report.skipped`` and the others are ingested.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from ponder.ingest.pipeline import IngestProgress
from ponder.server.auth import Caller, authorize
from ponder.server.limits import LimitError
from ponder.server.schemas import ErrorResponse, JobOut

if TYPE_CHECKING:
    from ponder.server.state import ServerState

router = APIRouter(tags=["Jobs"], responses={"4XX": {"model": ErrorResponse}})
MAX_JOBS_KEPT = 200


@dataclass
class Job:
    """One ingest job and its progress (updated from the job's thread)."""

    id: str
    collection: str
    files: list[str]
    status: str = "queued"
    files_total: int = 0
    files_done: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def progress(self) -> float:
        if self.status == "done":
            return 1.0
        files = self.files_done / self.files_total if self.files_total else 0.0
        chunks = self.chunks_done / self.chunks_total if self.chunks_total else 0.0
        return round(min(0.99, 0.5 * files + 0.5 * chunks), 3)

    def to_model(self) -> JobOut:
        return JobOut(
            id=self.id, collection=self.collection,
            status=self.status,  # type: ignore[arg-type]
            files=list(self.files), files_total=self.files_total, files_done=self.files_done,
            chunks_total=self.chunks_total, chunks_done=self.chunks_done,
            progress=self.progress, report=self.report, error=self.error,
            created=self.created, finished=self.finished,
        )


class _Progress(IngestProgress):
    def __init__(self, job: Job) -> None:
        self.job = job

    def files_total(self, n: int) -> None:
        self.job.files_total = n

    def file_done(self, source: str) -> None:
        self.job.files_done += 1

    def chunks_found(self, n: int) -> None:
        self.job.chunks_total += n

    def chunks_done(self, n: int) -> None:
        self.job.chunks_done += n


def report_dict(report: Any) -> dict[str, Any]:
    return {
        "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "removed": report.removed, "chunks": report.chunks,
        "chunks_embedded": report.chunks_embedded,
        "skipped": [{"source": Path(s).name, "reason": r} for s, r in report.skipped],
        "seconds": round(report.seconds, 3),
    }


class JobManager:
    """Runs ingest jobs one at a time on a background thread."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ponder-ingest")

    def start_ingest(self, collection: str, files: list[tuple[str, bytes]],
                     text_field: str | None) -> Job:
        """Save ``files`` (name, bytes) and queue their ingest into ``collection``."""
        folder = Path(self.state.home) / "uploads" / collection
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, data in files:
            path = folder / name
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
            paths.append(path)
        job = Job(uuid.uuid4().hex[:16], collection, [n for n, _ in files])
        with self._lock:
            self.jobs[job.id] = job
            for old in list(self.jobs)[:-MAX_JOBS_KEPT]:
                if self.jobs[old].status in ("done", "failed"):
                    del self.jobs[old]
        self._executor.submit(self._run, job, paths, text_field)
        return job

    def _run(self, job: Job, paths: list[Path], text_field: str | None) -> None:
        from ponder.store.collection import Collection

        state = self.state
        job.status = "running"
        state.metrics.jobs.inc()
        try:
            col = Collection.open(job.collection, home=state.home,
                                  embedder=state._embedder_for(job.collection))
            try:
                report = col.ingest(paths, text_field=text_field, progress=_Progress(job))
            finally:
                col.close()
            job.report = report_dict(report)
            job.status = "done"
        except Exception as e:  # reported by GET /v1/jobs/ID
            job.error = f"{type(e).__name__}: {e}"
            job.status = "failed"
        finally:
            job.finished = time.time()
            state.metrics.jobs.dec()

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise LimitError(f"no job {job_id!r}: jobs are kept in memory until the server "
                             "restarts", status=404, param="job_id")
        return job

    def running_for(self, collection: str) -> bool:
        return any(j.collection == collection and j.status in ("queued", "running")
                   for j in list(self.jobs.values()))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


@router.get("/v1/jobs/{job_id}", response_model=JobOut,
            summary="Progress of an ingest job, and its report when done")
async def get_job(job_id: str, request: Request, key: Caller) -> Any:
    state = request.app.state.ponder
    authorize(key, "read")
    job = state.jobs.get(job_id)
    authorize(key, "read", job.collection)
    return job.to_model()


__all__ = ["Job", "JobManager", "router"]
