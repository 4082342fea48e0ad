"""Sources into DuckDB: files (CSV/TSV, JSON Lines, Parquet; local, fsspec URLs and globs) and the
Parquet parts of existing dataset versions. Each reader returns a view or temp table whose first
column is ROW_COLUMN, the 0-based row order in the source (files in sorted name order).

A UTF-8 (or natively decoded) CSV read with the default policy (fail on a malformed row) stays a
view that parses the file on every scan: the recipe's statistics passes read only the columns they
need, and writing the rows once more to a spilled temp table would cost more than parsing again.
A malformed row then fails whichever pass meets it first; `ReadResult.csv_errors` turns that error
into the same message with the line number. JSON Lines, transcoded CSV and CSV read with the skip
policy are loaded into a temp table in one pass (DuckDB spills it past the memory limit), so the
rejects are counted exactly once and every later pass sees the same rows. Parquet stays a view."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import (
    ROW_COLUMN,
    SPLIT_COLUMN,
    ViewNames,
    quote_ident,
    reserved_check,
)
from services.ingest.engine.csv_errors import csv_failure, is_csv_error
from services.ingest.engine.csv_reader import CsvRead, csv_view, load_csv, plan_csv
from services.ingest.engine.filesystems import (
    FileSet,
    check_size,
    public_options,
    register_filesystem,
    resolve_files,
)
from services.ingest.engine.jsonl_reader import load_jsonl
from services.ingest.engine.text_encoding import (
    codec_name,
    detect,
    display_name,
    duckdb_encoding,
    transcode,
)

Resolved = pb.FileSource | pb.SqlSource | pb.DatasetSource
_EXTENSIONS: dict[str, pb.FileFormat] = {
    ".csv": pb.FILE_FORMAT_CSV,
    ".tsv": pb.FILE_FORMAT_TSV,
    ".tab": pb.FILE_FORMAT_TSV,
    ".jsonl": pb.FILE_FORMAT_JSONL,
    ".ndjson": pb.FILE_FORMAT_JSONL,
    ".json": pb.FILE_FORMAT_JSONL,
    ".parquet": pb.FILE_FORMAT_PARQUET,
    ".pq": pb.FILE_FORMAT_PARQUET,
}


@dataclass
class ReadResult:
    view: str
    resolved: Resolved  # the source with detected options filled in (and no secrets)
    bytes_total: int  # 0 when unknown
    skipped_rows: int = 0
    skipped_examples: list[pb.MalformedRow] = field(default_factory=list)  # at most 100
    # Set when the view parses CSV on every scan: DuckDB path -> name shown, and the encoding,
    # for `csv_error` to turn a parse error met by any later pass into INVALID_ARGUMENT.
    parsed_files: dict[str, str] = field(default_factory=dict)
    encoding: str = ""

    @property
    def loaded(self) -> bool:
        """Whether the rows are in DuckDB already (or mapped, as Parquet): counting is cheap."""
        return not self.parsed_files

    def csv_error(self, exc: duckdb.Error) -> InvalidArgument | None:
        """The message for a CSV parse error in this source's files; None for any other error."""
        if self.loaded or not is_csv_error(exc):
            return None
        if not any(path in str(exc) for path in self.parsed_files):
            return None
        return csv_failure(exc, "", self.encoding, self.parsed_files)


def detect_format(files: FileSet) -> pb.FileFormat:
    """From the first file's name (compression suffixes ignored), then from its first bytes."""
    name = files.paths[0].lower()
    for suffix in (".gz", ".zst", ".zstd"):
        name = name.removesuffix(suffix)
    for extension, file_format in _EXTENSIONS.items():
        if name.endswith(extension):
            return file_format
    head = files.head(4096)
    if head.startswith(b"PAR1"):
        return pb.FILE_FORMAT_PARQUET
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return pb.FILE_FORMAT_JSONL
    return pb.FILE_FORMAT_CSV


def read_file(
    con: duckdb.DuckDBPyConnection,
    alias: str,
    source: pb.FileSource,
    location: str,
    policy: pb.MalformedRowPolicy,
    max_bytes: int,
    prefix: str,
    sample_rows: int = 0,
) -> ReadResult:
    """Read one file source. `sample_rows` > 0 reads only the first rows (previews)."""
    label = (
        f"{source.url!r} (source {alias!r})" if source.url else f"the upload of source {alias!r}"
    )
    files = resolve_files(con, location, source.storage_options, label)
    check_size(files, max_bytes)
    if files.total_bytes == 0:
        raise _empty(files)
    resolved = pb.FileSource()
    resolved.CopyFrom(source)
    resolved.storage_options.clear()
    resolved.storage_options.update(public_options(source.storage_options))
    resolved.format = source.format or detect_format(files)
    name = ViewNames(prefix).next()
    skip = policy == pb.MALFORMED_ROW_POLICY_SKIP
    result = ReadResult(name, resolved, files.total_bytes)
    if resolved.format == pb.FILE_FORMAT_PARQUET:
        _parquet(con, name, files.paths, list(source.columns), sample_rows)
    else:
        _text(con, files, resolved, skip, sample_rows, result)
    try:
        empty = _no_rows(con, name)
    except duckdb.Error as exc:
        failure = result.csv_error(exc)
        if failure is None:
            raise
        raise failure from exc
    if empty:
        raise _empty(files)
    return result


def _text(
    con: duckdb.DuckDBPyConnection,
    files: FileSet,
    resolved: pb.FileSource,
    skip: bool,
    sample_rows: int,
    result: ReadResult,
) -> None:
    """CSV / TSV / JSON Lines into a temp table, and the result's view over it."""
    table = f"{result.view}_rows"
    if resolved.format == pb.FILE_FORMAT_JSONL:
        names = _shown_names(files, files.paths, resolved)
        read = load_jsonl(con, table, files.paths, resolved.columns, skip, names, sample_rows)
        result.skipped_rows, result.skipped_examples = read.skipped_rows, read.examples
        if not read.columns:
            raise _empty(files)
    else:
        _csv(con, table, files, resolved, skip, sample_rows, result)
        if not result.loaded:
            return
    # A new table's rowid is its insertion (file) order: the row column costs nothing.
    con.execute(
        f"CREATE TEMP VIEW {quote_ident(result.view)} AS SELECT rowid AS "
        f"{quote_ident(ROW_COLUMN)}, * FROM {quote_ident(table)}"
    )


def _shown_names(files: FileSet, paths: list[str], source: pb.FileSource) -> dict[str, str]:
    """DuckDB path -> how messages name it: the file for URLs, the upload for uploads."""
    if source.url:
        return dict(zip(paths, files.paths, strict=True))
    return dict.fromkeys(paths, files.location)


def _csv(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: FileSet,
    resolved: pb.FileSource,
    skip: bool,
    sample_rows: int,
    result: ReadResult,
) -> None:
    head = files.head()
    codec = codec_name(resolved.csv.encoding) if resolved.csv.encoding else detect(head)
    native = duckdb_encoding(codec, head)
    paths = files.paths
    transcoded: list[Path] = []
    try:
        if native is None:
            transcoded = transcode(files, codec, _scratch(con))
            paths = [str(path) for path in transcoded]
        names = _shown_names(files, paths, resolved)
        encoding = None if native == "utf-8" or native is None else native
        plan = plan_csv(con, paths[0], resolved, encoding, names)
        if not plan.columns:
            raise InvalidArgument(f"{files.location!r} has no columns: check the CSV options")
        if not (skip or transcoded or sample_rows):
            csv_view(con, result.view, paths, plan)
            result.parsed_files, result.encoding = names, display_name(codec)
            read = CsvRead(0, [])
        else:
            read = load_csv(con, name, paths, plan, skip, names, sample_rows)
    finally:
        for path in transcoded:
            with contextlib.suppress(OSError):
                path.unlink()
    plan.resolved.encoding = resolved.csv.encoding or display_name(codec)
    resolved.csv.CopyFrom(plan.resolved)
    result.skipped_rows, result.skipped_examples = read.skipped_rows, read.examples


def _scratch(con: duckdb.DuckDBPyConnection) -> Path:
    """The connection's spill directory (the job's), for transcoded copies."""
    row = con.execute("SELECT current_setting('temp_directory')").fetchall()[0]
    folder = str(row[0]) if row[0] else ""
    return Path(folder) if folder and os.path.isabs(folder) else Path(tempfile.gettempdir())


def _parquet(
    con: duckdb.DuckDBPyConnection,
    name: str,
    paths: list[str],
    columns: list[str],
    sample_rows: int,
) -> None:
    relation = con.read_parquet(paths)
    available = list(relation.columns)
    missing = [column for column in columns if column not in available]
    if missing:
        raise InvalidArgument(
            f"columns {missing} are not in the Parquet file(s) (they have: "
            f"{', '.join(available)[:1000]})"
        )
    chosen = columns or available
    reserved_check(chosen)
    relation = relation.select(", ".join(quote_ident(column) for column in chosen))
    if sample_rows > 0:
        relation = relation.limit(sample_rows)
    _numbered(relation).create_view(name, replace=False)


def _numbered(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    return relation.select(f"row_number() OVER () - 1 AS {quote_ident(ROW_COLUMN)}, *")


def _no_rows(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return not con.execute(f"SELECT 1 FROM {quote_ident(name)} LIMIT 1").fetchall()


def _empty(files: FileSet) -> InvalidArgument:
    return InvalidArgument(
        f"{files.location} has no data rows: check the file, its header and skip_rows options"
    )


def read_dataset(
    con: duckdb.DuckDBPyConnection,
    alias: str,
    parquet_files: Sequence[str],
    splits: Sequence[str],
    prefix: str,
    storage_options: dict[str, str] | None = None,
) -> ReadResult:
    """The rows of an existing version (its SPLIT_COLUMN kept), optionally only some splits.

    Files are local paths, or URLs of a filesystem opened with `storage_options`."""
    if not parquet_files:
        raise InvalidArgument(f"source {alias!r}: the dataset version has no Parquet parts")
    paths = list(parquet_files)
    if "://" in paths[0] and not paths[0].startswith("file://"):
        fs = resolve_files(con, paths[0], storage_options or {}).fs
        register_filesystem(con, fs)
    relation = con.read_parquet(paths)
    if splits:
        if SPLIT_COLUMN not in relation.columns:
            raise InvalidArgument(f"source {alias!r}: the dataset version has no splits")
        _check_splits(con, relation, alias, splits)
        wanted = [duckdb.ConstantExpression(split) for split in splits]
        relation = relation.filter(duckdb.ColumnExpression(SPLIT_COLUMN).isin(*wanted))
    reserved_check(column for column in relation.columns if column != SPLIT_COLUMN)
    name = ViewNames(prefix).next()
    _numbered(relation).create_view(name, replace=False)
    resolved = pb.DatasetSource(splits=list(splits))
    return ReadResult(name, resolved, 0)


def _check_splits(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    alias: str,
    splits: Sequence[str],
) -> None:
    present = {
        str(row[0])
        for row in relation.select(quote_ident(SPLIT_COLUMN)).distinct().fetchall()
        if row[0] is not None
    }
    unknown = [split for split in splits if split not in present]
    if unknown:
        raise InvalidArgument(
            f"source {alias!r}: the dataset version has no split {unknown[0]!r} (it has: "
            f"{', '.join(sorted(present))})"
        )
