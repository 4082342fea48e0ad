"""DuckDB's CSV errors and reject tables as messages that say which line is wrong and what to do."""

from __future__ import annotations

import re
from collections.abc import Mapping

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import quote_ident

MAX_EXAMPLES = 100
SKIP_HINT = (
    "fix the row, or set malformed_rows to MALFORMED_ROW_POLICY_SKIP to skip and count such rows"
)
_LINE = re.compile(r"CSV Error on Line: (\d+)")
_FILE = re.compile(r"\n\s*file = (.*)\n")
_REASON = re.compile(
    r"(Expected Number of Columns: \d+ Found: \d+|Value with unterminated quote found\."
    r"|Error when converting column[^\n]*|Could not convert[^\n]*|Maximum line size[^\n]*"
    r"|Invalid unicode[^\n]*)"
)


def _first_line(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0].removeprefix("Invalid Input Error: ")[:500]


def encoding_error(where: str, encoding: str, line: int | None = None) -> InvalidArgument:
    at = f" (line {line})" if line else ""
    return InvalidArgument(
        f"{where} is not valid {encoding}{at}: set csv.encoding to the file's encoding, e.g. "
        "'latin-1', 'cp1252' or 'utf-16'"
    )


def is_csv_error(exc: BaseException) -> bool:
    """Whether DuckDB raised this while parsing a CSV file (not while running the recipe)."""
    text = str(exc)
    return "CSV Error on Line" in text or "Invalid unicode" in text


def csv_failure(
    exc: duckdb.Error, path: str, encoding: str, names: Mapping[str, str] | None = None
) -> InvalidArgument:
    """The first malformed row (1-based line, reason) or the encoding problem: INVALID_ARGUMENT."""
    text = str(exc)
    found_file = _FILE.search(text)
    shown = found_file.group(1).strip() if found_file else path
    shown = (names or {}).get(shown, shown) or "the file"
    line_match = _LINE.search(text)
    line = int(line_match.group(1)) if line_match else None
    if "Invalid unicode" in text:
        return encoding_error(shown, encoding, line)
    if isinstance(exc, duckdb.IOException):
        return InvalidArgument(f"cannot read {shown}: {_first_line(exc)}")
    reason_match = _REASON.search(text)
    reason = reason_match.group(1) if reason_match else _first_line(exc)
    if line is None:
        return InvalidArgument(f"{shown}: {reason}; check the CSV options (delimiter, quote)")
    return InvalidArgument(f"{shown}, line {line}: {reason}; {SKIP_HINT}")


def rejected_rows(
    con: duckdb.DuckDBPyConnection,
    tables: tuple[str, str],
    names: Mapping[str, str],
    encoding: str,
) -> tuple[int, list[pb.MalformedRow]]:
    """How many lines DuckDB rejected, and the first MAX_EXAMPLES of them (line, file, reason).

    Bad bytes for the encoding are not a malformed row: they fail the read."""
    errors, scans = (quote_ident(name) for name in tables)
    lines = (
        f"SELECT e.file_id, e.line, min(e.error_type) AS error_type, "
        f"arg_min(e.error_message, e.column_idx) AS reason, any_value(s.file_path) AS file_path "
        f"FROM {errors} e JOIN {scans} s USING (scan_id, file_id) GROUP BY e.file_id, e.line"
    )
    row = con.execute(
        f"SELECT count(*), min(line) FILTER (WHERE error_type = 'INVALID UNICODE'), "
        f"arg_min(file_path, line) FILTER (WHERE error_type = 'INVALID UNICODE') FROM ({lines})"
    ).fetchall()[0]
    count, bad_unicode_line, bad_unicode_file = row
    if bad_unicode_line is not None:
        shown = names.get(bad_unicode_file, bad_unicode_file)
        raise encoding_error(shown, encoding, int(bad_unicode_line))
    examples = [
        pb.MalformedRow(line=int(line), source=names.get(path, path), reason=str(reason))
        for line, path, reason in con.execute(
            f"SELECT line, file_path, reason FROM ({lines}) ORDER BY file_id, line "
            f"LIMIT {MAX_EXAMPLES}"
        ).fetchall()
    ]
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
    return int(count), examples
