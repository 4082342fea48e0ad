"""Train / validation / test splits as a SPLIT_COLUMN on the table, stored with the version so every
consumer sees the same rows.

RANDOM and STRATIFIED rank rows by a seeded hash of ROW_COLUMN (a splitmix-style integer mix
written in SQL, so the assignment is the same on every machine and DuckDB version) and cut the
ranking at the rounded cumulative fractions: part sizes are exact to the row and sum to the row
count. TIME cuts the rows ordered by a column (ties stay together); GROUP sends whole groups,
ordered by a seeded MD5 of the group value, to one part (row fractions hold approximately)."""

from __future__ import annotations

import math

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.common.validation import validate_name
from services.ingest.engine import (
    ROW_COLUMN,
    SPLIT_COLUMN,
    Params,
    ViewNames,
    columns_of,
    create_view,
    quote_ident,
)
from services.ingest.engine.split_methods import (
    HASH_COLUMN,
    SplitPlan,
    cut_ranks,
    group_split,
    stratified_split,
    time_split,
)

ALL = "all"
TOLERANCE = 1e-9
_MASK32 = 0xFFFFFFFF
# murmur3's 32-bit finaliser as macros over UBIGINT (every product stays below 2^64).
_MACROS = (
    "CREATE OR REPLACE TEMP MACRO aimass_mix1(h) AS (xor(h, h >> 16) * 2246822507::UBIGINT) "
    "& 4294967295::UBIGINT",
    "CREATE OR REPLACE TEMP MACRO aimass_mix2(h) AS (xor(h, h >> 13) * 3266489909::UBIGINT) "
    "& 4294967295::UBIGINT",
    "CREATE OR REPLACE TEMP MACRO aimass_fmix32(h) AS "
    "xor(aimass_mix2(aimass_mix1(h)), aimass_mix2(aimass_mix1(h)) >> 16)",
)


def fmix32(value: int) -> int:
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & _MASK32
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & _MASK32
    return value ^ (value >> 16)


def row_hash(row: int, seed: int) -> int:
    """The hash `aimass_row_hash` computes in SQL, in Python (documentation and tests)."""
    low = fmix32((row & _MASK32) ^ (seed & _MASK32))
    high = fmix32((row >> 32) ^ low ^ (((seed >> 32) & _MASK32) ^ 0x9E3779B9))
    return (high << 32) | fmix32(low ^ high ^ 0x7F4A7C15)


def hashed(con: duckdb.DuckDBPyConnection, source: str, seed: int, params: Params) -> str:
    """`source` (a SELECT with ROW_COLUMN) with HASH_COLUMN added: the seeded UBIGINT hash of
    ROW_COLUMN, as `row_hash` computes it. Layered so each step is computed once per row."""
    for macro in _MACROS:
        con.execute(macro)
    low = params.bind(seed & _MASK32)
    high = params.bind(((seed >> 32) & _MASK32) ^ 0x9E3779B9)
    row = f"CAST({quote_ident(ROW_COLUMN)} AS UBIGINT)"
    return (
        f"SELECT * EXCLUDE (_aimass_lo, _aimass_hi), (_aimass_hi << 32) | aimass_fmix32("
        f"xor(xor(_aimass_lo, _aimass_hi), 2135587861::UBIGINT)) AS {HASH_COLUMN} FROM ("
        f"SELECT *, aimass_fmix32(xor(xor({row} >> 32, _aimass_lo), CAST({high} AS UBIGINT))) "
        f"AS _aimass_hi FROM (SELECT *, aimass_fmix32(xor({row} & 4294967295::UBIGINT, "
        f"CAST({low} AS UBIGINT))) AS _aimass_lo FROM ({source})))"
    )


def assign_split(
    con: duckdb.DuckDBPyConnection, view: str, spec: pb.SplitSpec | None, prefix: str
) -> tuple[str, dict[str, int]]:
    """A view with SPLIT_COLUMN added (replacing one the input has), and its rows per split.

    No spec (or method UNSPECIFIED): every row in "all", except that rows of a dataset version
    keep the split they have."""
    columns = columns_of(con, view)
    names = ViewNames(prefix)
    if spec is None or spec.method == pb.SPLIT_METHOD_UNSPECIFIED:
        return _no_split(con, view, columns, names.next())
    plan = _plan(spec, columns)
    params = Params()
    if spec.method == pb.SPLIT_METHOD_RANDOM:
        sql = _random(con, view, plan, params)
    elif spec.method == pb.SPLIT_METHOD_STRATIFIED:
        source = f"SELECT {plan.keep_columns()} FROM {quote_ident(view)}"
        sql = stratified_split(plan, hashed(con, source, spec.seed, params), params)
    elif spec.method == pb.SPLIT_METHOD_TIME:
        sql = time_split(con, view, plan, params, columns[spec.column])
    else:
        sql = group_split(con, view, plan, params, names.next())
    name = create_view(con, names.next(), sql, params.values)
    return name, counts(con, name, plan.names)


def _no_split(
    con: duckdb.DuckDBPyConnection, view: str, columns: dict[str, str], name: str
) -> tuple[str, dict[str, int]]:
    split = quote_ident(SPLIT_COLUMN)
    if SPLIT_COLUMN in columns:
        sql = f"SELECT * REPLACE (coalesce({split}, '{ALL}') AS {split}) FROM {quote_ident(view)}"
    else:
        sql = f"SELECT *, '{ALL}' AS {split} FROM {quote_ident(view)}"
    create_view(con, name, sql)
    return name, counts(con, name, [])


def _plan(spec: pb.SplitSpec, columns: dict[str, str]) -> SplitPlan:
    if spec.method not in pb.SplitMethod.values():
        raise InvalidArgument(f"split.method {spec.method} is not a known split method")
    if not spec.parts:
        raise InvalidArgument("split.parts is empty: name at least one part, e.g. train and test")
    names = [validate_name(part.name, "split part name") for part in spec.parts]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidArgument(f"split part name {duplicates[0]!r} is used twice")
    by_boundaries = spec.method == pb.SPLIT_METHOD_TIME and bool(spec.time_boundaries)
    if not by_boundaries:
        _check_fractions(spec)
    if spec.method != pb.SPLIT_METHOD_RANDOM:
        if not spec.column:
            raise InvalidArgument(
                f"split.column is required for {pb.SplitMethod.Name(spec.method)}"
            )
        if spec.column not in columns or spec.column in (ROW_COLUMN, SPLIT_COLUMN):
            shown = ", ".join(c for c in columns if c not in (ROW_COLUMN, SPLIT_COLUMN))
            raise InvalidArgument(
                f"split.column {spec.column!r} is not a column (columns: {shown[:1000]})"
            )
    cumulative: list[float] = []
    total = 0.0
    for part in spec.parts:
        total += part.fraction
        cumulative.append(total)
    if cumulative:
        cumulative[-1] = 1.0
    return SplitPlan(spec, names, cumulative, view_columns=list(columns))


def _check_fractions(spec: pb.SplitSpec) -> None:
    for part in spec.parts:
        if not (part.fraction > 0 and math.isfinite(part.fraction)):
            raise InvalidArgument(
                f"split part {part.name!r} has fraction {part.fraction}; fractions must be "
                "positive and sum to 1"
            )
    total = math.fsum(part.fraction for part in spec.parts)
    if abs(total - 1.0) > TOLERANCE:
        raise InvalidArgument(f"split fractions sum to {total:.12g}; they must sum to 1")


def _random(con: duckdb.DuckDBPyConnection, view: str, plan: SplitPlan, params: Params) -> str:
    """Cut the hash ranking at the boundaries: each cut is the (hash, row) pair at its rank, so
    the view compares every row with k-1 constants instead of sorting the table again."""
    rows = int(con.execute(f"SELECT count(*) FROM {quote_ident(view)}").fetchall()[0][0])
    cuts = cut_ranks(rows, plan.cumulative)
    found: dict[int, tuple[int, int]] = {}
    row = quote_ident(ROW_COLUMN)
    if cuts and min(cuts) < rows:
        local = Params()
        ranks = hashed(con, f"SELECT {row} FROM {quote_ident(view)}", plan.spec.seed, local)
        wanted = local.bind(sorted(set(cuts)))
        ranked = (
            f"SELECT rn, h, r FROM (SELECT {HASH_COLUMN} AS h, {row} AS r, row_number() OVER "
            f"(ORDER BY {HASH_COLUMN}, {row}) - 1 AS rn FROM ({ranks})) "
            f"WHERE list_contains({wanted}, rn)"
        )
        found = {
            int(rn): (int(h), int(r)) for rn, h, r in con.execute(ranked, local.values).fetchall()
        }
    branches = []
    for index, cut in enumerate(cuts):
        name = params.bind(plan.names[index])
        if cut not in found:  # the cut is past the last row: the rest is this part
            branches.append(f"WHEN true THEN {name}")
            break
        h, r = (params.bind(value) for value in found[cut])
        h = f"CAST({h} AS UBIGINT)"
        branches.append(
            f"WHEN {HASH_COLUMN} < {h} OR ({HASH_COLUMN} = {h} AND {row} < {r}) THEN {name}"
        )
    last = params.bind(plan.names[-1])
    source = hashed(
        con, f"SELECT {plan.keep_columns()} FROM {quote_ident(view)}", plan.spec.seed, params
    )
    return (
        f"SELECT * EXCLUDE ({HASH_COLUMN}), CASE {' '.join(branches)} ELSE {last} END AS "
        f"{quote_ident(SPLIT_COLUMN)} FROM ({source})"
    )


def counts(con: duckdb.DuckDBPyConnection, view: str, names: list[str]) -> dict[str, int]:
    """Rows per split (every part named, 0 when it got no row)."""
    result = dict.fromkeys(names, 0)
    split = quote_ident(SPLIT_COLUMN)
    for name, rows in con.execute(
        f"SELECT {split}, count(*) FROM {quote_ident(view)} GROUP BY {split}"
    ).fetchall():
        result[str(name)] = int(rows)
    return result
