"""What the Parquet parts' footers already know, read instead of scanning the rows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb


def footer_row_counts(con: duckdb.DuckDBPyConnection, files: Sequence[Path]) -> list[int]:
    """The rows of each file, in the order given, from their footers."""
    paths = [str(path) for path in files]
    found = dict(
        con.execute(
            "SELECT file_name, num_rows FROM parquet_file_metadata($files)", {"files": paths}
        ).fetchall()
    )
    return [int(found.get(path) or 0) for path in paths]


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
