"""Train / validation / test splits as a SPLIT_COLUMN on the table, stored with the version so every
consumer sees the same rows.

RANDOM ranks rows by DuckDB's 64-bit hash of the seed and the row's values (not its position: a
pass that numbers the rows of a CSV runs on one thread, and identical rows stay together). Up to
EXACT_RANDOM_SPLIT_ROWS rows the ranking is cut at the rounded cumulative fractions, so part sizes
are exact to the row; above, each row goes by its hash against the fractions of 2^64 in the pass
that writes it, as Spark's randomSplit does (sizes within a small fraction of a percent). The hash
is DuckDB's: a rebuild with the same DuckDB release assigns the same rows. STRATIFIED ranks each
class by the same hash (ties by row) and cuts it exactly. TIME cuts the rows ordered by a column
(ties stay together); GROUP sends whole groups, ordered by a seeded MD5 of the group value, to one
part (row fractions hold approximately)."""

from __future__ import annotations

import math
from fractions import Fraction

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
# Random splits of at most this many rows are exact to the row; larger ones go row by row.
EXACT_RANDOM_SPLIT_ROWS = 1_000_000
TOLERANCE = 1e-9


def assign_split(
    con: duckdb.DuckDBPyConnection,
    view: str,
    spec: pb.SplitSpec | None,
    prefix: str,
    exact_rows: int = EXACT_RANDOM_SPLIT_ROWS,
) -> str:
    """A view with SPLIT_COLUMN added (replacing one the input has). Its rows per split are
    counted where they were written (`counts`): counting the view would be one more pass.

    No spec (or method UNSPECIFIED): every row in "all", except that rows of a dataset version
    keep the split they have."""
    columns = columns_of(con, view)
    names = ViewNames(prefix)
    if spec is None or spec.method == pb.SPLIT_METHOD_UNSPECIFIED:
        return _no_split(con, view, columns, names.next())
    plan = _plan(spec, columns)
    params = Params()
    if spec.method == pb.SPLIT_METHOD_RANDOM:
        sql = _random(con, view, plan, params, exact_rows)
    elif spec.method == pb.SPLIT_METHOD_STRATIFIED:
        source = f"SELECT {plan.keep_columns()} FROM {quote_ident(view)}"
        sql = stratified_split(plan, content_hashed(plan, source, params), params)
    elif spec.method == pb.SPLIT_METHOD_TIME:
        sql = time_split(con, view, plan, params, columns[spec.column])
    else:
        sql = group_split(con, view, plan, params, names.next())
    return create_view(con, names.next(), sql, params.values)


def _no_split(con: duckdb.DuckDBPyConnection, view: str, columns: dict[str, str], name: str) -> str:
    split = quote_ident(SPLIT_COLUMN)
    if SPLIT_COLUMN in columns:
        sql = f"SELECT * REPLACE (coalesce({split}, '{ALL}') AS {split}) FROM {quote_ident(view)}"
    else:
        sql = f"SELECT *, '{ALL}' AS {split} FROM {quote_ident(view)}"
    return create_view(con, name, sql)


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


def content_hashed(plan: SplitPlan, source: str, params: Params) -> str:
    """`source` with HASH_COLUMN added: DuckDB's 64-bit hash of the seed and every user column.

    A row's hash depends on its values only, never on its position, so no pass has to number the
    rows (numbering a CSV scan serialises it), and identical rows always land in the same part."""
    columns = [c for c in plan.view_columns if c not in (ROW_COLUMN, SPLIT_COLUMN)]
    seed = params.bind(plan.spec.seed)
    values = ", ".join(quote_ident(column) for column in columns)
    return f"SELECT *, hash(CAST({seed} AS UBIGINT), {values}) AS {HASH_COLUMN} FROM ({source})"


def _random(
    con: duckdb.DuckDBPyConnection, view: str, plan: SplitPlan, params: Params, exact_rows: int
) -> str:
    """Up to `exact_rows` rows: the (hash, row) ranking cut at the rounded cumulative fractions,
    so sizes are exact; more: each row by its hash against the fractions of 2^64, decided in the
    pass that writes it."""
    source = f"SELECT {plan.keep_columns()} FROM {quote_ident(view)}"
    rows = int(
        con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {quote_ident(view)} LIMIT {int(exact_rows) + 1})"
        ).fetchall()[0][0]
    )
    if rows > exact_rows:
        branches = [
            f"WHEN {HASH_COLUMN} < CAST({params.bind(_threshold(fraction))} AS UBIGINT) "
            f"THEN {params.bind(name)}"
            for fraction, name in zip(plan.cumulative[:-1], plan.names, strict=False)
        ]
        return _assigned(plan, content_hashed(plan, source, params), branches, params)
    cuts = cut_ranks(rows, plan.cumulative)
    found: dict[int, tuple[int, int]] = {}
    row = quote_ident(ROW_COLUMN)
    if cuts and min(cuts) < rows:
        local = Params()
        ranks = content_hashed(plan, source, local)
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
    return _assigned(plan, content_hashed(plan, source, params), branches, params)


def _threshold(fraction: float) -> int:
    """The UBIGINT below which a hash falls with probability `fraction` (exact arithmetic)."""
    return min(2**64 - 1, math.floor(Fraction(fraction) * 2**64))


def _assigned(plan: SplitPlan, hashed_source: str, branches: list[str], params: Params) -> str:
    last = params.bind(plan.names[-1])
    return (
        f"SELECT * EXCLUDE ({HASH_COLUMN}), CASE {' '.join(branches)} ELSE {last} END AS "
        f"{quote_ident(SPLIT_COLUMN)} FROM ({hashed_source})"
    )


def split_names(spec: pb.SplitSpec | None) -> list[str]:
    """The parts a spec names (each gets a count, 0 when empty); none without a split."""
    if spec is None or spec.method == pb.SPLIT_METHOD_UNSPECIFIED:
        return []
    return [part.name for part in spec.parts]


def counts(con: duckdb.DuckDBPyConnection, view: str, names: list[str]) -> dict[str, int]:
    """Rows per split (every part named, 0 when it got no row)."""
    result = dict.fromkeys(names, 0)
    split = quote_ident(SPLIT_COLUMN)
    for name, rows in con.execute(
        f"SELECT {split}, count(*) FROM {quote_ident(view)} GROUP BY {split}"
    ).fetchall():
        result[str(name)] = int(rows)
    return result
