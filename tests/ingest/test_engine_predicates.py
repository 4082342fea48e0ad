"""Filter predicates compiled to parameterised SQL, checked against pandas on the iris data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from google.protobuf import struct_pb2

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import columns_of
from services.ingest.engine.predicates import MAX_DEPTH, compile_predicate
from tests.ingest.engine_fixtures import engine, frame_view, iris, run, step, table

Op = pb.Comparison
SEPAL = "sepal length (cm)"
PETAL = "petal length (cm)"
WIDTH = "sepal width (cm)"


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def value(v: object) -> struct_pb2.Value:
    result = struct_pb2.Value()
    if v is None:
        result.null_value = struct_pb2.NULL_VALUE
    elif isinstance(v, bool):
        result.bool_value = v
    elif isinstance(v, int | float):
        result.number_value = v
    else:
        result.string_value = str(v)
    return result


def cmp(column: str, op: int, v: object = None, values=(), other: str = "") -> pb.Predicate:
    comparison = pb.Comparison(column=column, op=op, values=[value(x) for x in values])
    if v is not None:
        comparison.value.CopyFrom(value(v))
    if other:
        comparison.other_column = other
    return pb.Predicate(comparison=comparison)


def all_of(*items: pb.Predicate) -> pb.Predicate:
    return pb.Predicate(all_of=pb.PredicateList(predicates=list(items)))


def any_of(*items: pb.Predicate) -> pb.Predicate:
    return pb.Predicate(any_of=pb.PredicateList(predicates=list(items)))


def negate(item: pb.Predicate) -> pb.Predicate:
    return pb.Predicate(negate=item)


def kept(con, view: str, predicate: pb.Predicate) -> list[int]:
    result = run(con, view, step(filter=pb.FilterStep(keep=predicate)))
    return table(con, result.view)["_aimass_row"].tolist()


def rows(mask: pd.Series) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask.to_numpy())]


@pytest.fixture
def flowers(con):
    frame = iris()
    frame.loc[[3, 60, 120], SEPAL] = np.nan  # a few nulls, to see how they count
    return frame, frame_view(con, frame)


@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        (Op.OPERATOR_EQ, 5.0, lambda s: s == 5.0),
        (Op.OPERATOR_NE, 5.0, lambda s: s.notna() & (s != 5.0)),
        (Op.OPERATOR_LT, 5.0, lambda s: s < 5.0),
        (Op.OPERATOR_LE, 5.0, lambda s: s <= 5.0),
        (Op.OPERATOR_GT, 7.2, lambda s: s > 7.2),
        (Op.OPERATOR_GE, "7.2", lambda s: s >= 7.2),
    ],
)
def test_comparisons_match_pandas(con, flowers, op, operand, expected):
    frame, view = flowers
    assert kept(con, view, cmp(SEPAL, op, operand)) == rows(expected(frame[SEPAL]))


def test_list_operators(con, flowers):
    frame, view = flowers
    species = frame["species"]
    chosen = ["setosa", "virginica"]
    assert kept(con, view, cmp("species", Op.OPERATOR_IN, values=chosen)) == rows(
        species.isin(chosen)
    )
    assert kept(con, view, cmp("species", Op.OPERATOR_NOT_IN, values=chosen)) == rows(
        ~species.isin(chosen)
    )
    between = cmp(PETAL, Op.OPERATOR_BETWEEN, values=[1.5, 4])
    assert kept(con, view, between) == rows(frame[PETAL].between(1.5, 4))
    assert kept(con, view, cmp("target", Op.OPERATOR_IN, values=[2])) == list(range(100, 150))


def test_null_tests_and_null_counting_as_false(con, flowers):
    frame, view = flowers
    assert kept(con, view, cmp(SEPAL, Op.OPERATOR_IS_NULL)) == [3, 60, 120]
    assert len(kept(con, view, cmp(SEPAL, Op.OPERATOR_IS_NOT_NULL))) == 147
    # Each comparison on a null is false, so its negation keeps the null rows.
    not_five = kept(con, view, negate(cmp(SEPAL, Op.OPERATOR_EQ, 5.0)))
    assert not_five == rows(~(frame[SEPAL] == 5.0))
    assert {3, 60, 120} <= set(not_five)


def test_text_operators_are_case_sensitive(con, flowers):
    frame, view = flowers
    species = frame["species"]
    assert kept(con, view, cmp("species", Op.OPERATOR_CONTAINS, "rsi")) == rows(
        species.str.contains("rsi")
    )
    assert kept(con, view, cmp("species", Op.OPERATOR_STARTS_WITH, "vir")) == list(range(100, 150))
    assert kept(con, view, cmp("species", Op.OPERATOR_ENDS_WITH, "osa")) == list(range(50))
    assert kept(con, view, cmp("species", Op.OPERATOR_CONTAINS, "Setosa")) == []


def test_other_column_and_nesting(con, flowers):
    frame, view = flowers
    wider = cmp(WIDTH, Op.OPERATOR_GT, other=PETAL)
    assert kept(con, view, wider) == rows(frame[WIDTH] > frame[PETAL])
    tree = any_of(
        all_of(cmp("species", Op.OPERATOR_EQ, "versicolor"), cmp(PETAL, Op.OPERATOR_GE, 4.5)),
        negate(any_of(cmp(SEPAL, Op.OPERATOR_LT, 7.0), cmp(SEPAL, Op.OPERATOR_IS_NULL))),
    )
    expected = ((frame["species"] == "versicolor") & (frame[PETAL] >= 4.5)) | ~(
        (frame[SEPAL] < 7.0) | frame[SEPAL].isna()
    )
    assert kept(con, view, tree) == rows(expected)


def test_values_are_cast_to_the_column_type(con):
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2024-01-01", "2024-02-15", "2024-03-31"]).date,
            "big": [9007199254740993, 1, 2],
            "flag": [True, False, True],
        }
    )
    view = frame_view(con, frame)
    assert kept(con, view, cmp("day", Op.OPERATOR_GT, "2024-02-01")) == [1, 2]
    assert kept(con, view, cmp("big", Op.OPERATOR_EQ, "9007199254740993")) == [0]
    assert kept(con, view, cmp("flag", Op.OPERATOR_EQ, True)) == [0, 2]
    assert kept(
        con, view, cmp("day", Op.OPERATOR_BETWEEN, values=["2024-01-01", "2024-02-15"])
    ) == [
        0,
        1,
    ]


def test_compiled_sql_binds_every_value(con, flowers):
    _, view = flowers
    predicate = all_of(
        cmp("species", Op.OPERATOR_IN, values=["setosa", "x'); DROP TABLE src; --"]),
        cmp(SEPAL, Op.OPERATOR_GT, 4.5),
    )
    sql, params = compile_predicate(con, predicate, columns_of(con, view))
    assert params == ["setosa", "x'); DROP TABLE src; --", 4.5]
    assert "setosa" not in sql and "DROP" not in sql and "4.5" not in sql
    assert '"sepal length (cm)"' in sql


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        (cmp("colour", Op.OPERATOR_EQ, "red"), "unknown column 'colour'"),
        (cmp("_aimass_row", Op.OPERATOR_EQ, 1), "unknown column '_aimass_row'"),
        (cmp(PETAL, Op.OPERATOR_BETWEEN, values=[1]), "BETWEEN takes exactly 2 values, got 1"),
        (cmp("species", Op.OPERATOR_IN), "give 1 to 10000 values, got 0"),
        (cmp(PETAL, Op.OPERATOR_EQ), "value is missing (use IS_NULL to test for null)"),
        (cmp(PETAL, Op.OPERATOR_EQ, "abc"), "value 'abc' does not cast to DOUBLE"),
        (cmp("target", Op.OPERATOR_EQ, "2.5"), "value '2.5' does not cast to BIGINT"),
        (cmp(PETAL, Op.OPERATOR_CONTAINS, "1"), "text operators need text"),
        (cmp("species", Op.OPERATOR_CONTAINS, 1), "value must be a string"),
        (cmp(PETAL, Op.OPERATOR_IS_NULL, 1), "this operator takes no value"),
        (cmp(PETAL, Op.OPERATOR_EQ, 1, values=[1]), "this operator takes value; unset values"),
        (cmp(PETAL, Op.OPERATOR_IN, values=[1, None]), "values contain a null"),
        (cmp(PETAL, Op.OPERATOR_GT, other="species"), "cast one of them first"),
        (cmp(PETAL, Op.OPERATOR_IN, values=[1], other=SEPAL), "other_column only goes with"),
        (cmp(PETAL, Op.OPERATOR_UNSPECIFIED, 1), "set op to one of"),
        (pb.Predicate(), "keep is empty: set comparison"),
        (pb.Predicate(all_of=pb.PredicateList()), "keep.all_of is empty"),
        (any_of(cmp(PETAL, Op.OPERATOR_GT, 1), pb.Predicate()), "keep.any_of[1] is empty"),
    ],
)
def test_bad_predicates_are_invalid_argument(con, flowers, predicate, message):
    _, view = flowers
    with pytest.raises(InvalidArgument) as caught:
        run(con, view, step(filter=pb.FilterStep(keep=predicate)))
    assert caught.value.message.startswith("step 1 (filter): keep")
    assert message in caught.value.message


def test_list_values_are_refused(con, flowers):
    _, view = flowers
    predicate = cmp(PETAL, Op.OPERATOR_EQ)
    predicate.comparison.value.list_value.values.add().number_value = 1
    with pytest.raises(InvalidArgument, match="value is a list; use a number, a string"):
        run(con, view, step(filter=pb.FilterStep(keep=predicate)))


def test_missing_keep_and_deep_nesting(con, flowers):
    _, view = flowers
    with pytest.raises(InvalidArgument, match=r"step 1 \(filter\): keep is empty"):
        run(con, view, step(filter=pb.FilterStep()))
    deep = cmp(PETAL, Op.OPERATOR_GT, 1)
    for _ in range(MAX_DEPTH + 1):
        deep = negate(deep)
    with pytest.raises(InvalidArgument, match="nest deeper than 64 levels"):
        run(con, view, step(filter=pb.FilterStep(keep=deep)))
