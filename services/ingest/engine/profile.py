"""The schema and per-column statistics of a table: the reference later used for drift.

Everything is aggregated inside DuckDB (never pulled into Python):
pass one computes counts, nulls, distinct estimates (HyperLogLog), min / max / mean / std_samp
(exact) and quantiles; pass two the 10 equal-width histogram bins over [min, max]. Top values are
exact counts from a GROUP BY of their one column, for text and booleans that are not
identifier-like (distinct values at most half the non-null values) and numbers with at most
LOW_CARDINALITY distinct values.

Quantiles are exact (linearly interpolated, as pandas; NaN left out) over every value when the
table has at most `quantile_rows` rows (fewer when many numeric columns share the memory budget
QUANTILE_VALUES); above, they are the exact quantiles of a sample of about that many rows, chosen
by a hash of each row's place in the table: the same rows in the same order always give the same
sample and the same quantiles, however they are cut into parts, and a sample of 1,000,000 rows
puts a quantile within about 0.1% of rank of the full data's. A table that is not read from its
parts is always profiled exactly."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from aimass.common.v1 import common_pb2
from services.ingest.engine import (
    ROW_COLUMN,
    Params,
    base_type,
    columns_of,
    is_float_type,
    is_numeric_type,
    is_string_type,
    quote_ident,
)
from services.ingest.engine.duck_types import common_type
from services.ingest.engine.footers import footer_row_counts, footer_text_ranges
from services.ingest.engine.histograms import histogram_bins, histogram_sql

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
# Quantiles are exact up to this many rows, and come from a sample of about this many above.
QUANTILE_ROWS = 1_000_000
# ... at most this many sampled values over all numeric columns (8 bytes each), but never fewer
# than MIN_QUANTILE_ROWS rows.
QUANTILE_VALUES = 16_000_000
MIN_QUANTILE_ROWS = 5_000
_SAMPLED = "_aimass_sampled"
TOP = 10
# Numeric columns with at most this many distinct values also get their top values.
LOW_CARDINALITY = 20
# Text with more distinct values than this share of its non-null values is identifier-like: no top.
IDENTIFIER_SHARE = 0.5
_ORDERED_TEXT = frozenset(
    {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS"}
    | {"TIMESTAMP_NS", "TIME", "VARCHAR", "UUID"}
)


def schema_of(con: duckdb.DuckDBPyConnection, view: str) -> common_pb2.Schema:
    """Every column but ROW_COLUMN (SPLIT_COLUMN included), with DuckDB's type as logical_type."""
    return common_pb2.Schema(
        fields=[
            common_pb2.Field(name=name, type=common_type(t), nullable=True, logical_type=t)
            for name, t in columns_of(con, view).items()
            if name != ROW_COLUMN
        ]
    )


@dataclass
class _Column:
    name: str
    type_name: str
    stats: common_pb2.ColumnStatistics = field(default_factory=common_pb2.ColumnStatistics)
    first: dict[str, Any] = field(default_factory=dict)
    footer_range: tuple[str, str] | None = None

    @property
    def ident(self) -> str:
        return quote_ident(self.name)

    @property
    def numeric(self) -> bool:
        return is_numeric_type(self.type_name)

    @property
    def scalar(self) -> bool:
        return "[" not in self.type_name and base_type(self.type_name) not in (
            "STRUCT",
            "MAP",
            "UNION",
            "LIST",
        )

    def wants_top(self) -> bool:
        """Text and booleans, unless nearly every value is distinct (an identifier: its top
        values would each count once or twice), and low-cardinality numbers."""
        stats = self.stats
        if is_string_type(self.type_name) or self.type_name == "BOOLEAN":
            return stats.distinct_estimate <= max(TOP, IDENTIFIER_SHARE * stats.count)
        return self.numeric and stats.distinct_estimate <= LOW_CARDINALITY


def profile(
    con: duckdb.DuckDBPyConnection,
    view: str,
    parquet_files: Sequence[Path] = (),
    quantile_rows: int = QUANTILE_ROWS,
) -> list[common_pb2.ColumnStatistics]:
    """Statistics of every column but ROW_COLUMN, in column order. When `view` reads exactly
    `parquet_files`, text ranges come from their footers where those are exact, and quantiles of
    more than `quantile_rows` rows from a sample of the parts' rows."""
    columns = [
        _Column(name, type_name)
        for name, type_name in columns_of(con, view).items()
        if name != ROW_COLUMN
    ]
    if not columns:
        return []
    ranges = footer_text_ranges(con, parquet_files) if parquet_files else {}
    for column in columns:
        if is_string_type(column.type_name) and column.name in ranges:
            column.footer_range = ranges[column.name]
    params = Params()
    source = _sampled(con, view, columns, parquet_files, quantile_rows, params)
    _first_pass(con, source, columns, params)
    _second_pass(con, view, columns)
    return [column.stats for column in columns]


@dataclass
class _Source:
    """The first pass's FROM and the condition on the rows quantiles use."""

    sql: str
    condition: str = ""


def _sampled(
    con: duckdb.DuckDBPyConnection,
    view: str,
    columns: list[_Column],
    files: Sequence[Path],
    quantile_rows: int,
    params: Params,
) -> _Source:
    """`view`, or the parts with a column marking a sample of rows when they hold more rows than
    the quantiles' budget allows: the rows whose place in the whole table (the row's number in
    its part plus the rows of the parts before) hashes under a threshold. Where the rows are cut
    into parts does not change it."""
    numeric = sum(1 for column in columns if column.numeric)
    if not files or not numeric:
        return _Source(quote_ident(view))
    budget = max(MIN_QUANTILE_ROWS, QUANTILE_VALUES // numeric)
    wanted = max(1, min(quantile_rows, budget))
    counts = footer_row_counts(con, files)
    total = sum(counts)
    if total <= wanted:
        return _Source(quote_ident(view))
    starts = params.bind(list(itertools.accumulate(counts, initial=0))[:-1])
    threshold = params.bind(min(2**64 - 1, (wanted * 2**64) // total))
    place = f"CAST({starts} AS BIGINT[])[CAST(file_index AS BIGINT) + 1] + file_row_number"
    sql = (
        f"(SELECT *, hash({place}) < CAST({threshold} AS UBIGINT) AS {_SAMPLED} "
        f"FROM read_parquet({params.bind([str(path) for path in files])}))"
    )
    return _Source(sql, f" AND {_SAMPLED}")


def _first_aggregates(column: _Column, sample: str) -> dict[str, str]:
    c = column.ident
    aggregates = {"count": f"count({c})"}
    if not column.scalar:
        return aggregates
    aggregates["distinct"] = f"approx_count_distinct({c})"
    if column.numeric:
        x = f"CAST({c} AS DOUBLE)"
        quantiles = ", ".join(str(q) for q in QUANTILES)
        aggregates.update(
            min=f"min({x})",
            max=f"max({x})",
            mean=f"avg({x})",
            std=f"stddev_samp({x})",
            quantiles=f"quantile_cont({x}, [{quantiles}]) FILTER (WHERE NOT isnan({x}){sample})",
        )
    elif column.footer_range is not None:
        pass  # min_text / max_text are the footer's
    elif base_type(column.type_name) in _ORDERED_TEXT or column.type_name.startswith("ENUM"):
        aggregates.update(
            min_text=f"CAST(min({c}) AS VARCHAR)", max_text=f"CAST(max({c}) AS VARCHAR)"
        )
    return aggregates


def _first_pass(
    con: duckdb.DuckDBPyConnection, source: _Source, columns: list[_Column], params: Params
) -> None:
    selected = ["count(*)"]
    keys: list[tuple[_Column, str]] = []
    for column in columns:
        for key, sql in _first_aggregates(column, source.condition).items():
            selected.append(sql)
            keys.append((column, key))
    query = f"SELECT {', '.join(selected)} FROM {source.sql}"
    row = con.execute(query, params.values).fetchall()[0]
    total = int(row[0])
    for (column, key), value in zip(keys, row[1:], strict=True):
        column.first[key] = value
    for column in columns:
        _fill_first(column, total)


def _fill_first(column: _Column, total: int) -> None:
    stats, first = column.stats, column.first
    stats.name = column.name
    stats.count = int(first["count"])
    stats.null_count = total - stats.count
    stats.distinct_estimate = int(first.get("distinct") or 0)
    for key in ("min", "max", "mean", "std"):
        if first.get(key) is not None:
            setattr(stats, key, float(first[key]))
    low, high = column.footer_range or (first.get("min_text"), first.get("max_text"))
    stats.min_text = str(low or "")
    stats.max_text = str(high or "")
    for q, value in zip(QUANTILES, first.get("quantiles") or [], strict=False):
        if value is not None:
            stats.quantiles.append(common_pb2.Quantile(q=q, value=float(value)))


def _second_pass(con: duckdb.DuckDBPyConnection, view: str, columns: list[_Column]) -> None:
    """The histograms over [min, max] of the first pass (in one pass of their own: counted in the
    first pass, they made it several times dearer in time and memory), then the top values."""
    params = Params()
    selected: list[str] = []
    histogrammed: list[tuple[_Column, tuple[float, float]]] = []
    for column in columns:
        bounds = _finite_range(column)
        if bounds is not None:
            value = f"CAST({column.ident} AS DOUBLE)"
            selected.append(histogram_sql(value, *bounds, params))
            histogrammed.append((column, bounds))
    if selected:
        row = con.execute(
            f"SELECT {', '.join(selected)} FROM {quote_ident(view)}", params.values
        ).fetchall()[0]
        for (column, bounds), value in zip(histogrammed, row, strict=True):
            column.stats.histogram.extend(histogram_bins(*bounds, dict(value or {})))
    for column in columns:
        if column.wants_top():
            _fill_top(con, view, column)


def _finite_range(column: _Column) -> tuple[float, float] | None:
    stats = column.stats
    if not column.numeric or not stats.HasField("min") or not stats.HasField("max"):
        return None
    low, high = stats.min, stats.max
    if low != low or high != high or abs(low) == float("inf") or abs(high) == float("inf"):
        return None
    return low, high


def _fill_top(con: duckdb.DuckDBPyConnection, view: str, column: _Column) -> None:
    """The TOP most frequent values with their exact counts (ties by value as text): a GROUP BY
    over the one column, whose size the distinct estimate bounds (identifier-like text never
    gets here). Types whose text is one-to-one with the value group the values themselves and
    only the groups become text; floats group by their text (0.0 and -0.0 apart)."""
    one_to_one = column.type_name in ("VARCHAR", "BOOLEAN") or (
        column.numeric and not is_float_type(column.type_name)
    )
    value = column.ident if one_to_one else f"CAST({column.ident} AS VARCHAR)"
    for text, count in con.execute(
        f"SELECT CAST(v AS VARCHAR) AS t, n FROM (SELECT {value} AS v, count(*) AS n FROM "
        f"{quote_ident(view)} WHERE {column.ident} IS NOT NULL GROUP BY v) "
        f"ORDER BY n DESC, t LIMIT {TOP}"
    ).fetchall():
        column.stats.top_values.append(common_pb2.ValueCount(value=str(text), count=int(count)))
