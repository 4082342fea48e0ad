"""SQL sources on the real PostgreSQL (a table of scikit-learn's wine data made for the test) and on
SQLite files: chunked reads, read-only sessions, refused statements and connection failures.

The test server trusts 127.0.0.1 (pg_hba "trust"), so a wrong password cannot be refused there;
wrong credentials are tested with a role and a database that do not exist."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from services.ingest.engine import ROW_COLUMN, columns_of
from services.ingest.engine.sql_guard import check_query, split_table
from services.ingest.engine.sql_source import read_sql
from tests.conftest import pg_test_url
from tests.ingest.engine_fixtures import breast_cancer, diabetes, engine, wine
from tests.ingest.engine_io_fixtures import rows

SECRET = "Sekret-Passw0rd"


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def _pg_url() -> str:
    """The test server's URL as a source would give it (no driver, no password)."""
    return make_url(pg_test_url()).set(drivername="postgresql").render_as_string()


@pytest.fixture(scope="module")
def pg() -> Iterator[dict[str, str]]:
    """Tables made for this module on the real PostgreSQL, dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    names = {
        "wine": f"aimass_wine_{suffix}",
        "schema": f"Sales_{suffix}",
        "types": f"aimass_types_{suffix}",
        "seq": f"aimass_seq_{suffix}",
    }
    admin = sa.create_engine(make_url(_pg_url()).set(drivername="postgresql+psycopg"))
    wine().to_sql(names["wine"], admin, index=False)
    frame = diabetes().head(40)
    with admin.begin() as db:
        db.exec_driver_sql(f'CREATE SCHEMA "{names["schema"]}"')
        db.exec_driver_sql(
            f'CREATE TABLE "{names["schema"]}"."Orders" AS SELECT * FROM "{names["wine"]}" '
            "WHERE alcohol > 13.5"
        )
        db.exec_driver_sql(
            f'CREATE TABLE "{names["types"]}" (id integer, born date, seen timestamptz, '
            "amount numeric(10, 2), flag boolean, label text, doc jsonb, nothing text)"
        )
        for index, row in frame.iterrows():
            db.execute(
                sa.text(
                    f"INSERT INTO \"{names['types']}\" VALUES (:id, DATE '1950-01-01' + :age, "
                    "TIMESTAMPTZ '2024-01-01 00:00:00+00' + make_interval(hours => :age), "
                    ":bmi, :flag, :label, CAST(:doc AS jsonb), NULL)"
                ),
                {
                    "id": int(index),
                    "age": int(row["age"]),
                    "bmi": float(row["bmi"]),
                    "flag": bool(row["sex"] == 2),
                    "label": f"s{int(row['sex'])}",
                    "doc": f'{{"bp": {float(row["bp"])}}}',
                },
            )
        db.exec_driver_sql(f'CREATE SEQUENCE "{names["seq"]}"')
    yield names
    with admin.begin() as db:
        db.exec_driver_sql(f'DROP TABLE "{names["wine"]}"')
        db.exec_driver_sql(f'DROP TABLE "{names["types"]}"')
        db.exec_driver_sql(f'DROP SCHEMA "{names["schema"]}" CASCADE')
        db.exec_driver_sql(f'DROP SEQUENCE "{names["seq"]}"')
    admin.dispose()


def _read(con, tmp_path: Path, password: str | None = None, on_rows=None, **source):
    source.setdefault("url", _pg_url())
    return read_sql(con, "db", pb.SqlSource(**source), password, tmp_path / "sql", "q", on_rows)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_postgres_table_read_in_chunks(con, tmp_path, pg):
    seen: list[int] = []
    result = _read(con, tmp_path, table=pg["wine"], chunk_rows=50, on_rows=seen.append)
    assert seen == [50, 100, 150, 178]
    assert len(list((tmp_path / "sql").glob("*.parquet"))) == 4
    table = rows(con, result.view)
    assert table[ROW_COLUMN].tolist() == list(range(178))
    pd.testing.assert_frame_equal(
        _sorted(table.drop(columns=[ROW_COLUMN])), _sorted(wine()), check_dtype=False
    )
    assert result.resolved.chunk_rows == 50 and result.bytes_total == 0
    assert _read(con, tmp_path / "2", table=pg["wine"]).resolved.chunk_rows == 50_000


def test_postgres_query(con, tmp_path, pg):
    query = (
        f"SELECT alcohol, proline::int AS proline, 'a:b %' AS note FROM \"{pg['wine']}\" "
        "WHERE alcohol > 14 AND 'x' LIKE '%';"
    )
    table = rows(con, _read(con, tmp_path, query=query).view)
    expected = wine().query("alcohol > 14")
    assert sorted(table["alcohol"]) == sorted(expected["alcohol"])
    assert set(table["note"]) == {"a:b %"}
    assert columns_of(con, _read(con, tmp_path / "2", query=query).view)["proline"] == "BIGINT"


def test_schema_qualified_and_quoted_table(con, tmp_path, pg):
    result = _read(con, tmp_path, table=f'"{pg["schema"]}"."Orders"')
    assert len(rows(con, result.view)) == int((wine()["alcohol"] > 13.5).sum())
    assert split_table('public."my.table"') == ("public", "my.table")
    assert split_table("orders") == (None, "orders")
    with pytest.raises(InvalidArgument, match="schema-qualified"):
        split_table("a.b.c")


def test_postgres_types(con, tmp_path, pg):
    result = _read(con, tmp_path, table=pg["types"], chunk_rows=15)
    types = columns_of(con, result.view)
    assert types["born"] == "DATE"
    assert types["seen"] == "TIMESTAMP WITH TIME ZONE"
    assert types["amount"].startswith("DECIMAL")
    assert types["flag"] == "BOOLEAN"
    assert types["label"] == types["doc"] == "VARCHAR"
    table = rows(con, result.view)
    assert table["nothing"].isna().all()
    assert table["doc"].str.startswith('{"bp": ').all()
    assert len(table) == 40


def test_the_session_is_read_only(con, tmp_path, pg):
    with pytest.raises(InvalidArgument, match="read-only transaction"):
        _read(con, tmp_path, query=f"SELECT nextval('\"{pg['seq']}\"')")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT 1; DROP TABLE x", "must be one statement"),
        ("DELETE FROM x", "must be a read-only SELECT"),
        ("UPDATE x SET a = 1", "must be a read-only SELECT"),
        ("CREATE TABLE y AS SELECT 1", "must be a read-only SELECT"),
        ("WITH d AS (DELETE FROM x RETURNING *) SELECT * FROM d", "DELETE is not allowed"),
        ("SELECT * INTO new_table FROM x", "INTO is not allowed"),
        ("SELECT * FROM x FOR UPDATE", "UPDATE is not allowed"),
        ("EXPLAIN SELECT 1", "must be a read-only SELECT"),
        ("   ", "must be a read-only SELECT"),
    ],
)
def test_statements_that_are_not_one_select_are_refused(query, message):
    with pytest.raises(InvalidArgument, match=message):
        check_query(query)


def test_strings_and_comments_do_not_count():
    kept = "SELECT 'a; delete' AS x -- ; drop"
    assert check_query(kept + "\n;") == kept
    assert check_query('/* update; */ WITH t AS (SELECT 1 AS "into") SELECT * FROM t')


def test_missing_table(con, tmp_path, pg):
    with pytest.raises(NotFound, match="table 'no_such_table' does not exist"):
        _read(con, tmp_path, table="no_such_table")
    with pytest.raises(InvalidArgument, match='relation "no_such_table" does not exist'):
        _read(con, tmp_path, query="SELECT * FROM no_such_table")


def test_a_password_in_the_url_is_refused(con, tmp_path):
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/test"
    with pytest.raises(InvalidArgument, match="contains a password") as caught:
        _read(con, tmp_path, url=url, table="x")
    assert SECRET not in caught.value.message


def test_wrong_credentials(con, tmp_path):
    base = make_url(_pg_url())
    no_role = base.set(username=f"nobody_{uuid.uuid4().hex[:8]}").render_as_string()
    with pytest.raises(FailedPrecondition, match="does not exist.*check the user name") as caught:
        _read(con, tmp_path, SECRET, url=no_role, table="x")
    assert SECRET not in caught.value.message
    no_database = base.set(database=f"nodb_{uuid.uuid4().hex[:8]}").render_as_string()
    with pytest.raises(FailedPrecondition, match="database .* does not exist"):
        _read(con, tmp_path, SECRET, url=no_database, table="x")


def test_unreachable_database(con, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{port}/test"
    with pytest.raises(Unavailable, match="cannot reach .*check the host, port") as caught:
        _read(con, tmp_path, SECRET, url=url, table="x")
    assert SECRET not in caught.value.message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a SQLAlchemy URL"),
        ("oracle://reader@db/sales", "'oracle' databases are not supported"),
        ("sqlite://", "names no database file"),
    ],
)
def test_bad_urls(con, tmp_path, url, message):
    with pytest.raises(InvalidArgument, match=message):
        _read(con, tmp_path, url=url, table="x")


def test_empty_results_and_duplicate_names(con, tmp_path, pg):
    with pytest.raises(InvalidArgument, match="the query has no rows"):
        _read(con, tmp_path, query=f'SELECT * FROM "{pg["wine"]}" WHERE alcohol < 0')
    with pytest.raises(InvalidArgument, match="two columns named 'alcohol'"):
        _read(con, tmp_path, query=f'SELECT alcohol, alcohol FROM "{pg["wine"]}"')
    with pytest.raises(InvalidArgument, match="'_split' is reserved"):
        _read(con, tmp_path, query=f'SELECT alcohol AS _split FROM "{pg["wine"]}"')


def test_sqlite_file(con, tmp_path):
    path = tmp_path / "cancer.db"
    writer = sa.create_engine(f"sqlite:///{path}")
    breast_cancer().to_sql("cancer", writer, index=False)
    writer.dispose()
    url = f"sqlite:///{path}"
    table = rows(con, _read(con, tmp_path, url=url, table="cancer", chunk_rows=100).view)
    pd.testing.assert_frame_equal(
        table.drop(columns=[ROW_COLUMN]), breast_cancer(), check_dtype=False
    )
    query = 'SELECT "mean radius", target FROM cancer WHERE target = 1'
    result = _read(con, tmp_path / "2", url=url, query=query)
    assert len(rows(con, result.view)) == int(breast_cancer()["target"].sum())
    missing = tmp_path / "missing.db"
    with pytest.raises(NotFound, match="SQLite file does not exist"):
        _read(con, tmp_path, url=f"sqlite:///{missing}", table="cancer")
    assert not missing.exists()  # read-only: never created


def test_sample_rows_stops_early(con, tmp_path, pg):
    result = read_sql(
        con,
        "db",
        pb.SqlSource(url=_pg_url(), table=pg["wine"], chunk_rows=50),
        None,
        tmp_path / "sql",
        "q",
        sample_rows=20,
    )
    assert len(rows(con, result.view)) == 20
