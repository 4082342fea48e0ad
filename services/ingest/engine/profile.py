"""The schema and per-column statistics of a table: the reference later used for drift.

Everything is aggregated inside DuckDB (never pulled into Python):
pass one computes counts, nulls, distinct estimates (HyperLogLog), min / max / mean / std_samp
(exact) and quantiles (approx_quantile: a T-Digest estimate); pass two the 10 equal-width histogram
bins over [min, max]. Top values are exact counts from a GROUP BY of their one column, for text
and booleans that are not identifier-like (distinct values at most half the non-null values) and
numbers with at most LOW_CARDINALITY distinct values."""

from __future__ import annotations

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
    is_numeric_type,
    is_string_type,
    quote_ident,
)
from services.ingest.engine.duck_types import common_type

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
BINS = 10
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
    con: duckdb.DuckDBPyConnection, view: str, parquet_files: Sequence[Path] = ()
) -> list[common_pb2.ColumnStatistics]:
    """Statistics of every column but ROW_COLUMN, in column order. When `view` reads exactly
    `parquet_files`, text ranges come from their footers where those are exact."""
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
    _first_pass(con, view, columns)
    _second_pass(con, view, columns)
    return [column.stats for column in columns]


def footer_text_ranges(
    con: duckdb.DuckDBPyConnection, files: Sequence[Path]
) -> dict[str, tuple[str, str]]:
    """Column -> (min, max) of the text columns whose every row group's footer statistics are
    exact (or the group holds only nulls): comparing long strings over every row costs more
    than the rest of the first pass. Strings compare by code point, as UTF-8 bytes do."""
    groups = con.execute(
        "SELECT path_in_schema, type, stats_min_value, stats_max_value, min_is_exact, "
        "max_is_exact, num_values, stats_null_count FROM parquet_metadata($files)",
        {"files": [str(path) for path in files]},
    ).fetchall()
    found: dict[str, tuple[str, str] | None] = {}
    for name, physical, low, high, low_exact, high_exact, values, nulls in groups:
        if name in found and found[name] is None:
            continue
        if values is not None and values == nulls:  # only nulls: nothing to compare
            found.setdefault(name, ("", ""))
            continue
        if physical != "BYTE_ARRAY" or low is None or high is None:
            found[name] = None
            continue
        if not (low_exact and high_exact):
            found[name] = None
            continue
        before = found.get(name)
        if before is None or before == ("", ""):
            found[name] = (low, high)
        else:
            found[name] = (min(before[0], low), max(before[1], high))
    return {name: bounds for name, bounds in found.items() if bounds and bounds != ("", "")}


def _first_aggregates(column: _Column) -> dict[str, str]:
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
            quantiles=f"approx_quantile({x}, [{quantiles}])",
        )
    elif column.footer_range is not None:
        pass  # min_text / max_text are the footer's
    elif base_type(column.type_name) in _ORDERED_TEXT or column.type_name.startswith("ENUM"):
        aggregates.update(
            min_text=f"CAST(min({c}) AS VARCHAR)", max_text=f"CAST(max({c}) AS VARCHAR)"
        )
    return aggregates


def _first_pass(con: duckdb.DuckDBPyConnection, view: str, columns: list[_Column]) -> None:
    selected = ["count(*)"]
    keys: list[tuple[_Column, str]] = []
    for column in columns:
        for key, sql in _first_aggregates(column).items():
            selected.append(sql)
            keys.append((column, key))
    row = con.execute(f"SELECT {', '.join(selected)} FROM {quote_ident(view)}").fetchall()[0]
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
    params = Params()
    selected: list[str] = []
    histogrammed: list[_Column] = []
    for column in columns:
        histogram = _histogram_sql(column, params)
        if histogram:
            selected.append(histogram)
            histogrammed.append(column)
    if selected:
        row = con.execute(
            f"SELECT {', '.join(selected)} FROM {quote_ident(view)}", params.values
        ).fetchall()[0]
        for column, value in zip(histogrammed, row, strict=True):
            _fill_histogram(column, dict(value or {}))
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


def _histogram_sql(column: _Column, params: Params) -> str:
    bounds = _finite_range(column)
    if bounds is None:
        return ""
    low, high = bounds
    x = f"CAST({column.ident} AS DOUBLE)"
    if high == low:
        return f"histogram(0) FILTER (WHERE {x} IS NOT NULL)"
    # The bin is the number of inner edges at or below the value: the edges reported, exactly.
    width = (high - low) / BINS
    edges = " + ".join(
        f"CAST({x} >= {params.bind(low + index * width)} AS INTEGER)" for index in range(1, BINS)
    )
    return f"histogram({edges}) FILTER (WHERE isfinite({x}))"


def _fill_histogram(column: _Column, counts: dict[Any, Any]) -> None:
    bounds = _finite_range(column)
    assert bounds is not None
    low, high = bounds
    bins = 1 if high == low else BINS
    width = (high - low) / bins
    for index in range(bins):
        upper = high if index == bins - 1 else low + (index + 1) * width
        column.stats.histogram.append(
            common_pb2.HistogramBin(
                lower=low + index * width, upper=upper, count=int(counts.get(index, 0))
            )
        )


def _fill_top(con: duckdb.DuckDBPyConnection, view: str, column: _Column) -> None:
    """The TOP most frequent values with their exact counts (ties by value): a GROUP BY over the
    one column, whose size the distinct estimate bounds (identifier-like text never gets here)."""
    text = f"CAST({column.ident} AS VARCHAR)"
    for value, count in con.execute(
        f"SELECT {text} AS v, count(*) AS n FROM {quote_ident(view)} WHERE {column.ident} IS NOT "
        f"NULL GROUP BY v ORDER BY n DESC, v LIMIT {TOP}"
    ).fetchall():
        column.stats.top_values.append(common_pb2.ValueCount(value=str(value), count=int(count)))
