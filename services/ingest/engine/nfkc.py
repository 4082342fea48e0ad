"""NFKC over an Arrow vector of text, for the `clean_strings` step's DuckDB function.

A module of its own so that pyarrow loads with the first step that normalises text, not with
every job (DuckDB reads the function's annotations when it is registered).
"""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pyarrow.compute as pc


def nfkc(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pc.all(pc.string_is_ascii(values)).as_py() is not False:
        return values  # ASCII text is its own NFKC form
    normalized = [
        None if value is None else unicodedata.normalize("NFKC", value)
        for value in values.to_pylist()
    ]
    return pa.array(normalized, type=pa.string())
