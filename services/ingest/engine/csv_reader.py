"""CSV / TSV into a DuckDB table: the dialect and column types come from the CsvOptions given and
DuckDB's sniffer for the rest, and the result reads with every option explicit, so the options
written back into the recipe read the file the same way on a rebuild."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.ingest.engine import (
    ROW_COLUMN,
    create_view,
    duckdb_type,
    quote_ident,
    reserved_check,
)
from services.ingest.engine.csv_errors import csv_failure, rejected_rows
from services.ingest.engine.duck_types import common_type

SAMPLE_ROWS = 20_480
_EMPTY = "(empty)"


@dataclass
class CsvPlan:
    """read_csv's options, every one explicit, and the CsvOptions that reproduce them."""

    options: dict[str, Any]
    resolved: pb.CsvOptions
    columns: list[str] = field(default_factory=list)


def _given_options(csv: pb.CsvOptions, tsv: bool) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if csv.delimiter or tsv:
        options["delim"] = csv.delimiter or "\t"
    if csv.header != pb.HEADER_MODE_UNSPECIFIED:
        options["header"] = csv.header == pb.HEADER_MODE_PRESENT
    for name, value in (("quote", csv.quote), ("escape", csv.escape), ("comment", csv.comment)):
        if value:
            options[name] = value
    if csv.skip_rows:
        options["skip"] = csv.skip_rows
    if csv.null_values:
        options["nullstr"] = list(csv.null_values)
    if csv.column_names:
        reserved_check(csv.column_names, "csv.column_names item")
        options["names"] = list(csv.column_names)
    if csv.column_types:
        options["types"] = {name: duckdb_type(t) for name, t in csv.column_types.items()}
    if csv.date_format:
        options["dateformat"] = csv.date_format
    if csv.timestamp_format:
        options["timestampformat"] = csv.timestamp_format
    return options


def _call(function: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`function($path, name := $name, ...)` with every option a bound parameter."""
    arguments = "".join(f", {name} := ${name}" for name in options)
    return f"{function}($path{arguments})", options


def plan_csv(
    con: duckdb.DuckDBPyConnection,
    path: str,
    source: pb.FileSource,
    encoding: str | None,
    names: dict[str, str],
) -> CsvPlan:
    """Sniff the first file with the options given (bad rows tolerated) and fix the rest."""
    given = _given_options(source.csv, source.format == pb.FILE_FORMAT_TSV)
    if encoding:
        given["encoding"] = encoding
    sniff = {**given, "ignore_errors": True, "sample_size": SAMPLE_ROWS}
    call, params = _call("sniff_csv", sniff)
    try:
        row = con.execute(f"SELECT * FROM {call}", {"path": path, **params}).fetchall()[0]
    except duckdb.Error as exc:
        raise csv_failure(exc, names.get(path, path), encoding or "utf-8", names) from exc
    delim, quote, escape, _, comment, skip, header, columns, date_fmt, ts_fmt = row[:10]
    options: dict[str, Any] = {"auto_detect": False, "delim": given.get("delim", delim)}
    options["header"] = bool(given.get("header", header))
    options["skip"] = int(given.get("skip", skip))
    for name, found in (("quote", quote), ("escape", escape), ("comment", comment)):
        value = given.get(name, "" if found == _EMPTY else found)
        if value:
            options[name] = value
    for name, found in (("dateformat", date_fmt), ("timestampformat", ts_fmt)):
        if given.get(name, found):
            options[name] = given.get(name, found)
    if "nullstr" in given:
        options["nullstr"] = given["nullstr"]
    if encoding:
        options["encoding"] = encoding
    column_names = [str(column["name"]) for column in columns]
    reserved_check(column_names)
    options["columns"] = {str(column["name"]): str(column["type"]) for column in columns}
    return CsvPlan(options, _resolved(source.csv, options, encoding), column_names)


def _resolved(given: pb.CsvOptions, options: dict[str, Any], encoding: str | None) -> pb.CsvOptions:
    resolved = pb.CsvOptions()
    resolved.CopyFrom(given)
    resolved.delimiter = options["delim"]
    resolved.header = pb.HEADER_MODE_PRESENT if options["header"] else pb.HEADER_MODE_ABSENT
    resolved.encoding = given.encoding or encoding or "utf-8"
    resolved.quote = options.get("quote", "")
    resolved.escape = options.get("escape", "")
    resolved.comment = options.get("comment", "")
    resolved.skip_rows = options["skip"]
    resolved.date_format = options.get("dateformat", "")
    resolved.timestamp_format = options.get("timestampformat", "")
    if not options["header"] and not given.column_names:
        resolved.column_names.extend(options["columns"])
    for name, type_name in options["columns"].items():
        data_type = common_type(type_name)
        # Only types that read back as exactly the same DuckDB type (not TIMESTAMPTZ, TIME ...).
        if data_type and duckdb_type(data_type) == type_name and name not in resolved.column_types:
            resolved.column_types[name] = data_type
    return resolved


@dataclass
class CsvRead:
    skipped_rows: int
    examples: list[pb.MalformedRow]


def csv_view(con: duckdb.DuckDBPyConnection, view: str, paths: list[str], plan: CsvPlan) -> None:
    """A view over the file(s) parsed on every scan, with ROW_COLUMN in file order (the streaming
    row_number keeps the reader's order). Later passes parse again, which costs less than writing
    the rows to a spilled temp table; a malformed row fails whichever pass reaches it first."""
    call, params = _call("read_csv", dict(plan.options))
    create_view(
        con,
        view,
        f"SELECT row_number() OVER () - 1 AS {quote_ident(ROW_COLUMN)}, * FROM {call}",
        {"path": paths, **params},
    )


def load_csv(
    con: duckdb.DuckDBPyConnection,
    table: str,
    paths: list[str],
    plan: CsvPlan,
    skip_bad_rows: bool,
    names: dict[str, str],
    sample_rows: int = 0,
) -> CsvRead:
    """CREATE TEMP TABLE `table` (rows in file order); bad rows fail (line, reason) or are
    skipped and counted. `names` maps DuckDB paths to the names shown in messages."""
    options = dict(plan.options)
    rejects = ("", "")
    if skip_bad_rows:
        rejects = (f"{table}_rejects", f"{table}_scans")
        options.update(
            ignore_errors=True,
            store_rejects=True,
            rejects_table=rejects[0],
            rejects_scan=rejects[1],
        )
    call, params = _call("read_csv", options)
    limit = f" LIMIT {int(sample_rows)}" if sample_rows > 0 else ""
    sql = f"CREATE TEMP TABLE {quote_ident(table)} AS SELECT * FROM {call}{limit}"
    try:
        con.execute(sql, {"path": paths, **params})
    except duckdb.Error as exc:
        raise csv_failure(exc, "", options.get("encoding", "utf-8"), names) from exc
    if not skip_bad_rows:
        return CsvRead(0, [])
    count, examples = rejected_rows(con, rejects, names, options.get("encoding", "utf-8"))
    return CsvRead(count, examples)
