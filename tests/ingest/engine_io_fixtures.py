"""Helpers for the reader, SQL, split, profile and writer tests: scikit-learn's bundled data sets
written out as files in the formats the readers take, and small accessors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from aimass.ingest.v1 import ingest_pb2 as pb
from services.ingest.engine import ROW_COLUMN, quote_ident
from services.ingest.engine.readers import ReadResult, read_file
from tests.ingest.engine_fixtures import iris

FAIL = pb.MALFORMED_ROW_POLICY_FAIL
SKIP = pb.MALFORMED_ROW_POLICY_SKIP


def rows(con: duckdb.DuckDBPyConnection, view: str) -> pd.DataFrame:
    """The view in ROW_COLUMN order (test data is small)."""
    return con.execute(f"SELECT * FROM {quote_ident(view)} ORDER BY {quote_ident(ROW_COLUMN)}").df()


def count(con: duckdb.DuckDBPyConnection, view: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {quote_ident(view)}").fetchall()[0][0])


def read(
    con: duckdb.DuckDBPyConnection,
    location: Path | str,
    source: pb.FileSource | None = None,
    policy: pb.MalformedRowPolicy = FAIL,
    max_bytes: int = 0,
    sample_rows: int = 0,
) -> ReadResult:
    """Read a file as a URL source (messages name the file); pass upload_id to read it as an
    upload (messages name the source). Then every row of every column is scanned once, as the
    job's writing pass does, so a malformed row in a CSV parsed on every scan fails here too,
    with the message the pipeline gives it."""
    source = source or pb.FileSource()
    if not source.WhichOneof("location"):
        source.url = str(location)
    result = read_file(
        con,
        "src",
        source,
        str(location),
        policy,
        max_bytes,
        "t",
        sample_rows=sample_rows,
    )
    try:
        con.sql(f"SELECT * FROM {quote_ident(result.view)}").to_arrow_table()
    except duckdb.Error as exc:
        failure = result.csv_error(exc)
        if failure is None:
            raise
        raise failure from exc
    return result


def iris_named() -> pd.DataFrame:
    """Iris with French species names, so the text has accents (é, è) for encoding tests."""
    frame = iris()
    names = {"setosa": "sétosa", "versicolor": "versicolore", "virginica": "virginique è"}
    frame["species"] = frame["species"].map(names)
    return frame


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The read rows equal the frame written (ROW_COLUMN dropped; dtypes may differ)."""
    actual = actual.drop(columns=[ROW_COLUMN]).reset_index(drop=True)
    assert list(actual.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(
        actual, expected.reset_index(drop=True), check_dtype=False, check_exact=False
    )
