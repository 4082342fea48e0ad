"""The glue over the engine: read each source, apply its steps and the recipe's, split, write the
parts into a local folder, profile them. Runs in one worker thread on one DuckDB connection; no
gRPC, database or bus here. Progress goes to a callback; a cancel interrupts DuckDB.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.cancel import CancelToken
from services.ingest.duck import job_engine, limited, parquet_view, quoted_columns
from services.ingest.engine import materialize, quote_ident
from services.ingest.engine.profile import profile, schema_of
from services.ingest.engine.readers import ReadResult, read_dataset, read_file
from services.ingest.engine.recipe import apply_steps
from services.ingest.engine.splits import assign_split, counts, split_names
from services.ingest.engine.writer import keeps_scan_order, write_parts

Phase = pb.IngestPhase
ProgressSink = Callable[[pb.IngestProgress], None]


@dataclass
class SourceInput:
    """One source, ready to read: ``source`` is file, sql or dataset (saved sources expanded)."""

    source: pb.Source
    location: str = ""
    # fsspec options built from resolved credentials: given to the reader, never recorded.
    secret_options: dict[str, str] = field(default_factory=dict)
    password: str | None = None
    parquet_files: tuple[str, ...] = ()


@dataclass
class PipelineRequest:
    recipe: pb.Recipe
    inputs: list[SourceInput]
    work_dir: Path
    memory_limit: str = "1GB"
    threads: int = 2
    max_file_bytes: int = 0
    parquet_version: str = "v2"
    sample_rows: int = 0  # > 0: a dry run on the first rows of each source
    test_delay_seconds: float = 0.0


@dataclass
class PipelineOutput:
    result: pb.IngestResult
    parts: list[Path] = field(default_factory=list)
    out_dir: Path | None = None
    preview: pb.PreviewIngestResponse | None = None


class _Run:
    def __init__(self, request: PipelineRequest, sink: ProgressSink, cancel: CancelToken) -> None:
        self.request, self.sink, self.cancel = request, sink, cancel
        self.progress = pb.IngestProgress()
        self.warnings: list[str] = []
        self.skipped = 0
        self.examples: list[pb.MalformedRow] = []
        self.reads: list[ReadResult] = []
        self.costly: dict[str, bool] = {}  # alias -> its view parses a file on every scan

    def report(self, phase: pb.IngestPhase, message: str = "", **counts: int) -> None:
        self.cancel.check()
        self.progress.phase = phase
        self.progress.message = message
        for name, value in counts.items():
            setattr(self.progress, name, value)
        self.progress.updated_at.GetCurrentTime()
        update = pb.IngestProgress()
        update.CopyFrom(self.progress)
        self.sink(update)

    def read(self, con: duckdb.DuckDBPyConnection, index: int, item: SourceInput) -> ReadResult:
        source, prefix = item.source, f"src{index}"
        kind = source.WhichOneof("kind")
        if kind == "file":
            read = self._read_file(con, item, prefix)
            self.reads.append(read)
            return read
        if kind == "sql":
            return self._read_sql(con, item, prefix, self.request.work_dir / f"sql-{index}")
        if kind == "dataset":
            splits = list(source.dataset.splits)
            return read_dataset(con, source.alias, item.parquet_files, splits, prefix)
        raise InvalidArgument(f"source {source.alias!r} has no readable kind ({kind})")

    def _read_file(
        self, con: duckdb.DuckDBPyConnection, item: SourceInput, prefix: str
    ) -> ReadResult:
        file = item.source.file
        if item.secret_options:
            file = pb.FileSource()
            file.CopyFrom(item.source.file)
            file.storage_options.update(item.secret_options)
        request = self.request
        return read_file(
            con,
            item.source.alias,
            file,
            item.location,
            request.recipe.malformed_rows,
            request.max_file_bytes,
            prefix,
            sample_rows=request.sample_rows,
        )

    def _read_sql(
        self, con: duckdb.DuckDBPyConnection, item: SourceInput, prefix: str, folder: Path
    ) -> ReadResult:
        alias, before = item.source.alias, self.progress.rows_read

        def on_rows(rows: int) -> None:
            self.report(Phase.INGEST_PHASE_READING, f"reading {alias}", rows_read=before + rows)

        # SQLAlchemy and its drivers load for SQL sources only (about 0.15 s off every other job).
        from services.ingest.engine.sql_source import read_sql

        folder.mkdir(parents=True, exist_ok=True)
        return read_sql(
            con,
            alias,
            item.source.sql,
            item.password,
            folder,
            prefix,
            on_rows,
            sample_rows=self.request.sample_rows,
        )

    def sources(self, con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], pb.Recipe]:
        views: dict[str, str] = {}
        resolved = pb.Recipe()
        resolved.CopyFrom(self.request.recipe)
        del resolved.sources[:]
        for index, item in enumerate(self.request.inputs):
            alias = item.source.alias
            self.report(Phase.INGEST_PHASE_READING, f"reading {alias}")
            read = self.read(con, index, item)
            view = read.view
            if self.request.sample_rows and item.source.WhichOneof("kind") == "dataset":
                view = limited(con, view, self.request.sample_rows, f"sample{index}")
            # The first source without steps of its own is counted by the recipe's steps.
            count = not self.request.sample_rows and (index > 0 or bool(item.source.steps))
            self.costly[alias] = not read.loaded
            steps = apply_steps(
                con, view, item.source.steps, {}, f"s{index}", count, self.costly[alias]
            )
            self._read(read, steps.input_rows)
            self._note(steps.warnings, steps.outlier_bounds, alias)
            views[alias] = steps.view
            resolved.sources.append(_resolved_source(item.source, read))
        return views, resolved

    @contextmanager
    def parse_errors(self) -> Iterator[None]:
        """A CSV parse error met by any pass over a view that parses on every scan: the file,
        the line and what to do, as if the reader had met it."""
        try:
            yield
        except duckdb.Error as exc:
            for read in self.reads:
                failure = read.csv_error(exc)
                if failure is not None:
                    raise failure from exc
            raise

    def _read(self, read: ReadResult, rows: int | None) -> None:
        """A source read: its skipped rows, bytes and (when counted) rows. A CSV parsed on every
        scan is counted in the first pass a step makes over it anyway, or in a pass of its own."""
        self.skipped += read.skipped_rows
        self.examples.extend(read.skipped_examples[: 100 - len(self.examples)])
        total = self.progress.bytes_total + read.bytes_total
        self.report(
            Phase.INGEST_PHASE_READING,
            "read",
            rows_read=self.progress.rows_read + (rows or 0),
            bytes_read=total,
            bytes_total=total,
        )

    def _note(
        self, warnings: list[str], bounds: dict[str, tuple[float, float]], where: str
    ) -> None:
        self.warnings.extend(f"{where}: {warning}" for warning in warnings)
        self.warnings.extend(
            f"{where}: outlier bounds of {column}: [{low:g}, {high:g}]"
            for column, (low, high) in bounds.items()
        )

    def transform(self, con: duckdb.DuckDBPyConnection, views: dict[str, str]) -> str:
        first = self.request.inputs[0].source.alias
        self.report(Phase.INGEST_PHASE_TRANSFORMING, "applying the recipe's steps")
        first_steps = self.request.inputs[0].source.steps
        count = not self.request.sample_rows and not first_steps
        recipe = self.request.recipe.steps
        steps = apply_steps(con, views[first], recipe, views, "r", count, self.costly[first])
        if steps.input_rows is not None:
            rows = self.progress.rows_read + steps.input_rows
            self.report(Phase.INGEST_PHASE_TRANSFORMING, "counted the rows read", rows_read=rows)
        self._note(steps.warnings, steps.outlier_bounds, "recipe")
        self._test_delay()
        return steps.view

    def _test_delay(self) -> None:
        deadline = time.monotonic() + self.request.test_delay_seconds
        while time.monotonic() < deadline:
            self.cancel.check()
            time.sleep(0.05)

    @property
    def split_spec(self) -> pb.SplitSpec | None:
        recipe = self.request.recipe
        return recipe.split if recipe.HasField("split") else None

    def split(self, con: duckdb.DuckDBPyConnection, view: str) -> str:
        self.report(Phase.INGEST_PHASE_SPLITTING, "assigning splits")
        return assign_split(con, view, self.split_spec, "split")


def _resolved_source(original: pb.Source, read: ReadResult) -> pb.Source:
    source = pb.Source()
    source.CopyFrom(original)
    resolved = read.resolved
    if isinstance(resolved, pb.FileSource):
        # Detected options come back; options and credentials are the recipe's (no secret).
        source.file.CopyFrom(resolved)
        source.file.storage_options.clear()
        source.file.storage_options.update(original.file.storage_options)
        source.file.credentials.CopyFrom(original.file.credentials)
    elif isinstance(resolved, pb.SqlSource):
        source.sql.CopyFrom(resolved)
        source.sql.credentials.CopyFrom(original.sql.credentials)
    # a dataset source is already pinned to its version id; the reader adds nothing
    return source


def run_pipeline(
    request: PipelineRequest, sink: ProgressSink, cancel: CancelToken
) -> PipelineOutput:
    """Up to local Parquet parts and their profile; raises JobCancelled or AimassError."""
    run = _Run(request, sink, cancel)
    with (
        job_engine(request.work_dir, request.memory_limit, request.threads, cancel) as con,
        run.parse_errors(),
    ):
        views, resolved = run.sources(con)
        transformed = run.transform(con, views)
        if not keeps_scan_order(con, f"SELECT * FROM {quote_ident(transformed)}"):
            # Joins, aggregates and sorting windows run once, not in every later pass.
            transformed = materialize(con, transformed, "transformed")
        final = run.split(con, transformed)
        out_dir = request.work_dir / "out"
        run.report(Phase.INGEST_PHASE_WRITING, "writing Parquet parts")
        written = write_parts(con, final, out_dir, parquet_version=request.parquet_version)
        if written.row_count == 0 or not written.files:
            raise InvalidArgument(
                "the recipe produced no rows: check that the sources are not empty and that "
                "filters, joins and missing-value steps keep some rows"
            )
        run.report(
            Phase.INGEST_PHASE_PROFILING, "computing statistics", rows_written=written.row_count
        )
        stored = parquet_view(con, written.files)
        result = pb.IngestResult(
            row_count=written.row_count,
            size_bytes=written.size_bytes,
            schema=schema_of(con, stored),
            statistics=profile(con, stored, written.files),
            split_rows=counts(con, stored, split_names(run.split_spec)),
            skipped_rows=run.skipped,
            skipped_examples=run.examples,
            resolved_recipe=resolved,
            warnings=run.warnings,
        )
    return PipelineOutput(result=result, parts=list(written.files), out_dir=out_dir)


def preview_pipeline(request: PipelineRequest, limit: int, cancel: CancelToken) -> PipelineOutput:
    """The dry run: the first rows through the whole recipe, nothing written."""
    run = _Run(request, lambda _progress: None, cancel)
    with (
        job_engine(request.work_dir, request.memory_limit, request.threads, cancel) as con,
        run.parse_errors(),
    ):
        views, resolved = run.sources(con)
        final = run.split(con, run.transform(con, views))
        shown = limited(con, final, limit, "preview")
        schema = schema_of(con, shown)
        names = [f.name for f in schema.fields]
        from services.ingest.rows import table_rows  # pyarrow: previews only

        table = con.sql(f'SELECT {quoted_columns(names)} FROM "{shown}"').to_arrow_table()
        preview = pb.PreviewIngestResponse(
            schema=schema,
            rows=table_rows(table),
            resolved_recipe=resolved,
            malformed=run.examples,
            warnings=run.warnings,
        )
    return PipelineOutput(result=pb.IngestResult(resolved_recipe=resolved), preview=preview)
