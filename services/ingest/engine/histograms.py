"""Equal-width histograms over [low, high]: the SQL of one aggregate and the bins it gives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimass.common.v1 import common_pb2
from services.ingest.engine import Params

BINS = 10


def histogram_sql(value: str, low: float, high: float, params: Params) -> str:
    """The aggregate of `value` (a DOUBLE expression) counting each bin's values: a constant
    column's values all in one bin; else NaN and infinities left out."""
    if high == low:
        return f"histogram(0) FILTER (WHERE {value} IS NOT NULL)"
    # The bin is the number of inner edges at or below the value (the edges reported, exactly),
    # found by a binary search over the edges: four comparisons a value instead of nine.
    width = (high - low) / BINS
    edges = [params.bind(low + index * width) for index in range(1, BINS)]

    def search(first: int, last: int) -> str:
        """The bin among first..last: those below the edge in the middle, or those above."""
        if first == last:
            return str(first)
        middle = (first + last + 1) // 2
        below, above = search(first, middle - 1), search(middle, last)
        return f"CASE WHEN {value} < {edges[middle - 1]} THEN {below} ELSE {above} END"

    return f"histogram({search(0, BINS - 1)}) FILTER (WHERE isfinite({value}))"


def histogram_bins(
    low: float, high: float, counts: Mapping[Any, Any]
) -> list[common_pb2.HistogramBin]:
    """The bins `histogram_sql(value, low, high)` counted, with their edges."""
    bins = 1 if high == low else BINS
    width = (high - low) / bins
    return [
        common_pb2.HistogramBin(
            lower=low + index * width,
            upper=high if index == bins - 1 else low + (index + 1) * width,
            count=int(counts.get(index, 0)),
        )
        for index in range(bins)
    ]
