"""The SQL of the STRATIFIED, TIME and GROUP splits (RANDOM and the checks are in splits.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import (
    ROW_COLUMN,
    SPLIT_COLUMN,
    Params,
    is_scalar_type,
    quote_ident,
)

HASH_COLUMN = "_aimass_h"


@dataclass
class SplitPlan:
    spec: pb.SplitSpec
    names: list[str]
    cumulative: list[float]  # cumulative fractions, the last exactly 1
    view_columns: list[str] = field(default_factory=list)

    def keep_columns(self) -> str:
        """The input's columns, without a SPLIT_COLUMN it already has (it is replaced)."""
        if SPLIT_COLUMN in self.view_columns:
            return f"* EXCLUDE ({quote_ident(SPLIT_COLUMN)})"
        return "*"


def cut_ranks(rows: int, cumulative: list[float]) -> list[int]:
    """Row ranks where each part but the last ends: round(rows * cumulative fraction)."""
    return [min(rows, math.floor(rows * fraction + 0.5)) for fraction in cumulative[:-1]]


def stratified_split(plan: SplitPlan, hashed_source: str, params: Params) -> str:
    """Within each value of the column, the hash ranking is cut at that value's own rounded
    cumulative fractions: every class keeps the proportions, exact to the row."""
    column = quote_ident(plan.spec.column)
    branches = [
        f"WHEN _aimass_rn < floor(_aimass_n * {params.bind(fraction)} + 0.5) "
        f"THEN {params.bind(name)}"
        for fraction, name in zip(plan.cumulative[:-1], plan.names, strict=False)
    ]
    last = params.bind(plan.names[-1])
    return (
        f"SELECT * EXCLUDE ({HASH_COLUMN}, _aimass_rn, _aimass_n), CASE {' '.join(branches)} "
        f"ELSE {last} END AS {quote_ident(SPLIT_COLUMN)} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY {column} ORDER BY {HASH_COLUMN}, {quote_ident(ROW_COLUMN)}) - 1 AS "
        f"_aimass_rn, count(*) OVER (PARTITION BY {column}) AS _aimass_n FROM ({hashed_source}))"
    )


def time_split(
    con: duckdb.DuckDBPyConnection, view: str, plan: SplitPlan, params: Params, type_name: str
) -> str:
    """Rows ordered by the column: a row goes to the first part whose cut is later than its
    value. Cuts are the given boundaries, or the values at the fraction ranks (ties together)."""
    column, source = quote_ident(plan.spec.column), quote_ident(view)
    nulls, rows = con.execute(
        f"SELECT count(*) FILTER (WHERE {column} IS NULL), count(*) FROM {source}"
    ).fetchall()[0]
    if nulls:
        raise InvalidArgument(
            f"split.column {plan.spec.column!r} has {nulls} null values; a time split needs a "
            "time on every row: drop or fill them first (missing_values step)"
        )
    if plan.spec.time_boundaries:
        cuts = _given_cuts(con, plan, type_name)
    else:
        cuts = _rank_cuts(con, column, source, cut_ranks(int(rows), plan.cumulative))
    branches = []
    for cut, name in zip(cuts, plan.names, strict=False):
        bound = params.bind(name)
        if cut is None:  # past the last row: every remaining row is in this part
            branches.append(f"WHEN true THEN {bound}")
            break
        branches.append(f"WHEN {column} < {params.bind(cut)} THEN {bound}")
    last = params.bind(plan.names[-1])
    return (
        f"SELECT {plan.keep_columns()}, CASE {' '.join(branches)} ELSE {last} END AS "
        f"{quote_ident(SPLIT_COLUMN)} FROM {source}"
    )


def _rank_cuts(
    con: duckdb.DuckDBPyConnection, column: str, source: str, ranks: list[int]
) -> list[Any]:
    found = dict(
        con.execute(
            f"SELECT rn, v FROM (SELECT {column} AS v, row_number() OVER (ORDER BY {column}) - 1 "
            f"AS rn FROM {source}) WHERE list_contains($ranks, rn)",
            {"ranks": sorted(set(ranks))},
        ).fetchall()
    )
    return [found.get(rank) for rank in ranks]


def _given_cuts(con: duckdb.DuckDBPyConnection, plan: SplitPlan, type_name: str) -> list[Any]:
    given = list(plan.spec.time_boundaries)
    if len(given) != len(plan.names) - 1:
        raise InvalidArgument(
            f"split.time_boundaries has {len(given)} values; {len(plan.names)} parts need "
            f"{len(plan.names) - 1} ascending boundaries"
        )
    if not is_scalar_type(type_name):
        raise InvalidArgument(f"split.column {plan.spec.column!r} ({type_name}) cannot be ordered")
    cuts = []
    for text in given:
        value = con.execute(f"SELECT TRY_CAST($v AS {type_name})", {"v": text}).fetchall()[0][0]
        if value is None:
            raise InvalidArgument(
                f"split.time_boundaries value {text!r} is not a {type_name} (use ISO 8601, "
                "e.g. 2024-01-31 or 2024-01-31T12:00:00)"
            )
        cuts.append(value)
    if any(later <= earlier for earlier, later in zip(cuts, cuts[1:], strict=False)):
        raise InvalidArgument("split.time_boundaries must be in ascending order")
    return cuts


def group_split(
    con: duckdb.DuckDBPyConnection, view: str, plan: SplitPlan, params: Params, table: str
) -> str:
    """Groups ordered by MD5(seed:value) fill the parts in turn; a group goes to the part its
    middle row falls in, so no group is in two parts and fractions hold approximately."""
    column, source = quote_ident(plan.spec.column), quote_ident(view)
    local = Params()
    seed = local.bind(str(plan.spec.seed))
    branches = " ".join(
        f"WHEN _aimass_mid < {local.bind(fraction)} THEN {index}"
        for index, fraction in enumerate(plan.cumulative[:-1])
    )
    con.execute(
        f"CREATE TEMP TABLE {quote_ident(table)} AS SELECT _aimass_g, CASE {branches} ELSE "
        f"{len(plan.names) - 1} END AS _aimass_part FROM (SELECT _aimass_g, (sum(_aimass_c) OVER "
        "(ORDER BY _aimass_gh, _aimass_g ROWS UNBOUNDED PRECEDING) - _aimass_c / 2.0) / "
        "sum(_aimass_c) OVER () AS _aimass_mid FROM (SELECT "
        f"{column} AS _aimass_g, count(*) AS _aimass_c, md5_number(concat({seed}, ':', "
        f"CAST({column} AS VARCHAR))) AS _aimass_gh FROM {source} GROUP BY {column}))",
        local.values,
    )
    cases = " ".join(
        f"WHEN {index} THEN {params.bind(name)}" for index, name in enumerate(plan.names)
    )
    keep = "v." + plan.keep_columns()
    return (
        f"SELECT {keep}, CASE g._aimass_part {cases} END AS {quote_ident(SPLIT_COLUMN)} FROM "
        f"{source} v JOIN {quote_ident(table)} g ON v.{column} IS NOT DISTINCT FROM g._aimass_g"
    )
