"""Cleaning steps: drop duplicate rows, treat outliers, clean strings.

Outlier bounds come from a first pass over the step's input (a `Pending` aggregate, which the
recipe may share with other steps' passes): IQR gives [Q1 - k*IQR, Q3 + k*IQR] (quartiles
interpolated linearly, as pandas), z-score [mean - t*std, mean + t*std] (sample std); nulls and
NaN are neither counted nor changed. Clipping an integer column clips to the whole
numbers inside the bounds. String cleaning runs NFKC, collapse, trim, then case; null tokens are
cleaned the same way before they are compared, so "N/A" matches " n/a " under trim + lower.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence

import duckdb
from duckdb.func import PythonUDFType

from aimass.ingest.v1 import ingest_pb2 as pb
from services.ingest.engine import (
    Params,
    is_float_type,
    is_integer_type,
    is_numeric_type,
    is_string_type,
    quote_ident,
)
from services.ingest.engine.expressions import WHITESPACE_CLASS, trim_sql
from services.ingest.engine.steps_base import (
    ROW,
    Effect,
    Pending,
    StepContext,
    projection,
    unique,
    user_columns,
)
from services.ingest.engine.steps_missing import missing_sql

Keep = pb.DropDuplicatesStep.Keep
Case = pb.StringCleanStep.Case
NFKC_FUNCTION = "aimass_nfkc"
MAX_TOKENS = 10_000
_DEFAULT_THRESHOLD = {pb.OUTLIER_METHOD_IQR: 1.5, pb.OUTLIER_METHOD_ZSCORE: 3.0}


def apply_drop_duplicates(ctx: StepContext, view: str, step: pb.DropDuplicatesStep) -> str:
    columns = ctx.columns(view)
    subset = unique(list(step.subset), ctx, "subset")
    ctx.require(columns, subset, "subset")
    partition = ", ".join(quote_ident(name) for name in subset or user_columns(columns))
    if step.keep in (Keep.KEEP_UNSPECIFIED, Keep.KEEP_FIRST, Keep.KEEP_LAST):
        direction = "DESC" if step.keep == Keep.KEEP_LAST else "ASC"
        keep = f"row_number() OVER (PARTITION BY {partition} ORDER BY {ROW} {direction}) = 1"
    elif step.keep == Keep.KEEP_NONE:
        keep = f"count(*) OVER (PARTITION BY {partition}) = 1"
    else:
        raise ctx.error(f"keep {step.keep} is not FIRST, LAST or NONE")
    return ctx.view(f"SELECT * FROM {quote_ident(view)} QUALIFY {keep} ORDER BY {ROW}")


def apply_outliers(ctx: StepContext, view: str, step: pb.OutliersStep) -> str | Pending:
    pending = declare_outliers(ctx, view, step)
    if pending is None:
        ctx.warn("no numeric columns; the step changes nothing")
        return view
    return pending


def declare_outliers(ctx: StepContext, view: str, step: pb.OutliersStep) -> Pending | None:
    """The bounds' aggregates over the step's input (None: no numeric column), unrun."""
    columns = ctx.columns(view)
    method = step.method or pb.OUTLIER_METHOD_IQR
    if method not in _DEFAULT_THRESHOLD:
        raise ctx.error(f"method {method} is not IQR or ZSCORE")
    action = step.action or pb.OUTLIER_ACTION_CLIP
    if action not in (
        pb.OUTLIER_ACTION_CLIP,
        pb.OUTLIER_ACTION_DROP_ROW,
        pb.OUTLIER_ACTION_SET_NULL,
    ):
        raise ctx.error(f"action {action} is not CLIP, DROP_ROW or SET_NULL")
    if not math.isfinite(step.threshold) or step.threshold < 0:
        raise ctx.error(f"threshold {step.threshold} must be a positive number (or 0: default)")
    threshold = step.threshold or _DEFAULT_THRESHOLD[method]
    names = unique(list(step.columns), ctx, "columns")
    ctx.require(columns, names, "columns")
    for name in names:
        if not is_numeric_type(columns[name]):
            raise ctx.error(f"column {name!r} is {columns[name]}; outliers need numeric columns")
    names = _outlier_targets(columns, names)
    if not names:
        return None
    parts = [_bound_aggregate(name, columns[name], method) for name in names]

    def finish(ctx: StepContext, view: str, row: Sequence[object]) -> str:
        bounds = _bounds(ctx, names, row, method, threshold)
        if not bounds:
            return view
        ctx.outlier_bounds.update(bounds)
        return _treat(ctx, view, columns, bounds, action)

    holistic = len(names) if method == pb.OUTLIER_METHOD_IQR else 0
    return Pending(lambda _params: parts, frozenset(names), finish, holistic)


def _outlier_targets(columns: Mapping[str, str], names: list[str]) -> list[str]:
    return names or [n for n in user_columns(columns) if is_numeric_type(columns[n])]


def outliers_effect(step: pb.OutliersStep, columns: Mapping[str, str]) -> Effect:
    targets = frozenset(_outlier_targets(columns, list(step.columns)))
    return Effect(keeps_rows=step.action != pb.OUTLIER_ACTION_DROP_ROW, changes=targets)


def _bound_aggregate(name: str, type_name: str, method: int) -> str:
    """IQR: both quartiles (one state holds the column's values once); z-score: mean and std."""
    value = f"CAST({quote_ident(name)} AS DOUBLE)"
    valid = f"FILTER (WHERE NOT {missing_sql(name, type_name)})"
    if method == pb.OUTLIER_METHOD_IQR:
        return f"quantile_cont({value}, [0.25, 0.75]) {valid}"
    return f"[avg({value}) {valid}, stddev_samp({value}) {valid}]"


def _bounds(
    ctx: StepContext,
    names: list[str],
    row: Sequence[object],
    method: int,
    threshold: float,
) -> dict[str, tuple[float, float]]:
    bounds: dict[str, tuple[float, float]] = {}
    for name, pair in zip(names, row, strict=True):
        first, second = pair if isinstance(pair, list) else (None, None)
        if not isinstance(first, float) or not isinstance(second, float):
            ctx.warn(f"column {name!r} has too few values for bounds; it is left as is")
            continue
        if not math.isfinite(first) or not math.isfinite(second):
            ctx.warn(f"column {name!r} holds infinite values; it is left as is")
            continue
        if method == pb.OUTLIER_METHOD_IQR:
            spread = second - first
            bounds[name] = (first - threshold * spread, second + threshold * spread)
        else:
            bounds[name] = (first - threshold * second, first + threshold * second)
    return bounds


def _treat(
    ctx: StepContext,
    view: str,
    columns: Mapping[str, str],
    bounds: Mapping[str, tuple[float, float]],
    action: int,
) -> str:
    params = Params()
    replace: dict[str, str] = {}
    outside: list[str] = []
    for name, (low, high) in bounds.items():
        column, type_name = quote_ident(name), columns[name]
        if is_integer_type(type_name):
            low, high = float(math.ceil(low)), float(math.floor(high))
        lo, hi = params.bind(low), params.bind(high)
        nan = f"NOT isnan({column}) AND " if is_float_type(type_name) else ""
        below, above = f"({nan}{column} < {lo})", f"({nan}{column} > {hi})"
        outside.append(f"COALESCE({below} OR {above}, FALSE)")
        if action == pb.OUTLIER_ACTION_CLIP:
            replace[name] = (
                f"(CASE WHEN {below} THEN CAST({lo} AS {type_name}) "
                f"WHEN {above} THEN CAST({hi} AS {type_name}) ELSE {column} END)"
            )
        elif action == pb.OUTLIER_ACTION_SET_NULL:
            replace[name] = f"(CASE WHEN {below} OR {above} THEN NULL ELSE {column} END)"
    where = ""
    if action == pb.OUTLIER_ACTION_DROP_ROW:
        where = " WHERE NOT (" + " OR ".join(outside) + ")"
    sql = f"SELECT {projection(columns, replace)} FROM {quote_ident(view)}{where}"
    return ctx.view(sql, params.values)


def apply_clean_strings(ctx: StepContext, view: str, step: pb.StringCleanStep) -> str:
    columns = ctx.columns(view)
    names = unique(list(step.columns), ctx, "columns")
    ctx.require(columns, names, "columns")
    for name in names:
        if not is_string_type(columns[name]):
            raise ctx.error(f"column {name!r} is {columns[name]}; clean_strings needs text columns")
    names = _text_targets(columns, names)
    if step.case not in (Case.CASE_UNSPECIFIED, Case.CASE_LOWER, Case.CASE_UPPER):
        raise ctx.error(f"case {step.case} is not LOWER or UPPER")
    if len(step.null_tokens) > MAX_TOKENS:
        raise ctx.error(
            f"null_tokens has {len(step.null_tokens)} tokens; the limit is {MAX_TOKENS}"
        )
    changes = step.trim or step.collapse_whitespace or step.case or step.normalize_unicode
    if not names or not (changes or step.null_tokens):
        ctx.warn("nothing to clean (no text columns or no option set); the step changes nothing")
        return view
    if step.normalize_unicode:
        register_nfkc(ctx.con)
    if changes:
        cleaned = {name: _cleaned(quote_ident(name), step) for name in names}
        view = ctx.view(f"SELECT {projection(columns, cleaned)} FROM {quote_ident(view)}")
    if not step.null_tokens:
        return view
    params = Params()
    tokens = ", ".join(params.bind(clean_text(token, step)) for token in step.null_tokens)
    nulled = {
        name: f"(CASE WHEN {column} IN ({tokens}) THEN NULL ELSE {column} END)"
        for name, column in ((name, quote_ident(name)) for name in names)
    }
    return ctx.view(f"SELECT {projection(columns, nulled)} FROM {quote_ident(view)}", params.values)


def _text_targets(columns: Mapping[str, str], names: list[str]) -> list[str]:
    return names or [n for n in user_columns(columns) if is_string_type(columns[n])]


def clean_strings_effect(step: pb.StringCleanStep, columns: Mapping[str, str]) -> Effect:
    return Effect(keeps_rows=True, changes=frozenset(_text_targets(columns, list(step.columns))))


def _cleaned(column: str, step: pb.StringCleanStep) -> str:
    sql = column
    if step.normalize_unicode:
        sql = f"{NFKC_FUNCTION}({sql})"
    if step.collapse_whitespace:
        sql = f"regexp_replace({sql}, '{WHITESPACE_CLASS}+', ' ', 'g')"
    if step.trim:
        sql = trim_sql(sql)
    if step.case == Case.CASE_LOWER:
        sql = f"lower({sql})"
    elif step.case == Case.CASE_UPPER:
        sql = f"upper({sql})"
    return sql


def clean_text(text: str, step: pb.StringCleanStep) -> str:
    """What the step's SQL makes of `text`, in Python (for the null tokens)."""
    if step.normalize_unicode:
        text = unicodedata.normalize("NFKC", text)
    if step.collapse_whitespace:
        text = re.sub(r"\s+", " ", text)
    if step.trim:
        text = text.strip()
    if step.case == Case.CASE_LOWER:
        text = text.lower()
    elif step.case == Case.CASE_UPPER:
        text = text.upper()
    return text


def register_nfkc(con: duckdb.DuckDBPyConnection) -> None:
    """NFKC as a vectorised Python function on this connection (DuckDB only has NFC).

    It is called one vector of values at a time, so it streams like any other function.
    """
    rows = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = $1", [NFKC_FUNCTION]
    ).fetchall()
    if not rows[0][0]:
        from services.ingest.engine.nfkc import nfkc  # pyarrow: only when text is normalised

        varchar = duckdb.sqltype("VARCHAR")
        con.create_function(NFKC_FUNCTION, nfkc, [varchar], varchar, type=PythonUDFType.ARROW)
