"""SQL sources on the real MariaDB (the MySQL protocol, through PyMySQL): scikit-learn's wine and
diabetes data in tables made for this module, read as tables and as queries in chunks; MySQL's
types; read-only sessions and statements refused the way MySQL reads them; timeouts; wrong
credentials, unreachable or silent servers and missing tables, never with the password shown.

The test server's root has no password over TCP (scripts/test.sh sees to it); the credentials tests
use a user made here with a password and SELECT on one table only."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import AimassError
from services.ingest import probes
from services.ingest.engine import ROW_COLUMN, columns_of, sql_source
from services.ingest.engine.sql_guard import check_query, split_table
from services.ingest.engine.sql_source import read_sql
from services.ingest.recipes import validate_sql
from services.ingest.urls import UrlPolicy
from tests.ingest.engine_fixtures import diabetes, engine, wine
from tests.ingest.engine_io_fixtures import rows

SECRET = "Sekret-Passw0rd"
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def _refused(read: Callable[[], object], code: grpc.StatusCode, *fragments: str) -> str:
    """As tests.helpers.refused, for an engine call: the error's status code and every fragment
    in its message; returns the message."""
    with pytest.raises(AimassError) as error:
        read()
    message = error.value.message
    assert error.value.code == code, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.fixture(scope="module")
def my(mysql_url: str) -> Iterator[dict[str, Any]]:
    """Tables, a function and a user made for this module on the real MariaDB, dropped afterwards.
    `url` is the server as a source gives it (no driver, no password), `password` its password,
    `admin` the URL the tests set up and check with."""
    given = make_url(mysql_url)
    suffix = uuid.uuid4().hex[:10]
    names: dict[str, Any] = {
        "url": given.set(drivername="mysql", password=None).render_as_string(),
        "admin": given.set(drivername="mysql+pymysql").render_as_string(hide_password=False),
        "password": given.password,
        "database": given.database,
        "wine": f"aimass_wine_{suffix}",
        "types": f"aimass_types_{suffix}",
        "scratch": f"aimass_scratch_{suffix}",
        "function": f"aimass_forget_{suffix}",
        "reader": f"aimass_r_{suffix}",
    }
    admin = sa.create_engine(names["admin"])
    try:
        _make_tables(admin, names)
        yield names
    finally:
        with admin.begin() as db:
            db.execute(sa.text(f"DROP USER IF EXISTS '{names['reader']}'@'%'"))
            db.exec_driver_sql(f"DROP FUNCTION IF EXISTS `{names['function']}`")
            for table in ("wine", "types", "scratch"):
                db.exec_driver_sql(f"DROP TABLE IF EXISTS `{names[table]}`")
        admin.dispose()


def _make_tables(admin: sa.Engine, names: dict[str, Any]) -> None:
    wine().to_sql(names["wine"], admin, index=False)
    frame = diabetes().head(40)
    with admin.begin() as db:
        db.exec_driver_sql(
            f"CREATE TABLE `{names['types']}` (id INT, big BIGINT, amount DECIMAL(10, 2), "
            "ratio DOUBLE, label VARCHAR(40) CHARACTER SET utf8mb4, born DATE, seen DATETIME, "
            "flag BOOLEAN, level TINYINT, nothing VARCHAR(10))"
        )
        for index, row in frame.iterrows():
            db.execute(
                sa.text(
                    f"INSERT INTO `{names['types']}` VALUES (:id, :big, :amount, :ratio, :label, "
                    "DATE '1950-01-01' + INTERVAL :age DAY, "
                    "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL :age HOUR, :flag, :level, NULL)"
                ),
                {
                    "id": int(index),
                    # NULL in all of the first chunk (rows 0-14) of the chunked read
                    "big": None if int(index) < 15 else int(row["s1"]) * 10_000_000_000,
                    "amount": None if int(index) % 7 == 3 else round(float(row["bmi"]), 2),
                    "ratio": float(row["s5"]),
                    "label": f"Größe {int(row['sex'])} ☃ 東京",
                    "age": int(row["age"]),
                    "flag": bool(row["sex"] == 2),
                    "level": int(row["sex"]) * 3,
                },
            )
        # MySQL's zero date (allowed by the default sql_mode of MariaDB and older MySQL)
        db.exec_driver_sql("SET SESSION sql_mode = ''")
        db.exec_driver_sql(
            f"INSERT INTO `{names['types']}` (id, born, seen) "
            "VALUES (999, '0000-00-00', '0000-00-00 00:00:00')"
        )
        db.exec_driver_sql(f"CREATE TABLE `{names['scratch']}` AS SELECT * FROM `{names['wine']}`")
        db.exec_driver_sql(
            f"CREATE FUNCTION `{names['function']}`() RETURNS INT MODIFIES SQL DATA "
            f"BEGIN DELETE FROM `{names['scratch']}`; RETURN 1; END"
        )
        db.execute(
            sa.text(f"CREATE USER '{names['reader']}'@'%' IDENTIFIED BY :secret"),
            {"secret": SECRET},
        )
        db.execute(  # text(): the '%' is not a parameter marker
            sa.text(
                f"GRANT SELECT ON `{names['database']}`.`{names['wine']}` "
                f"TO '{names['reader']}'@'%'"
            )
        )


def _read(
    con,
    tmp_path: Path,
    my: dict[str, Any],
    password: str | None = None,
    on_rows=None,
    sample_rows: int = 0,
    **source,
):
    source.setdefault("url", my["url"])
    password = password or my["password"]
    return read_sql(
        con, "db", pb.SqlSource(**source), password, tmp_path / "sql", "q", on_rows, sample_rows
    )


def _count(my: dict[str, Any], table: str) -> int:
    admin = sa.create_engine(my["admin"])
    try:
        with admin.connect() as db:
            return int(db.exec_driver_sql(f"SELECT count(*) FROM `{table}`").scalar_one())
    finally:
        admin.dispose()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_mysql_table_read_in_chunks(con, tmp_path, my):
    seen: list[int] = []
    result = _read(con, tmp_path, my, table=my["wine"], chunk_rows=50, on_rows=seen.append)
    assert seen == [50, 100, 150, 178]
    assert len(list((tmp_path / "sql").glob("*.parquet"))) == 4
    table = rows(con, result.view)
    assert table[ROW_COLUMN].tolist() == list(range(178))
    pd.testing.assert_frame_equal(
        _sorted(table.drop(columns=[ROW_COLUMN])), _sorted(wine()), check_dtype=False
    )
    assert result.resolved.chunk_rows == 50 and result.bytes_total == 0
    mariadb = make_url(my["url"]).set(drivername="mariadb").render_as_string()
    again = _read(con, tmp_path / "2", my, url=mariadb, table=my["wine"])
    assert again.resolved.chunk_rows == 50_000
    assert len(rows(con, again.view)) == 178


def test_mysql_query(con, tmp_path, my):
    query = (
        f"SELECT alcohol, CAST(proline AS SIGNED) AS proline, 'a:b %' AS note, "
        f"'it\\'s' AS quoted FROM `{my['wine']}` # a comment, it's fine\n"
        "WHERE alcohol > 14 AND 'x' LIKE '%' -- and this one\n;"
    )
    result = _read(con, tmp_path, my, query=query, chunk_rows=3)
    table = rows(con, result.view)
    expected = wine().query("alcohol > 14")
    assert sorted(table["alcohol"]) == sorted(expected["alcohol"])
    assert sorted(table["proline"]) == sorted(expected["proline"].astype(int))
    assert set(table["note"]) == {"a:b %"} and set(table["quoted"]) == {"it's"}
    assert len(list((tmp_path / "sql").glob("*.parquet"))) == -(-len(expected) // 3)
    assert columns_of(con, result.view)["proline"] == "BIGINT"
    with_query = (
        f"WITH strong AS (SELECT * FROM `{my['wine']}` WHERE alcohol > 13.5) "
        "SELECT target, count(*) AS n FROM strong GROUP BY target"
    )
    counts = rows(con, _read(con, tmp_path / "2", my, query=with_query).view)
    strong = wine().query("alcohol > 13.5")["target"].value_counts()
    assert dict(zip(counts["target"], counts["n"], strict=True)) == strong.to_dict()


def test_schema_qualified_and_quoted_tables(con, tmp_path, my):
    database, name = my["database"], my["wine"]
    for index, table in enumerate(
        [f"{database}.{name}", f"`{database}`.`{name}`", f'"{database}"."{name}"', f"`{name}`"]
    ):
        result = _read(con, tmp_path / str(index), my, table=table)
        assert len(rows(con, result.view)) == 178, table
    assert split_table("`sales`.`my.table`") == ("sales", "my.table")
    assert split_table("`a``b`") == (None, "a`b")


def test_mysql_types(con, tmp_path, my):
    result = _read(con, tmp_path, my, table=my["types"], chunk_rows=15)
    assert len(list((tmp_path / "sql").glob("*.parquet"))) == 3
    types = columns_of(con, result.view)
    assert types["id"] == types["big"] == types["level"] == "BIGINT"
    assert types["amount"].startswith("DECIMAL")
    assert types["ratio"] == "DOUBLE"
    assert types["label"] == "VARCHAR"
    assert types["born"] == "DATE"
    assert types["seen"] == "TIMESTAMP"
    assert types["flag"] == "BOOLEAN"  # BOOLEAN is TINYINT(1); TINYINT(4) stays a number
    assert types["nothing"] == "VARCHAR"  # all NULL, typed from the column

    table = rows(con, result.view).set_index("id")
    assert len(table) == 41
    frame = diabetes().head(40)
    data = table.drop(index=999)
    assert data["big"].iloc[:15].isna().all()
    assert data["big"].iloc[15:].tolist() == [int(v) * 10_000_000_000 for v in frame["s1"][15:]]
    amounts = [None if i % 7 == 3 else round(float(v), 2) for i, v in enumerate(frame["bmi"])]
    assert [None if pd.isna(v) else float(v) for v in data["amount"]] == amounts
    assert data["ratio"].tolist() == pytest.approx(frame["s5"].tolist())
    assert data["label"].tolist() == [f"Größe {int(s)} ☃ 東京" for s in frame["sex"]]
    ages = frame["age"].astype(int).tolist()
    assert [d.isoformat() for d in pd.to_datetime(data["born"]).dt.date] == [
        (pd.Timestamp("1950-01-01") + pd.Timedelta(days=a)).date().isoformat() for a in ages
    ]
    assert data["seen"].tolist() == [
        pd.Timestamp("2024-01-01") + pd.Timedelta(hours=a) for a in ages
    ]
    assert data["flag"].tolist() == [bool(s == 2) for s in frame["sex"]]
    assert data["level"].tolist() == [int(s) * 3 for s in frame["sex"]]
    assert table["nothing"].isna().all()
    zero = table.loc[999]  # the zero date is no date; the row's other columns are NULL
    assert pd.isna(zero["born"]) and pd.isna(zero["seen"]) and pd.isna(zero["flag"])


def test_the_session_is_read_only(con, tmp_path, my):
    """A function that deletes passes the statement check; the read-only session stops it."""
    before = _count(my, my["scratch"])
    _refused(
        lambda: _read(con, tmp_path, my, query=f"SELECT `{my['function']}`() AS gone"),
        INVALID,
        "READ ONLY transaction",
    )
    assert _count(my, my["scratch"]) == before == 178


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("DELETE FROM {t}", "must be a read-only SELECT"),
        ("UPDATE {t} SET alcohol = 0", "must be a read-only SELECT"),
        ("SELECT 1; DELETE FROM {t}", "must be one statement"),
        ("SELECT * FROM {t} FOR UPDATE", "UPDATE is not allowed"),
        ("SELECT * FROM {t} LOCK IN SHARE MODE", "LOCK is not allowed"),
        ("SELECT * FROM {t} INTO OUTFILE '{f}'", "INTO is not allowed"),
        # MySQL runs /*! ... */; `--1` is minus minus one; `\'` does not end a string; `#` is a
        # comment there (so the quote in it opens no string)
        ("SELECT * FROM {t} /*! INTO OUTFILE '{f}' */", "INTO is not allowed"),
        ("SELECT * FROM {t} /*M!100000 INTO DUMPFILE '{f}' */", "DUMPFILE is not allowed"),
        ("SELECT 1 --1 INTO OUTFILE '{f}'", "INTO is not allowed"),
        ("SELECT '\\'' INTO OUTFILE '{f}' -- '", "INTO is not allowed"),
        ("SELECT 1 # it's\nINTO OUTFILE '{f}' -- '", "INTO is not allowed"),
        ("SELECT 1 /*! ; DELETE FROM {t} */", "must be one statement"),
    ],
)
def test_writes_are_refused_before_they_run(con, tmp_path, my, query, fragment):
    outfile = Path(f"/tmp/aimass-outfile-{uuid.uuid4().hex}")
    text = query.format(t=f"`{my['wine']}`", f=outfile)
    _refused(lambda: _read(con, tmp_path, my, query=text), INVALID, fragment)
    assert _count(my, my["wine"]) == 178
    assert not outfile.exists()  # the test server runs here: nothing was written
    assert not (tmp_path / "sql").exists() or not list((tmp_path / "sql").iterdir())


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 'it''s', \"a\\\"b\", `into` FROM t # update\n",
        "SELECT 1 -- delete\n, 2",
        "SELECT /* drop */ 1 AS `create`",
        "SELECT 'x' AS y /*+ MAX_EXECUTION_TIME(100) */",
    ],
)
def test_mysql_reads_that_look_like_writes_pass(query):
    assert check_query(query, "mysql") == query.strip()


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("?init_command=DELETE+FROM+x", "'init_command' is not allowed"),
        ("?local_infile=1", "'local_infile' is not allowed"),
        ("?read_default_file=/etc/mysql/debian.cnf", "'read_default_file' is not allowed"),
        ("?client_flag=128", "'client_flag' is not allowed"),
        (f"?password={SECRET}", "contains a password"),
        (f"?charset=utf8mb4&passwd={SECRET}", "contains a password"),
    ],
)
def test_connection_options_that_run_sql_or_read_files_are_refused(
    con, tmp_path, my, query, fragment
):
    message = _refused(
        lambda: _read(con, tmp_path, my, url=my["url"] + query, table=my["wine"]),
        INVALID,
        fragment,
    )
    assert SECRET not in message


def test_a_password_in_the_url_is_refused(con, tmp_path, my):
    url = make_url(my["url"]).set(password=SECRET).render_as_string(hide_password=False)
    message = _refused(lambda: _read(con, tmp_path, my, url=url, table="x"), INVALID, "password")
    assert SECRET not in message


def test_credentials(con, tmp_path, my, caplog):
    """A user with a password reads with it (given as credentials); a wrong one is refused;
    neither the message, the logs nor the resolved source hold the password."""
    caplog.set_level(logging.DEBUG)
    reader = pb.Credentials(username=my["reader"])
    result = _read(con, tmp_path, my, SECRET, table=my["wine"], credentials=reader)
    assert len(rows(con, result.view)) == 178
    assert result.resolved.credentials.username == my["reader"]
    assert SECRET not in str(result.resolved)
    _refused(
        lambda: _read(con, tmp_path / "2", my, SECRET, table=my["types"], credentials=reader),
        grpc.StatusCode.NOT_FOUND,
        f"table {my['types']!r} does not exist (or is hidden)",
    )
    _refused(
        lambda: _read(
            con,
            tmp_path / "2",
            my,
            SECRET,
            query=f"SELECT * FROM `{my['types']}`",
            credentials=reader,
        ),
        INVALID,
        "SELECT command denied",
    )
    for password in ("wrong-" + SECRET, SECRET + "x"):
        message = _refused(
            lambda password=password: _read(
                con, tmp_path / "3", my, password, table=my["wine"], credentials=reader
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "Access denied",
            "(using password: YES)",
            "check the user name, the credentials",
        )
        assert password not in message and SECRET not in message
    nobody = make_url(my["url"]).set(username=f"nobody_{uuid.uuid4().hex[:8]}")
    message = _refused(
        lambda: _read(con, tmp_path, my, SECRET, url=nobody.render_as_string(), table="x"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "Access denied",
    )
    assert SECRET not in message
    no_database = make_url(my["url"]).set(database=f"nodb_{uuid.uuid4().hex[:8]}")
    _refused(
        lambda: _read(con, tmp_path, my, url=no_database.render_as_string(), table="x"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "Unknown database",
    )
    assert SECRET not in caplog.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_database(con, tmp_path, my):
    url = make_url(my["url"]).set(host="127.0.0.1", port=_free_port()).render_as_string()
    started = time.monotonic()
    message = _refused(
        lambda: _read(con, tmp_path, my, SECRET, url=url, table="x", timeout={"seconds": 3}),
        grpc.StatusCode.UNAVAILABLE,
        "cannot reach",
        "check the host, port",
    )
    assert time.monotonic() - started < 3
    assert SECRET not in message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("timeout", [2, 0])
def test_a_silent_server_is_unavailable_within_the_timeout(con, tmp_path, my, monkeypatch, timeout):
    """A port that accepts connections but never greets (a hung server, a wrong service): the
    connect gives up after sql.timeout, or after the connect timeout when none is given."""
    monkeypatch.setattr(sql_source, "CONNECT_TIMEOUT_SECONDS", 3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = make_url(my["url"]).set(host="127.0.0.1", port=silent.getsockname()[1])
        source: dict[str, Any] = {"url": url.render_as_string(), "table": "x"}
        if timeout:
            source["timeout"] = {"seconds": timeout}
        started = time.monotonic()
        _refused(
            lambda: _read(con, tmp_path, my, SECRET, **source),
            grpc.StatusCode.UNAVAILABLE,
            "cannot reach",
        )
        elapsed = time.monotonic() - started
    assert (timeout or 3) - 0.5 < elapsed < (timeout or 3) + 3


def test_a_statement_longer_than_the_timeout_is_stopped(con, tmp_path, my):
    started = time.monotonic()
    _refused(
        lambda: _read(con, tmp_path, my, query="SELECT SLEEP(10) AS s", timeout={"seconds": 1}),
        INVALID,
        "stopped the read after sql.timeout (1s)",
        "raise sql.timeout",
    )
    assert time.monotonic() - started < 5
    quick = _read(con, tmp_path / "2", my, table=my["wine"], timeout={"seconds": 30})
    assert len(rows(con, quick.view)) == 178


def test_missing_table(con, tmp_path, my):
    _refused(
        lambda: _read(con, tmp_path, my, table="no_such_table"),
        grpc.StatusCode.NOT_FOUND,
        "table 'no_such_table' does not exist",
    )
    _refused(
        lambda: _read(con, tmp_path, my, query="SELECT * FROM no_such_table"),
        INVALID,
        f"Table '{my['database']}.no_such_table' doesn't exist",
    )


def test_empty_results_and_duplicate_names(con, tmp_path, my):
    wine_table = f"`{my['wine']}`"
    _refused(
        lambda: _read(con, tmp_path, my, query=f"SELECT * FROM {wine_table} WHERE alcohol < 0"),
        INVALID,
        "the query has no rows",
    )
    _refused(
        lambda: _read(con, tmp_path, my, query=f"SELECT alcohol, alcohol FROM {wine_table}"),
        INVALID,
        "two columns named 'alcohol'",
    )
    _refused(
        lambda: _read(con, tmp_path, my, query=f"SELECT alcohol AS _split FROM {wine_table}"),
        INVALID,
        "'_split' is reserved",
    )


def _running(my: dict[str, Any], marker: str) -> int:
    admin = sa.create_engine(my["admin"])
    try:
        with admin.connect() as db:
            return int(
                db.execute(
                    sa.text(
                        "SELECT count(*) FROM information_schema.PROCESSLIST "
                        "WHERE INFO LIKE :marker AND ID <> CONNECTION_ID()"
                    ),
                    {"marker": f"%{marker}%"},
                ).scalar_one()
            )
    finally:
        admin.dispose()


def _wait_until_stopped(my: dict[str, Any], marker: str) -> None:
    deadline = time.monotonic() + 10
    while _running(my, marker):
        assert time.monotonic() < deadline, "the server still runs the abandoned read"
        time.sleep(0.1)


def test_a_sample_or_a_stop_does_not_read_the_rest(con, tmp_path, my):
    """178³ = 5.6 million rows: a 20-row sample, or a read stopped after its first chunk (a
    cancelled job), returns at once instead of draining the stream, and the server stops."""
    marker = f"aimass-sample-{uuid.uuid4().hex[:8]}"
    t = f"`{my['wine']}`"
    query = f"SELECT /* {marker} */ a.alcohol, b.hue, c.proline FROM {t} a, {t} b, {t} c"
    started = time.monotonic()
    result = _read(con, tmp_path, my, query=query, chunk_rows=1000, sample_rows=20)
    assert len(rows(con, result.view)) == 20
    assert time.monotonic() - started < 2
    _wait_until_stopped(my, marker)

    class Stop(Exception):
        pass

    def stop(total: int) -> None:
        raise Stop(f"stopped after {total} rows")

    started = time.monotonic()
    with pytest.raises(Stop, match="stopped after 1000 rows"):
        _read(con, tmp_path / "2", my, on_rows=stop, query=query, chunk_rows=1000)
    assert time.monotonic() - started < 2
    _wait_until_stopped(my, marker)


@pytest.mark.timeout(60)
def test_the_connection_probe_gives_up_on_a_silent_server(my, monkeypatch):
    """check_connection uses the reader's connect options: it does not hang on a port that
    accepts but never greets."""
    monkeypatch.setattr(probes, "PROBE_TIMEOUT_SECONDS", 2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = make_url(my["url"]).set(host="127.0.0.1", port=silent.getsockname()[1])
        started = time.monotonic()
        _refused(
            lambda: probes._probe_sql(pb.SqlSource(url=url.render_as_string()), SECRET),
            grpc.StatusCode.UNAVAILABLE,
            "cannot reach",
        )
        assert time.monotonic() - started < 6


def test_a_mysql_write_is_refused_when_the_recipe_is_validated(tmp_path):
    policy = UrlPolicy(allowed=(tmp_path.as_uri(),), denied=())
    source = pb.SqlSource(
        url="mysql+pymysql://root@127.0.0.1:3306/test",
        query="SELECT 1 /*! INTO OUTFILE '/tmp/aimass-never' */",
    )
    _refused(
        lambda: validate_sql(source, "sql", policy), INVALID, "sql.query may only read", "INTO"
    )
