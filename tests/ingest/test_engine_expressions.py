"""Derived columns: the expression grammar, its errors with positions, and values against pandas."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine.expressions import (
    FUNCTIONS,
    WHITESPACE,
    WHITESPACE_CLASS,
    compile_expression,
    tokenize,
    trim_sql,
)
from tests.ingest.engine_fixtures import diabetes, engine, frame_view, iris, run, step, table

COLUMNS = {"_aimass_row": "BIGINT", "bmi": "DOUBLE", "sex": "DOUBLE", "odd name": "VARCHAR"}


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def derived(con, view: str, expression: str, data_type: int = 0, column: str = "out"):
    result = run(
        con, view, step(derive=pb.DeriveStep(column=column, expression=expression, type=data_type))
    )
    return table(con, result.view)


def test_tokens_keep_their_positions():
    tokens = tokenize('a >= \'it\'\'s\' + "x ""y"" z"')
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("name", "a", 1),
        ("op", ">=", 3),
        ("string", "it's", 6),
        ("op", "+", 14),
        ("quoted", 'x "y" z', 16),
        ("end", "", 27),
    ]


def test_sql_binds_literals_and_quotes_columns():
    compiled = compile_expression("IF(bmi > 30 AND NOT sex = 2, 'obese', \"odd name\")", COLUMNS)
    assert compiled.sql == (
        '(CASE WHEN (("bmi" > $1) AND (NOT ("sex" = $2))) THEN $3 ELSE "odd name" END)'
    )
    assert compiled.params == [30, 2, "obese"]
    assert compiled.columns == ["bmi", "sex", "odd name"]


def test_precedence_follows_the_grammar():
    assert compile_expression("-bmi * 2 + 1 > 3 or sex = 1 and bmi < 2", COLUMNS).sql == (
        '(((((- "bmi") * $1) + $2) > $3) OR (("sex" = $4) AND ("bmi" < $5)))'
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("bmi +", "position 6: unexpected end of expression"),
        ("bmi ^ 2", "position 5: unexpected character '^'"),
        ("nosuch(bmi)", "position 1: unknown function 'nosuch'"),
        ("bmi * weight", "position 7: unknown column 'weight'"),
        ("_aimass_row + 1", "position 1: unknown column '_aimass_row'"),
        ("1 < bmi < 3", "position 9: comparisons do not chain"),
        ("'open", "position 1: unterminated string"),
        ('"open', "position 1: unterminated quoted column name"),
        ("(bmi + 1", "position 9: expected ')' to close the parenthesis"),
        ("pow(bmi)", "position 1: pow takes 2 arguments, got 1"),
        ("least(bmi)", "position 1: least takes 2 or more arguments, got 1"),
        ("substr('a')", "position 1: substr takes 2 to 3 arguments, got 1"),
        ("bmi bmi", "position 5: unexpected 'bmi'; expected an operator or the end"),
        ("2bmi", "position 2: unexpected character 'b'"),
        ('"odd name"(1)', "position 11: unexpected '('"),
        ("and", "position 1: unexpected 'and'"),
        ("99999999999999999999", "position 1: integer 99999999999999999999 is too large"),
        ("   ", "expression is empty"),
    ],
)
def test_errors_name_the_position(expression, message):
    with pytest.raises(InvalidArgument) as caught:
        compile_expression(expression, COLUMNS)
    assert message in caught.value.message


def test_derive_errors_name_the_step(con):
    view = frame_view(con, diabetes())
    with pytest.raises(InvalidArgument) as caught:
        derived(con, view, "log(bmi) + nope(1)")
    assert caught.value.message.startswith(
        "step 1 (derive): expression error at position 12: unknown function 'nope'"
    )
    with pytest.raises(InvalidArgument, match=r"step 1 \(derive\): expression 'lower\(bmi\)"):
        derived(con, view, "lower(bmi)")
    with pytest.raises(InvalidArgument, match="column '_split' is reserved"):
        derived(con, view, "bmi", column="_split")


def test_arithmetic_and_math_match_pandas(con):
    frame = diabetes()
    view = frame_view(con, frame)
    cases = {
        "bmi * 2 + 1": frame.bmi * 2 + 1,
        "(s1 - s2) / s3": (frame.s1 - frame.s2) / frame.s3,
        "-age % 7": -(frame.age % 7),
        "pow(bp, 2) - sqrt(s1)": frame.bp**2 - np.sqrt(frame.s1),
        "log(target) + log10(s1) + exp(s5 / 10)": np.log(frame.target)
        + np.log10(frame.s1)
        + np.exp(frame.s5 / 10),
        "floor(bmi) + ceil(s5) + abs(s4 - 5)": np.floor(frame.bmi)
        + np.ceil(frame.s5)
        + (frame.s4 - 5).abs(),
        "least(bmi, 25, s4 * 10) + greatest(bp, 100)": np.minimum(
            np.minimum(frame.bmi, 25), frame.s4 * 10
        )
        + np.maximum(frame.bp, 100),
        # round() takes exact halves away from zero (4.625 -> 4.63), unlike Python's round().
        "round(s5, 2)": frame.s5.map(
            lambda v: float(Decimal(float(v)).quantize(Decimal("0.01"), ROUND_HALF_UP))
        ),
    }
    for expression, expected in cases.items():
        got = derived(con, view, expression)["out"]
        np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-12)


def test_logic_and_conditionals(con):
    frame = diabetes()
    view = frame_view(con, frame)
    got = derived(con, view, "if(bmi >= 30 and not sex = 1 or age < 25, 'flag', 'ok')")["out"]
    expected = np.where(((frame.bmi >= 30) & ~(frame.sex == 1)) | (frame.age < 25), "flag", "ok")
    assert got.tolist() == expected.tolist()
    flags = derived(con, view, "bmi != 32.1")["out"]
    assert flags.tolist() == (frame.bmi != 32.1).tolist()


def test_nulls_and_division_by_zero(con):
    frame = pd.DataFrame({"a": [6, 6, None], "b": [4, 0, 1], "c": [1.5, 0.0, -0.0]})
    view = frame_view(con, frame)
    assert derived(con, view, "coalesce(a, -1) / 2")["out"].tolist() == [3.0, 3.0, -0.5]
    divided = derived(con, view, "b / c")["out"].to_numpy()
    np.testing.assert_array_equal(divided, [4 / 1.5, np.nan, -np.inf])
    # An integer division or modulo by zero is null rather than a failed job.
    assert derived(con, view, "a % b")["out"].isna().tolist() == [False, True, True]
    assert derived(con, view, "b % 0")["out"].isna().all()


def test_strings_and_dates(con):
    frame = iris()
    frame["day"] = pd.Timestamp("2024-02-27 06:30") + pd.to_timedelta(frame.index, unit="h") * 7
    view = frame_view(con, frame)
    got = derived(con, view, "concat(upper(substr(species, 1, 3)), '-', length(trim(species)))")
    assert got["out"].tolist() == [f"{s[:3].upper()}-{len(s)}" for s in frame.species]
    assert derived(con, view, "lower('  MiXed ') = 'mixed'")["out"].all() == np.False_
    assert derived(con, view, "trim('  MiXed \t')")["out"].unique().tolist() == ["MiXed"]
    parts = "year(day) * 1000000 + month(day) * 10000 + day(day) * 100 + hour(day)"
    expected = frame.day.dt.year * 1_000_000 + frame.day.dt.month * 10_000
    expected += frame.day.dt.day * 100 + frame.day.dt.hour
    assert derived(con, view, parts)["out"].tolist() == expected.tolist()
    assert derived(con, view, "weekday(day)")["out"].tolist() == frame.day.dt.day_of_week.tolist()
    diff = derived(con, view, "date_diff_days('2024-02-01', day)")["out"]
    assert diff.tolist() == (frame.day.dt.normalize() - pd.Timestamp("2024-02-01")).dt.days.tolist()


def test_result_type_and_replacing_a_column(con):
    frame = diabetes()
    view = frame_view(con, frame)
    table_ = derived(con, view, "round(bmi)", common_pb2.DATA_TYPE_INT32, column="bmi")
    assert list(table_.columns) == ["_aimass_row", *frame.columns]
    assert str(table_.bmi.dtype) == "int32"
    assert table_.bmi.tolist() == [int(np.floor(v + 0.5)) for v in frame.bmi]
    with pytest.raises(InvalidArgument) as caught:
        derived(con, view, "bmi / 2", common_pb2.DATA_TYPE_INT64)
    assert caught.value.message.startswith(
        "step 1 (derive): derived column 'out' value '16.05' does not cast to INT64"
    )


def test_the_allow_list_is_the_contracts():
    contract = (
        "abs, round, floor, ceil, sqrt, exp, log, log10, pow, least, greatest, coalesce, if, "
        "lower, upper, trim, length, substr, concat, year, month, day, hour, weekday, "
        "date_diff_days"
    )
    assert sorted(FUNCTIONS) == sorted(contract.split(", "))


def test_whitespace_sets_are_pythons(con):
    assert WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    sample = "".join(chr(c) for c in range(1, 0x3100)) + " a\u3000\u3000b "
    collapsed = con.execute(
        f"SELECT regexp_replace($1, '{WHITESPACE_CLASS}+', ' ', 'g')", [sample]
    ).fetchall()[0][0]
    assert collapsed == re.sub(r"\s+", " ", sample)
    trimmed = con.execute(f"SELECT {trim_sql('$1')}", [sample]).fetchall()[0][0]
    assert trimmed == sample.strip()
    padded = [f"{a}{b} x{a}y {b}{a}" for a in WHITESPACE for b in ("", " ", "\u3000")]
    padded += ["", " ", "\u3000", "é", " é ", "日本 ", "\u3000日本", "x\U0001f600\u2003"]
    rows = con.execute(f"SELECT {trim_sql('x')} FROM unnest($1) AS t(x)", [padded]).fetchall()
    assert [row[0] for row in rows] == [text.strip() for text in padded]
