"""One SparkSession (local[2]) for every Spark test of the run: starting one costs seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from ponder.errors import BackendUnavailableError
    from ponder.spark.session import get_spark

    try:
        session = get_spark("local[2]", app_name="ponder-tests")
    except BackendUnavailableError as e:  # Java missing: make test installs it
        pytest.skip(str(e))
    yield session
    session.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # PySpark 4.3 warns on every pandas UDF that pandas 3 is not fully supported; the tests
    # here check the results themselves
    mark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")
    for item in items:
        if "/spark/" in str(item.path):
            item.add_marker(mark)
