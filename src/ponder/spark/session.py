"""The SparkSession Ponder's jobs run on, and the checks before starting one.

``get_spark(master)`` checks that Java 17 or newer is present (PySpark 4 needs it), then
builds (or reuses) a session set for Ponder's UDFs: Arrow on, Python workers reused (so a
model loaded by a worker serves every later task of that worker), the driver bound to
loopback in local mode, no UI, few shuffle partitions, and the workers running this very
interpreter (``PYSPARK_PYTHON``), so they import the same ``ponder``.

>>> java_major('openjdk version "17.0.9" 2023-10-17')
17
>>> java_major('java version "1.8.0_381"')
8
>>> check_columns(["text", "id"], ["text"], what="embed")
>>> check_columns(["body"], ["text"], what="embed")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.InputError: embed: the DataFrame has no column 'text' (its columns: 'body'); ...
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ponder.errors import BackendUnavailableError, InputError

MIN_JAVA = 17
_CACHE: dict[str, int] = {}


def java_major(version_text: str) -> int | None:
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        if os.path.isfile(candidate):
            return candidate
    return shutil.which("java")


def check_java() -> int:
    """The Java major version, or ``BackendUnavailableError`` saying how to install it."""
    java = java_binary()
    fix = ("install Java 17 (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; "
           "make test does it) or point JAVA_HOME at one")
    if java is None:
        raise BackendUnavailableError(f"Java not found (Spark needs Java {MIN_JAVA}+): {fix}")
    if java in _CACHE:
        return _CACHE[java]
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BackendUnavailableError(f"cannot run {java} -version ({e}): {fix}") from None
    major = java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        raise BackendUnavailableError(
            f"{java} is Java {major or 'of unknown version'}; Spark needs {MIN_JAVA}+: {fix}"
        )
    _CACHE[java] = major
    return major


def get_spark(
    master: str = "local[2]",
    *,
    app_name: str = "ponder",
    conf: Mapping[str, str] | None = None,
) -> Any:
    """A SparkSession on ``master`` (an existing active session is reused as it is)."""
    check_java()
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise BackendUnavailableError(
            f"PySpark is not installed ({e}): pip install 'ponder[ops]'"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1024")
    )
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def check_columns(columns: Iterable[str], needed: Iterable[str | None], *, what: str) -> None:
    """An ``InputError`` naming the first missing column and the columns there are."""
    have = list(columns)
    for name in needed:
        if name is not None and name not in have:
            listing = ", ".join(repr(c) for c in have[:30])
            raise InputError(
                f"{what}: the DataFrame has no column {name!r} (its columns: {listing}); "
                "name the right column (e.g. --text-col / text_col=)"
            )


__all__ = ["MIN_JAVA", "check_columns", "check_java", "get_spark", "java_major"]
