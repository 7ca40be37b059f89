from __future__ import annotations

import os
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own PONDER_HOME; nothing touches the user's collections."""
    home = tmp_path_factory.mktemp("ponder-home")
    monkeypatch.setenv("PONDER_HOME", str(home))
    monkeypatch.delenv("PONDER_CONFIG", raising=False)
    yield home


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


@pytest.fixture(scope="module")
def one_faiss_thread():
    """FAISS on one OpenMP thread for a module's tests (``pytestmark =
    pytest.mark.usefixtures("one_faiss_thread")``): tiny FAISS jobs on a busy machine are much
    faster without OpenMP's spinning threads."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def dataset(name: str) -> Path:
    path = DATASETS / name
    if not path.exists():
        pytest.skip(f"dataset {name} not found at {path} (../shared/datasets is optional)")
    return path


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
