"""Splits on scikit-learn's bundled data: exact sizes, determinism by seed (checked against the
hash computed in Python), stratified proportions, time and group exclusivity, bad specs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import ROW_COLUMN, SPLIT_COLUMN
from services.ingest.engine.splits import assign_split, counts, split_names
from tests.ingest.engine_fixtures import breast_cancer, diabetes, engine, frame_view, iris, wine
from tests.ingest.engine_io_fixtures import rows

Part = pb.SplitSpec.Part
THREE = [
    Part(name="train", fraction=0.7),
    Part(name="validation", fraction=0.15),
    Part(name="test", fraction=0.15),
]


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def _split(con, view: str, **spec) -> tuple[pd.DataFrame, dict[str, int]]:
    split = pb.SplitSpec(**spec)
    name = assign_split(con, view, split, "split")
    return rows(con, name), counts(con, name, split_names(split))


def _expected_sizes(rows_: int, fractions: list[float]) -> list[int]:
    cuts = [math.floor(rows_ * sum(fractions[: i + 1]) + 0.5) for i in range(len(fractions) - 1)]
    edges = [0, *cuts, rows_]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


def test_no_split_puts_every_row_in_all(con):
    view = frame_view(con, iris())
    name = assign_split(con, view, None, "split")
    assert counts(con, name, []) == {"all": 150}
    assert set(rows(con, name)[SPLIT_COLUMN]) == {"all"}
    unspecified = assign_split(con, view, pb.SplitSpec(parts=THREE), "split")
    assert set(rows(con, unspecified)[SPLIT_COLUMN]) == {"all"}


def test_no_split_keeps_the_split_of_a_dataset_version(con):
    frame = wine()
    frame[SPLIT_COLUMN] = ["a" if i % 3 else None for i in range(len(frame))]
    name = assign_split(con, frame_view(con, frame), None, "split")
    assert counts(con, name, []) == {"a": 118, "all": 60}
    assert list(rows(con, name).columns).count(SPLIT_COLUMN) == 1


@pytest.mark.parametrize("frame", [iris, wine, breast_cancer], ids=["iris", "wine", "cancer"])
@pytest.mark.parametrize("fractions", [[0.7, 0.15, 0.15], [0.5, 0.5], [0.9, 0.05, 0.03, 0.02]])
def test_random_sizes_are_exact(con, frame, fractions):
    data = frame()
    parts = [Part(name=f"p{i}", fraction=f) for i, f in enumerate(fractions)]
    table, per_part = _split(
        con, frame_view(con, data), method=pb.SPLIT_METHOD_RANDOM, parts=parts, seed=2024
    )
    sizes = _expected_sizes(len(data), fractions)
    assert per_part == {f"p{i}": size for i, size in enumerate(sizes)}
    assert table[SPLIT_COLUMN].value_counts().to_dict() == {
        name: size for name, size in per_part.items() if size
    }


def test_a_large_random_split_goes_row_by_row_by_the_values_hash(con):
    """Above the exact limit each row's part depends on its values and the seed only: the same
    rows in another order land in the same parts, and sizes are close to the fractions."""
    data = breast_cancer()
    spec = {"method": pb.SPLIT_METHOD_RANDOM, "parts": THREE, "seed": 11}
    name = assign_split(con, frame_view(con, data), pb.SplitSpec(**spec), "s", 100)
    table = rows(con, name)
    shuffled = data.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled_view = frame_view(con, shuffled, "shuffled")
    again_name = assign_split(con, shuffled_view, pb.SplitSpec(**spec), "s", 100)
    again = rows(con, again_name)
    key = list(data.columns)
    merged = table.merge(again, on=key, suffixes=("", "_again"))
    assert len(merged) == len(data)
    assert (merged[SPLIT_COLUMN] == merged[f"{SPLIT_COLUMN}_again"]).all()
    sizes = table[SPLIT_COLUMN].value_counts()
    for part in THREE:  # binomial: within 4 standard deviations
        expected = len(data) * part.fraction
        spread = 4 * math.sqrt(len(data) * part.fraction * (1 - part.fraction))
        assert abs(sizes[part.name] - expected) <= spread, (part.name, sizes[part.name])


def test_identical_rows_land_in_the_same_part_row_by_row(con):
    data = iris()
    doubled = pd.concat([data, data], ignore_index=True)
    spec = pb.SplitSpec(method=pb.SPLIT_METHOD_RANDOM, parts=THREE, seed=5)
    name = assign_split(con, frame_view(con, doubled), spec, "s", 10)
    table = rows(con, name)
    key = list(data.columns)
    assert (table.groupby(key)[SPLIT_COLUMN].nunique() == 1).all()


def test_random_is_deterministic_by_seed(con):
    view = frame_view(con, breast_cancer())
    first, _ = _split(con, view, method=pb.SPLIT_METHOD_RANDOM, parts=THREE, seed=7)
    again, _ = _split(con, view, method=pb.SPLIT_METHOD_RANDOM, parts=THREE, seed=7)
    other, _ = _split(con, view, method=pb.SPLIT_METHOD_RANDOM, parts=THREE, seed=8)
    assert first[SPLIT_COLUMN].tolist() == again[SPLIT_COLUMN].tolist()
    assert first[SPLIT_COLUMN].tolist() != other[SPLIT_COLUMN].tolist()
    big_seed, _ = _split(con, view, method=pb.SPLIT_METHOD_RANDOM, parts=THREE, seed=2**64 - 1)
    assert big_seed[SPLIT_COLUMN].value_counts().to_dict() == {
        "train": 398,
        "validation": 86,
        "test": 85,
    }


def test_stratified_keeps_class_proportions(con):
    data = wine()
    table, per_part = _split(
        con,
        frame_view(con, data),
        method=pb.SPLIT_METHOD_STRATIFIED,
        parts=THREE,
        seed=1,
        column="target",
    )
    for target, group in table.groupby("target"):
        sizes = _expected_sizes(int((data["target"] == target).sum()), [0.7, 0.15, 0.15])
        got = group[SPLIT_COLUMN].value_counts().to_dict()
        assert [got.get(name, 0) for name in ("train", "validation", "test")] == sizes
    assert sum(per_part.values()) == len(data)
    again, _ = _split(
        con,
        frame_view(con, data, "again"),
        method=pb.SPLIT_METHOD_STRATIFIED,
        parts=THREE,
        seed=1,
        column="target",
    )
    assert again[SPLIT_COLUMN].tolist() == table[SPLIT_COLUMN].tolist()


def _with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    # A time column with many ties: the day of the year of each patient's age.
    frame["visit"] = pd.to_datetime("2020-01-01") + pd.to_timedelta(frame["age"], unit="D")
    return frame


def test_time_split_orders_parts_and_keeps_ties_together(con):
    data = _with_dates(diabetes())
    table, per_part = _split(
        con, frame_view(con, data), method=pb.SPLIT_METHOD_TIME, parts=THREE, column="visit"
    )
    spans = table.groupby(SPLIT_COLUMN)["visit"].agg(["min", "max"])
    assert spans.loc["train", "max"] < spans.loc["validation", "min"]
    assert spans.loc["validation", "max"] < spans.loc["test", "min"]
    assert sum(per_part.values()) == len(data)
    # Ties move whole: the train part ends where the 70% rank's value starts.
    cut = sorted(data["visit"])[math.floor(len(data) * 0.7 + 0.5)]
    assert per_part["train"] == int((data["visit"] < cut).sum())


def test_time_split_with_boundaries(con):
    data = _with_dates(diabetes())
    table, per_part = _split(
        con,
        frame_view(con, data),
        method=pb.SPLIT_METHOD_TIME,
        parts=THREE,
        column="visit",
        time_boundaries=["2020-02-10", "2020-02-25T12:00:00"],
    )
    assert per_part["train"] == int((data["visit"] < "2020-02-10").sum())
    assert per_part["test"] == int((data["visit"] >= "2020-02-25 12:00").sum())
    with pytest.raises(InvalidArgument, match="3 parts need 2 ascending boundaries"):
        _split(
            con,
            frame_view(con, data, "b"),
            method=pb.SPLIT_METHOD_TIME,
            parts=THREE,
            column="visit",
            time_boundaries=["2020-02-10"],
        )
    with pytest.raises(InvalidArgument, match="ascending order"):
        _split(
            con,
            frame_view(con, data, "c"),
            method=pb.SPLIT_METHOD_TIME,
            parts=THREE,
            column="visit",
            time_boundaries=["2020-03-10", "2020-02-10"],
        )
    with pytest.raises(InvalidArgument, match="'soon' is not a TIMESTAMP"):
        _split(
            con,
            frame_view(con, data, "d"),
            method=pb.SPLIT_METHOD_TIME,
            parts=THREE,
            column="visit",
            time_boundaries=["2020-03-10", "soon"],
        )


def test_time_split_refuses_null_times(con):
    data = _with_dates(diabetes())
    data.loc[5, "visit"] = None
    with pytest.raises(InvalidArgument, match="has 1 null values"):
        _split(con, frame_view(con, data), method=pb.SPLIT_METHOD_TIME, parts=THREE, column="visit")


def test_group_split_never_splits_a_group(con):
    data = diabetes()  # group by age: 58 groups of very different sizes
    table, per_part = _split(
        con, frame_view(con, data), method=pb.SPLIT_METHOD_GROUP, parts=THREE, column="age", seed=3
    )
    assert (table.groupby("age")[SPLIT_COLUMN].nunique() == 1).all()
    assert sum(per_part.values()) == len(data)
    assert abs(per_part["train"] / len(data) - 0.7) < 0.1
    again, _ = _split(
        con,
        frame_view(con, data, "again"),
        method=pb.SPLIT_METHOD_GROUP,
        parts=THREE,
        column="age",
        seed=3,
    )
    assert again[SPLIT_COLUMN].tolist() == table[SPLIT_COLUMN].tolist()
    other, _ = _split(
        con,
        frame_view(con, data, "other"),
        method=pb.SPLIT_METHOD_GROUP,
        parts=THREE,
        column="age",
        seed=4,
    )
    assert other[SPLIT_COLUMN].tolist() != table[SPLIT_COLUMN].tolist()


def test_a_split_replaces_an_existing_split_column(con):
    frame = iris()
    frame[SPLIT_COLUMN] = "old"
    table, per_part = _split(
        con, frame_view(con, frame), method=pb.SPLIT_METHOD_RANDOM, parts=THREE, seed=1
    )
    assert per_part == {"train": 105, "validation": 23, "test": 22}
    assert list(table.columns).count(SPLIT_COLUMN) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"parts": [Part(name="a", fraction=0.5), Part(name="b", fraction=0.4)]},
            "sum to 0.9; they must sum to 1",
        ),
        (
            {"parts": [Part(name="a", fraction=1.2), Part(name="b", fraction=-0.2)]},
            "fraction -0.2; fractions must be positive",
        ),
        (
            {"parts": [Part(name="a", fraction=1.0), Part(name="b", fraction=0.0)]},
            "fractions must be positive",
        ),
        ({"parts": []}, "split.parts is empty"),
        (
            {"parts": [Part(name="a", fraction=0.5), Part(name="a", fraction=0.5)]},
            "'a' is used twice",
        ),
        ({"parts": [Part(name="tr ain", fraction=1.0)]}, "is not a valid name"),
        ({"method": pb.SPLIT_METHOD_STRATIFIED, "parts": THREE}, "split.column is required"),
        (
            {"method": pb.SPLIT_METHOD_GROUP, "parts": THREE, "column": "colour"},
            "split.column 'colour' is not a column",
        ),
        ({"method": pb.SPLIT_METHOD_TIME, "parts": THREE, "column": ROW_COLUMN}, "is not a column"),
        ({"method": 9, "parts": THREE}, "not a known split method"),
    ],
)
def test_bad_specs(con, spec, message):
    spec.setdefault("method", pb.SPLIT_METHOD_RANDOM)
    with pytest.raises(InvalidArgument, match=message):
        assign_split(con, frame_view(con, iris()), pb.SplitSpec(**spec), "split")


def test_fractions_within_tolerance_are_accepted(con):
    parts = [Part(name=f"p{i}", fraction=0.1) for i in range(10)]
    _, per_part = _split(con, frame_view(con, iris()), method=pb.SPLIT_METHOD_RANDOM, parts=parts)
    assert list(per_part.values()) == [15] * 10
