"""JSON Lines into a DuckDB table. Each line is read as text first, so a malformed line has its
1-based line number (fail) or is skipped and counted (skip); the columns and their types come from
the JSON structure of the first lines (or only `columns`), and a later value that does not fit its
column's type is a malformed row too, never a silent null."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import quote_ident, reserved_check
from services.ingest.engine.csv_errors import MAX_EXAMPLES, SKIP_HINT, csv_failure

SAMPLE_LINES = 20_480
# Raw control characters cannot occur in a valid JSON text, so no valid line contains this.
_NO_DELIMITER = "\x1f"
_SCALARS = {
    "BOOLEAN": "BOOLEAN",
    "UBIGINT": "BIGINT",
    "BIGINT": "BIGINT",
    "HUGEINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "VARCHAR": "VARCHAR",
    "NULL": "VARCHAR",
}


@dataclass
class JsonRead:
    columns: list[str]
    skipped_rows: int
    examples: list[pb.MalformedRow]


def _load_lines(
    con: duckdb.DuckDBPyConnection,
    table: str,
    paths: Sequence[str],
    names: dict[str, str],
    sample_rows: int,
) -> None:
    con.execute(f"CREATE TEMP TABLE {quote_ident(table)} (f INTEGER, n BIGINT, line VARCHAR)")
    limit = f" LIMIT {int(sample_rows)}" if sample_rows > 0 else ""
    for index, path in enumerate(paths):
        try:
            con.execute(
                f"INSERT INTO {quote_ident(table)} SELECT $f, row_number() OVER (), line FROM "
                "read_csv($path, columns := $columns, header := false, delim := $delim, "
                "quote := '', escape := '', auto_detect := false, strict_mode := false)"
                f"{limit}",
                {"f": index, "path": path, "columns": {"line": "VARCHAR"}, "delim": _NO_DELIMITER},
            )
        except duckdb.Error as exc:
            raise csv_failure(exc, names.get(path, path), "UTF-8 (JSON Lines are UTF-8)") from exc


def _column_types(
    con: duckdb.DuckDBPyConnection, lines: str, wanted: Sequence[str]
) -> dict[str, str]:
    row = con.execute(
        f"SELECT json_group_structure(line::JSON) FROM (SELECT line FROM {quote_ident(lines)} "
        "WHERE json_valid(line) AND json_type(line) = 'OBJECT' ORDER BY f, n "
        f"LIMIT {SAMPLE_LINES})"
    ).fetchall()[0]
    structure: Any = json.loads(row[0]) if row[0] else {}
    if not isinstance(structure, dict) or not structure:
        return {}
    types = {
        key: _SCALARS.get(value, "JSON") if isinstance(value, str) else "JSON"
        for key, value in structure.items()
    }
    if not wanted:
        return types
    missing = [name for name in wanted if name not in types]
    if missing:
        raise InvalidArgument(
            f"columns {missing} are not in the JSON lines (they have: {', '.join(types)[:1000]})"
        )
    return {name: types[name] for name in wanted}


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _parse(con: duckdb.DuckDBPyConnection, lines: str, parsed: str, types: dict[str, str]) -> None:
    params: dict[str, Any] = {"structure": json.dumps(types)}
    checks = []
    for index, (key, type_name) in enumerate(types.items()):
        params[f"p{index}"] = _pointer(key)
        params[f"r{index}"] = f"the value of {key!r} is not a {type_name}"
        checks.append(
            f"WHEN json_type(line, $p{index}) <> 'NULL' AND (s).{quote_ident(key)} IS NULL "
            f"THEN $r{index}"
        )
    # CASE evaluates a branch only for the rows that reach it: nothing parses invalid JSON.
    object_ = "CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END"
    con.execute(
        f"CREATE TEMP TABLE {quote_ident(parsed)} AS SELECT f, n, s, CASE "
        "WHEN NOT json_valid(line) THEN 'malformed JSON' "
        "WHEN NOT is_object THEN 'not a JSON object' "
        f"{' '.join(checks)} END AS bad FROM (SELECT f, n, line, is_object, CASE WHEN is_object "
        f"THEN json_transform(line, $structure) END AS s FROM (SELECT f, n, line, {object_} AS "
        f"is_object FROM {quote_ident(lines)} WHERE trim(coalesce(line, '')) <> ''))",
        params,
    )


def _bad_rows(
    con: duckdb.DuckDBPyConnection,
    parsed: str,
    paths: Sequence[str],
    names: dict[str, str],
    skip: bool,
) -> tuple[int, list[pb.MalformedRow]]:
    rows = con.execute(
        f"SELECT f, n, bad, count(*) OVER () FROM {quote_ident(parsed)} WHERE bad IS NOT NULL "
        f"ORDER BY f, n LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    examples = [
        pb.MalformedRow(line=int(n), source=names.get(paths[f], paths[f]), reason=str(reason))
        for f, n, reason, _ in rows
    ]
    if examples and not skip:
        first = examples[0]
        raise InvalidArgument(f"{first.source}, line {first.line}: {first.reason}; {SKIP_HINT}")
    return (int(rows[0][3]) if rows else 0), examples


def load_jsonl(
    con: duckdb.DuckDBPyConnection,
    table: str,
    paths: Sequence[str],
    columns: Sequence[str],
    skip_bad_rows: bool,
    names: dict[str, str],
    sample_rows: int = 0,
) -> JsonRead:
    """CREATE TEMP TABLE `table` from the JSON Lines files, rows in file order."""
    lines, parsed = f"{table}_lines", f"{table}_parsed"
    _load_lines(con, lines, paths, names, sample_rows)
    types = _column_types(con, lines, columns)
    if not types:
        con.execute(f"DROP TABLE {quote_ident(lines)}")
        return JsonRead([], 0, [])
    reserved_check(types)
    _parse(con, lines, parsed, types)
    con.execute(f"DROP TABLE {quote_ident(lines)}")
    skipped, examples = _bad_rows(con, parsed, paths, names, skip_bad_rows)
    select = ", ".join(
        f"(s).{quote_ident(key)}"
        + ("::VARCHAR" if type_name == "JSON" else "")
        + f" AS {quote_ident(key)}"
        for key, type_name in types.items()
    )
    con.execute(
        f"CREATE TEMP TABLE {quote_ident(table)} AS SELECT {select} FROM (SELECT s FROM "
        f"{quote_ident(parsed)} "
        "WHERE bad IS NULL ORDER BY f, n)"
    )
    con.execute(f"DROP TABLE {quote_ident(parsed)}")
    return JsonRead(list(types), skipped, examples)
