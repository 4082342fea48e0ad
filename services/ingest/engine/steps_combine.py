"""Combining steps: join another source on keys, append other sources' rows (union by name).

Both renumber the row column 0..n-1 in a deterministic order: a join in the order of the left
rows, then of the right rows (right-only rows of a full outer join last); a union in the order of
its inputs, each in its own row order. Join keys with the same name on both sides become one
column (coalesced in a full outer join); keys never match on null (SQL semantics).
"""

from __future__ import annotations

from collections.abc import Mapping

from aimass.ingest.v1 import ingest_pb2 as pb
from services.ingest.engine import quote_ident, type_family
from services.ingest.engine.steps_base import ROW, StepContext, unique, user_columns

JoinType = pb.JoinStep.JoinType
_JOINS = {
    JoinType.JOIN_TYPE_UNSPECIFIED: "INNER JOIN",
    JoinType.JOIN_TYPE_INNER: "INNER JOIN",
    JoinType.JOIN_TYPE_LEFT: "LEFT JOIN",
    JoinType.JOIN_TYPE_FULL_OUTER: "FULL OUTER JOIN",
}
SOURCE_ORDER = quote_ident("_aimass_source")
RIGHT_ROW = quote_ident("_aimass_right_row")


def _source(ctx: StepContext, alias: str, what: str) -> tuple[str, dict[str, str]]:
    if alias not in ctx.sources:
        known = ", ".join(repr(name) for name in sorted(ctx.sources)) or "none"
        raise ctx.error(f"{what}: unknown source alias {alias!r}; sources are {known}")
    view = ctx.sources[alias]
    return view, ctx.columns(view)


def _numbered(columns: list[str], inner: str) -> str:
    """Rows of `inner` (already in order) numbered from 0 as the row column."""
    select = ", ".join(quote_ident(name) for name in columns)
    return f"SELECT row_number() OVER () - 1 AS {ROW}, {select} FROM ({inner})"


def apply_join(ctx: StepContext, view: str, step: pb.JoinStep) -> str:
    left = ctx.columns(view)
    right_view, right = _source(ctx, step.right, "right")
    if step.type not in _JOINS:
        raise ctx.error(f"type {step.type} is not INNER, LEFT or FULL_OUTER")
    if not step.keys:
        raise ctx.error("keys is empty: give the columns to join on")
    pairs = [(key.left, key.right or key.left) for key in step.keys]
    unique([pair[0] for pair in pairs], ctx, "keys.left")
    ctx.require(left, [pair[0] for pair in pairs], "keys.left")
    ctx.require(right, [pair[1] for pair in pairs], f"keys.right (source {step.right!r})")
    for left_key, right_key in pairs:
        if type_family(left[left_key]) != type_family(right[right_key]):
            raise ctx.error(
                f"join key {left_key!r} is {left[left_key]} but {step.right!r}.{right_key!r} is "
                f"{right[right_key]}; cast one side so both have the same type"
            )
    outer = step.type == JoinType.JOIN_TYPE_FULL_OUTER
    select, names = _join_select(ctx, left, right, pairs, step.suffix or "_right", outer)
    condition = " AND ".join(f"l.{quote_ident(a)} = r.{quote_ident(b)}" for a, b in pairs)
    inner = (
        f"SELECT {select}, l.{ROW} AS {ROW}, r.{ROW} AS {RIGHT_ROW} "
        f"FROM {quote_ident(view)} AS l {_JOINS[step.type]} {quote_ident(right_view)} AS r "
        f"ON {condition} ORDER BY {ROW} NULLS LAST, {RIGHT_ROW}"
    )
    return ctx.view(_numbered(names, inner))


def _join_select(
    ctx: StepContext,
    left: Mapping[str, str],
    right: Mapping[str, str],
    pairs: list[tuple[str, str]],
    suffix: str,
    outer: bool,
) -> tuple[str, list[str]]:
    """The joined select list (l./r. qualified) and its output names, left columns first."""
    merged = {a for a, b in pairs if a == b}
    parts: list[str] = []
    names: list[str] = []
    for name in user_columns(left):
        column = quote_ident(name)
        if name in merged and outer:
            parts.append(f"COALESCE(l.{column}, r.{column}) AS {column}")
        else:
            parts.append(f"l.{column} AS {column}")
        names.append(name)
    for name in user_columns(right):
        if name in merged:
            continue
        output = name
        if name in left:
            output = ctx.new_name(name + suffix, f"suffixed right column {name!r}")
            if output in left or output in right:
                raise ctx.error(
                    f"right column {name!r} clashes and {output!r} exists too; choose another "
                    "suffix or rename the column first"
                )
        parts.append(f"r.{quote_ident(name)} AS {quote_ident(output)}")
        names.append(output)
    return ", ".join(parts), names


def apply_union(ctx: StepContext, view: str, step: pb.UnionStep) -> str:
    if not step.sources:
        raise ctx.error("sources is empty: give the aliases of the sources to append")
    parts = [("the current table", view, ctx.columns(view))]
    for alias in step.sources:
        source_view, columns = _source(ctx, alias, "sources")
        parts.append((f"source {alias!r}", source_view, columns))
    names = _union_columns(ctx, parts, step.allow_missing_columns)
    selects = []
    for index, (_, part_view, columns) in enumerate(parts):
        values = ", ".join(
            quote_ident(name) if name in columns else f"NULL AS {quote_ident(name)}"
            for name in names
        )
        selects.append(
            f"SELECT {index} AS {SOURCE_ORDER}, {ROW}, {values} FROM {quote_ident(part_view)}"
        )
    union = " UNION ALL ".join(f"({select})" for select in selects)
    distinct = ""
    if step.distinct:
        partition = ", ".join(quote_ident(name) for name in names)
        distinct = (
            f" QUALIFY row_number() OVER (PARTITION BY {partition} "
            f"ORDER BY {SOURCE_ORDER}, {ROW}) = 1"
        )
    inner = f"SELECT * FROM ({union}){distinct} ORDER BY {SOURCE_ORDER}, {ROW}"
    return ctx.view(_numbered(names, inner))


def _union_columns(
    ctx: StepContext, parts: list[tuple[str, str, dict[str, str]]], allow_missing: bool
) -> list[str]:
    """The union's columns (the current table's, then new ones); refuses differing schemas."""
    base = parts[0][2]
    names = user_columns(base)
    problems: list[str] = []
    types = {name: (base[name], parts[0][0]) for name in names}
    for label, _, columns in parts[1:]:
        own = user_columns(columns)
        missing = [name for name in names if name not in columns]
        extra = [name for name in own if name not in types]
        if missing:
            problems.append(f"{label} lacks {', '.join(map(repr, missing))}")
        if extra:
            problems.append(f"{label} adds {', '.join(map(repr, extra))}")
        for name in own:
            if name in types and type_family(types[name][0]) != type_family(columns[name]):
                raise ctx.error(
                    f"column {name!r} is {types[name][0]} in {types[name][1]} but "
                    f"{columns[name]} in {label}; cast it first so the types match"
                )
            types.setdefault(name, (columns[name], label))
        names.extend(extra)
    if problems and not allow_missing:
        raise ctx.error(
            "schemas differ: " + "; ".join(problems) + "; align the columns (select, rename) "
            "or set allow_missing_columns to fill the missing ones with nulls"
        )
    if problems:
        ctx.warn("columns filled with nulls where missing: " + "; ".join(problems))
    return names
