"""The RAG application as an MLflow model: ``RagModel`` (a pyfunc), ``log_rag_model`` and
``load_rag_model``.

A logged model carries everything it answers with, as artifacts:

- ``snapshot/``: a consistent copy of the collection (``ponder.ops.snapshot``);
- ``generator/``: the GGUF file (or Hugging Face folder) when it is copied, else the model
  is a *reference* that resolves offline (``smollm2``: the pip-installed default, checked
  against its recorded sha256 at load; ``fake``/``toy``: no weights);
- ``ponder_model.json``: the configuration: collection, generator, the ``ask`` options
  (``k``, ``retrieval``, ``chain``, ``answer``... passed through as given) and the lineage.

``predict`` takes a DataFrame with a ``question`` column (or a list of strings) and returns
one row per question: ``question``, ``answer``, ``status``, ``mode``, ``citations`` (JSON,
as ``ponder ask --json``), ``unsupported`` (JSON list) and ``lineage`` (JSON). With greedy
decoding the answers are those of ``ponder ask`` on the same collection with the same
options.

``RagService`` is the same thing without MLflow (``answer(question) -> Answer``): what
``load_rag_model(uri)`` returns, for a server that wants the full ``Answer``.

>>> import tempfile
>>> from ponder.embed.fake import HashEmbedder
>>> from ponder.store.collection import Collection
>>> from ponder.ops.snapshot import snapshot_collection
>>> home = tempfile.mkdtemp()
>>> with Collection.create("kb", home=home, embedder=HashEmbedder(dim=32)) as c:
...     _ = c.add(ids=["tea"], texts=["Tea is made from the leaves of Camellia sinensis."])
>>> snap = snapshot_collection("kb", tempfile.mkdtemp(), home=home)
>>> svc = RagService(snap.folder, generator="fake", ask_options={"min_score": -1,
...                  "answer": "generative"})
>>> row = svc.predict(["What is tea made from?"])[0]
>>> row["answer"], row["status"], json.loads(row["lineage"])["collection"]
('This is a scripted reply.', 'answered', 'kb')
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ponder
from ponder.config import load_settings
from ponder.errors import ConfigError, InputError, ModelError, ModelNotFoundError
from ponder.llm import load_generator
from ponder.llm.llamacpp import default_model_path
from ponder.ops.lineage import Lineage, file_sha256, prompt_template_version
from ponder.ops.registry import check_model_uri, set_version_tags
from ponder.ops.snapshot import open_snapshot, read_snapshot, snapshot_collection
from ponder.ops.tracking import (
    MODEL_EXPERIMENT,
    experiment_id,
    latest_eval_run,
    mlflow_module,
    param_values,
    use_store,
)
from ponder.rag.ask import AskConfig, ask

CONFIG_FILE = "ponder_model.json"
ARTIFACT_PATH = "rag"
OUTPUT_COLUMNS = ("question", "answer", "status", "mode", "citations", "unsupported", "lineage")
_NAMED = ("smollm2", "default", "smollm2-135m")
_NO_WEIGHTS = ("fake", "scripted", "toy")


# ------------------------------------------------------------------------------ generator
def generator_file(spec: str) -> Path | None:
    """The weights file or folder behind a generator spec (``None`` for fakes and servers)."""
    low = spec.strip().lower()
    if low in _NO_WEIGHTS or low.startswith("openai:"):
        return None
    if low in _NAMED:
        return default_model_path()
    path = Path(spec).expanduser()
    if path.is_file() or path.is_dir():
        return path
    raise ModelNotFoundError(
        f"model {spec!r} not found: give an existing .gguf file or Hugging Face folder, "
        "'smollm2' for the embedded default, or 'fake' for tests"
    )


def weights_sha256(path: Path | None) -> str:
    """sha256 of a GGUF file; of a folder's ``*.safetensors``/``*.gguf``/``config.json``."""
    if path is None:
        return ""
    if path.is_file():
        return file_sha256(path)

    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and (f.suffix in (".safetensors", ".gguf", ".bin") or
                            f.name == "config.json"):
            h.update(f.relative_to(path).as_posix().encode() + file_sha256(f).encode())
    return h.hexdigest()


def _generator_id(spec: str) -> str:
    return str(load_generator(spec).model_id or spec)


# ------------------------------------------------------------------------------ the service
def _check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validate ask options against ``AskConfig`` (unknown names are refused, naming them)."""

    AskConfig().replace(**_as_ask_values(options))
    return dict(options)


def _as_ask_values(options: dict[str, Any]) -> dict[str, Any]:
    out = dict(options)
    for key in ("weights", "canaries"):
        if isinstance(out.get(key), list):
            out[key] = tuple(out[key])
    return out


def questions_of(model_input: Any, column: str = "question") -> list[str]:
    """Questions from a DataFrame column, a dict of lists, a list or a single string.

    >>> questions_of(["a?", "b?"]), questions_of("c?"), questions_of({"question": ["d?"]})
    (['a?', 'b?'], ['c?'], ['d?'])
    """
    if isinstance(model_input, str):
        return [model_input]
    if isinstance(model_input, dict):
        if column not in model_input:
            raise InputError(
                f"the input has no {column!r} field (it has {sorted(model_input)}): send "
                f'{{"{column}": ["your question"]}}'
            )
        value = model_input[column]
        return [value] if isinstance(value, str) else [str(v) for v in value]
    columns = getattr(model_input, "columns", None)
    if columns is not None:
        if column not in columns:
            raise InputError(
                f"the input DataFrame has no {column!r} column (it has {list(columns)}): "
                f"name the questions' column {column!r}"
            )
        return [str(v) for v in model_input[column].tolist()]
    return [str(v) for v in model_input]


class RagService:
    """Answers questions from a snapshot with a generator and ask options (no MLflow)."""

    def __init__(
        self,
        snapshot: str | Path,
        *,
        generator: str,
        ask_options: dict[str, Any] | None = None,
        generator_sha256: str = "",
        lineage: Lineage | None = None,
    ) -> None:
        self.snapshot = read_snapshot(snapshot)
        self.collection = open_snapshot(snapshot)
        self.options = _check_options(ask_options or {})
        if generator_sha256:
            found = weights_sha256(generator_file(generator))
            if found != generator_sha256:
                self.collection.close()
                raise ModelError(
                    f"the generator {generator!r} resolves to weights with sha256 {found[:12]}…, "
                    f"not the {generator_sha256[:12]}… this model was logged with: install the "
                    "same model, or log the model again with --copy-generator"
                )
        self.generator = load_generator(generator)
        self.lineage = lineage or Lineage(
            collection=self.snapshot.name, catalog_version=self.snapshot.catalog_version,
            embedder_id=self.snapshot.model_id, generator_spec=generator,
            generator_id=str(self.generator.model_id or generator),
            generator_sha256=generator_sha256, prompt_template_version=prompt_template_version(),
            ask_options=self.options,
        )
        self._lineage_json = json.dumps(self.lineage.to_dict(), sort_keys=True)

    def answer(self, question: str, *, stream_to: Any = None, **overrides: Any) -> Any:
        """The full ``Answer`` to one question (``overrides``: ask options for this call;
        ``stream_to``: as ``ponder.ask``'s, for a server that streams)."""

        options = _as_ask_values({**self.options, **overrides})
        return ask(question, collection=self.collection, model=self.generator,
                   stream_to=stream_to, **options)

    def row(self, question: str) -> dict[str, str]:
        a = self.answer(question)
        return {
            "question": question,
            "answer": a.text,
            "status": a.status,
            "mode": str(getattr(a, "mode", "generative")),
            "citations": json.dumps([c.to_dict() for c in a.citations], ensure_ascii=False),
            "unsupported": json.dumps(list(a.unsupported), ensure_ascii=False),
            "lineage": self._lineage_json,
        }

    def predict(self, questions: Any) -> list[dict[str, str]]:
        """One output row (see ``OUTPUT_COLUMNS``) per question."""
        return [self.row(q) for q in questions_of(questions)]

    def close(self) -> None:
        self.collection.close()


def service_from_model_dir(config_path: str | Path, snapshot: str | Path,
                           generator_path: str | Path | None = None) -> RagService:
    """A ``RagService`` from a logged model's artifacts."""
    cfg = json.loads(Path(config_path).read_text(encoding="utf-8"))
    spec = str(generator_path) if generator_path else cfg["generator"]
    lineage = Lineage(**cfg["lineage"])
    return RagService(
        snapshot, generator=spec, ask_options=cfg["ask_options"],
        generator_sha256="" if generator_path else cfg.get("generator_sha256", ""),
        lineage=lineage,
    )


# ------------------------------------------------------------------------------ MLflow
def signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "question")]),
        outputs=Schema([ColSpec("string", c) for c in OUTPUT_COLUMNS]),
    )


@dataclass(frozen=True)
class LoggedModel:
    """A logged and registered model version."""

    name: str
    version: str
    run_id: str
    model_uri: str
    lineage: Lineage
    eval_run_id: str | None
    snapshot_chunks: int
    generator_copied: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["registered_uri"] = f"models:/{self.name}/{self.version}"
        return d


def log_rag_model(
    collection: str,
    name: str,
    *,
    model: str | None = None,
    ask_options: dict[str, Any] | None = None,
    copy_generator: bool | None = None,
    eval_run: str | None = None,
    description: str = "",
    home: str | Path | None = None,
    example_question: str = "What is this collection about?",
) -> LoggedModel:
    """Log the RAG application over ``collection`` as a pyfunc and register it as a new
    version of ``name``.

    ``model``: a ``load_generator`` spec (default: settings). ``copy_generator``: put the
    weights into the artifacts (default: yes for a file or folder given by path, no for the
    named default ``smollm2``, which is referenced and hash-checked). ``eval_run``: the id of
    the evaluation run whose metrics gate promotions (``latest``: the newest run on this
    collection). ``ask_options``: ``AskConfig`` fields, validated now.
    """
    from ponder.ops.pyfunc import RagModel

    mlflow = mlflow_module()
    settings = load_settings(home=str(home) if home else None)
    spec = (model or settings.model).strip()
    options = _check_options(ask_options or {})
    weights = generator_file(spec)
    if copy_generator is None:
        copy_generator = weights is not None and spec.lower() not in _NAMED
    if copy_generator and weights is None:
        raise ConfigError(f"--copy-generator: model {spec!r} has no weights file to copy")
    sha = weights_sha256(weights)
    run_ref = eval_run
    if eval_run == "latest":
        run_ref = latest_eval_run(collection, home)
        if run_ref is None:
            raise InputError(
                f"no finished evaluation run on collection {collection!r}: run an evaluation "
                "with --mlflow first (e.g. ponder eval retrieval --mlflow), or leave out "
                "--eval-run"
            )
    uri = use_store(settings.home)
    exp = experiment_id(MODEL_EXPERIMENT, settings.home)
    client = mlflow.MlflowClient(uri)
    if run_ref:
        _check_run(client, run_ref)
    with tempfile.TemporaryDirectory(prefix="ponder-model-") as tmp:
        folder = Path(tmp)
        snap = snapshot_collection(collection, folder / "snapshot", home=settings.home)
        lineage = Lineage(
            collection=collection, catalog_version=snap.catalog_version,
            embedder_id=snap.model_id, generator_spec=spec, generator_id=_generator_id(spec),
            generator_sha256=sha, prompt_template_version=prompt_template_version(),
            ask_options=options, ponder_version=ponder.__version__,
        )
        artifacts = {"snapshot": str(folder / "snapshot"), "config": str(folder / CONFIG_FILE)}
        if copy_generator:
            assert weights is not None
            target = folder / "generator" / weights.name
            target.parent.mkdir()
            if weights.is_dir():
                shutil.copytree(weights, target)
            else:
                shutil.copy2(weights, target)
            artifacts["generator"] = str(target)
        (folder / CONFIG_FILE).write_text(json.dumps({
            "collection": collection, "generator": spec, "generator_sha256": sha,
            "generator_copied": bool(copy_generator), "ask_options": options,
            "lineage": lineage.to_dict(), "snapshot": snap.to_dict(),
        }, indent=2) + "\n", encoding="utf-8")
        import pandas as pd

        with mlflow.start_run(experiment_id=exp, run_name=f"log-model-{name}") as run:
            mlflow.log_params(param_values({
                "collection": collection, "generator": spec, "generator_id":
                lineage.generator_id, "embedder_id": snap.model_id, "ask": options,
                "catalog_version": snap.catalog_version, "chunks": snap.chunks,
                "generator_copied": bool(copy_generator),
            }))
            mlflow.set_tags({"ponder.kind": "model", **lineage.to_tags(),
                             **({"ponder.eval_run_id": run_ref} if run_ref else {})})
            with quiet_mlflow():
                info = mlflow.pyfunc.log_model(
                    name=ARTIFACT_PATH,
                    python_model=RagModel(),
                    artifacts=artifacts,
                    signature=signature(),
                    input_example=pd.DataFrame({"question": [example_question]}),
                    registered_model_name=name,
                    pip_requirements=[f"mlflow=={mlflow.__version__}", "pandas", "pyarrow",
                                      f"ponder=={ponder.__version__}"],
                )
    version = str(info.registered_model_version)
    tags = {**lineage.to_tags(), "ponder.collection": collection}
    if run_ref:
        tags["ponder.eval_run_id"] = run_ref
    set_version_tags(client, name, version, tags)
    if description:
        client.update_model_version(name, version, description=description)
    return LoggedModel(
        name=name, version=version, run_id=run.info.run_id, model_uri=info.model_uri,
        lineage=lineage, eval_run_id=run_ref, snapshot_chunks=snap.chunks,
        generator_copied=bool(copy_generator),
    )


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Hide what MLflow prints while logging a model: the cloudpickle notice (the class is
    pickled by reference to ``ponder.ops.pyfunc``), the type-hint hint (the signature is
    explicit) and the "registered model" lines (Ponder prints its own)."""

    log = logging.getLogger("mlflow")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        log.setLevel(level)


def _check_run(client: Any, run_id: str) -> None:
    try:
        client.get_run(run_id)
    except Exception as e:
        raise InputError(
            f"evaluation run {run_id!r} not found in the tracking store ({type(e).__name__}): "
            "give a run id printed by an evaluation with --mlflow, or 'latest'"
        ) from None


def load_rag_model(uri: str) -> RagService:
    """Load a logged RAG model (``models:/NAME@champion``, ``models:/NAME/3``, ``runs:/...``)
    and return its ``RagService`` (``.predict(questions)`` rows, ``.answer(q)`` ``Answer``).
    Unknown names, versions and aliases raise ``ModelNotFoundError`` saying what exists."""

    mlflow = mlflow_module()
    use_store()
    check_model_uri(uri)
    loaded = mlflow.pyfunc.load_model(uri)
    python_model = loaded.unwrap_python_model()
    service = getattr(python_model, "service", None)
    if not isinstance(service, RagService):
        raise ModelNotFoundError(
            f"{uri} is not a Ponder RAG model: log one with ponder ops log-model"
        )
    return service


__all__ = [
    "ARTIFACT_PATH",
    "CONFIG_FILE",
    "OUTPUT_COLUMNS",
    "LoggedModel",
    "RagService",
    "generator_file",
    "load_rag_model",
    "log_rag_model",
    "questions_of",
    "service_from_model_dir",
    "signature",
]
