"""Recipe steps on scikit-learn's bundled data: each step's effect against pandas; its errors."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from google.protobuf import struct_pb2

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import ROW_COLUMN, columns_of
from services.ingest.engine.session import EngineLimits, open_engine
from tests.ingest.engine_fixtures import (
    breast_cancer,
    diabetes,
    engine,
    frame_view,
    iris,
    run,
    step,
    table,
    wine,
)

T = common_pb2
Cast = pb.CastStep.Cast
SEPAL = "sepal length (cm)"
MISSING = pb.MissingValueStrategy


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def rows_of(con, view: str) -> list[int]:
    return table(con, view)[ROW_COLUMN].tolist()


def fails(con, view, *steps, sources=None) -> str:
    with pytest.raises(InvalidArgument) as caught:
        run(con, view, *steps, sources=sources)
    return caught.value.message


# ---------------------------------------------------------------------------------------------
# select, rename


def test_select_keeps_columns_in_order_or_drops(con):
    view = frame_view(con, iris())
    kept = run(con, view, step(select=pb.SelectStep(columns=["species", SEPAL])))
    assert list(table(con, kept.view).columns) == [ROW_COLUMN, "species", SEPAL]
    dropped = run(con, view, step(select=pb.SelectStep(drop=["target", "species"])))
    assert list(table(con, dropped.view).columns) == [ROW_COLUMN, *iris().columns[:4]]


@pytest.mark.parametrize(
    ("select", "message"),
    [
        (pb.SelectStep(), "set either columns (kept, in that order) or drop"),
        (pb.SelectStep(columns=["target"], drop=["species"]), "set either columns"),
        (pb.SelectStep(columns=["colour"]), "columns: unknown column 'colour'; columns are"),
        (pb.SelectStep(columns=["target", "target"]), "columns names column 'target' twice"),
        (pb.SelectStep(drop=list(iris().columns)), "drop removes every column"),
    ],
)
def test_select_errors(con, select, message):
    message_ = fails(con, frame_view(con, iris()), step(select=select))
    assert message_.startswith("step 1 (select): ") and message in message_


def test_rename_swaps_and_refuses_collisions(con):
    view = frame_view(con, iris())
    swapped = run(
        con, view, step(rename=pb.RenameStep(columns={"target": "species", "species": "target"}))
    )
    result = table(con, swapped.view)
    assert result["target"].tolist() == iris()["species"].tolist()
    assert list(result.columns)[-2:] == ["species", "target"]
    message = fails(con, view, step(rename=pb.RenameStep(columns={"target": "species"})))
    assert message == (
        "step 1 (rename): renaming gives two columns named 'species' (from 'target' and "
        "'species'); choose another name or drop one first"
    )
    assert "unknown column 'kind'" in fails(
        con, view, step(rename=pb.RenameStep(columns={"kind": "x"}))
    )
    assert "'_aimass_x' is reserved" in fails(
        con, view, step(rename=pb.RenameStep(columns={"target": "_aimass_x"}))
    )


# ---------------------------------------------------------------------------------------------
# cast, parse_dates


def test_cast_converts_and_checks_every_value(con):
    view = frame_view(con, iris())
    casts = [
        Cast(column="target", type=T.DATA_TYPE_STRING),
        Cast(column=SEPAL, type=T.DATA_TYPE_FP32),
    ]
    result = run(con, view, step(cast=pb.CastStep(casts=casts)))
    assert columns_of(con, result.view)["target"] == "VARCHAR"
    assert columns_of(con, result.view)[SEPAL] == "FLOAT"
    assert table(con, result.view)["target"].tolist() == [str(t) for t in iris()["target"]]
    message = fails(
        con, view, step(cast=pb.CastStep(casts=[Cast(column="species", type=T.DATA_TYPE_INT64)]))
    )
    assert message == (
        "step 1 (cast): column 'species' value 'setosa' does not cast to INT64 (first of 150 "
        "such values); fix the data or use on_error NULL/DROP_ROW"
    )


def test_cast_to_integer_refuses_fractions_unless_told(con):
    frame = iris()
    view = frame_view(con, frame)
    to_int = [Cast(column=SEPAL, type=T.DATA_TYPE_INT64)]
    message = fails(con, view, step(cast=pb.CastStep(casts=to_int)))
    assert "column 'sepal length (cm)' value '5.1' does not cast to INT64" in message
    whole = frame[SEPAL] == frame[SEPAL].round()
    nulled = run(
        con, view, step(cast=pb.CastStep(casts=to_int, on_error=pb.CAST_ERROR_POLICY_NULL))
    )
    got = table(con, nulled.view)[SEPAL]
    assert got.isna().tolist() == (~whole).tolist()
    assert got.dropna().tolist() == frame[SEPAL][whole].astype(int).tolist()
    dropped = run(
        con, view, step(cast=pb.CastStep(casts=to_int, on_error=pb.CAST_ERROR_POLICY_DROP_ROW))
    )
    assert rows_of(con, dropped.view) == frame.index[whole].tolist()


def test_cast_errors(con):
    view = frame_view(con, iris())
    assert fails(con, view, step(cast=pb.CastStep())).startswith("step 1 (cast): casts is empty")
    assert "column 'target' has no type" in fails(
        con, view, step(cast=pb.CastStep(casts=[Cast(column="target")]))
    )
    assert "unknown column 'x'" in fails(
        con, view, step(cast=pb.CastStep(casts=[Cast(column="x", type=T.DATA_TYPE_INT64)]))
    )


def _stamps(frame: pd.DataFrame) -> pd.Series:
    """A naive timestamp per iris row, 7 hours and a few minutes apart (no DST in Asia/Kolkata)."""
    base = pd.Timestamp("2023-12-30 21:05")
    return base + pd.to_timedelta(frame.index * 7 * 60 + frame["target"] * 3, unit="min")


def test_parse_dates_iso_with_timezone_and_offsets(con):
    frame = iris()
    stamps = _stamps(frame)
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S")
    text[::10] = stamps[::10].dt.strftime("%Y-%m-%d %H:%M:%S+02:00")  # an explicit offset wins
    frame["when"] = text
    view = frame_view(con, frame)
    parse = pb.ParseDatesStep(columns=["when"], timezone="Asia/Kolkata")
    result = run(con, view, step(parse_dates=parse))
    assert columns_of(con, result.view)["when"] == "TIMESTAMP WITH TIME ZONE"
    expected = stamps.dt.tz_localize("Asia/Kolkata").dt.tz_convert("UTC")
    expected[::10] = stamps[::10].dt.tz_localize("Etc/GMT-2").dt.tz_convert("UTC")
    got = table(con, result.view)["when"].dt.tz_convert("UTC")
    assert got.tolist() == expected.tolist()


def test_parse_dates_with_a_format_and_as_dates(con):
    frame = iris()
    stamps = _stamps(frame)
    frame["when"] = stamps.dt.strftime("%d/%m/%Y %H:%M")
    view = frame_view(con, frame)
    parse = pb.ParseDatesStep(columns=["when"], format="%d/%m/%Y %H:%M")
    got = table(con, run(con, view, step(parse_dates=parse)).view)["when"]
    assert got.dt.tz_convert("UTC").tolist() == stamps.dt.tz_localize("UTC").tolist()
    as_date = pb.ParseDatesStep(columns=["when"], format="%d/%m/%Y %H:%M", type=T.DATA_TYPE_DATE)
    dates = table(con, run(con, view, step(parse_dates=as_date)).view)["when"]
    assert [d.isoformat()[:10] for d in dates] == stamps.dt.strftime("%Y-%m-%d").tolist()


def test_parse_dates_policies_and_errors(con):
    frame = iris()
    frame["day"] = _stamps(frame).dt.strftime("%Y-%m-%d")
    frame.loc[[7, 30], "day"] = ["someday", "2024-02-30"]
    view = frame_view(con, frame)
    parse = pb.ParseDatesStep(columns=["day"], type=T.DATA_TYPE_DATE)
    assert fails(con, view, step(parse_dates=parse)) == (
        "step 1 (parse_dates): column 'day' value 'someday' does not cast to DATE (ISO 8601) "
        "(first of 2 such values); fix the data or use on_error NULL/DROP_ROW"
    )
    parse.on_error = pb.CAST_ERROR_POLICY_DROP_ROW
    assert rows_of(con, run(con, view, step(parse_dates=parse)).view) == [
        i for i in range(150) if i not in (7, 30)
    ]
    parse.on_error = pb.CAST_ERROR_POLICY_NULL
    nulled = table(con, run(con, view, step(parse_dates=parse)).view)["day"]
    assert nulled.isna().sum() == 2 and nulled.isna()[[7, 30]].all()
    zone = pb.ParseDatesStep(columns=["day"], timezone="Mars/Olympus")
    assert "timezone 'Mars/Olympus' is not an IANA time zone" in fails(
        con, view, step(parse_dates=zone)
    )
    bad_format = pb.ParseDatesStep(columns=["day"], format="%Q")
    assert "format '%Q' is not a strftime format" in fails(con, view, step(parse_dates=bad_format))
    number = pb.ParseDatesStep(columns=["target"])
    assert "column 'target' is BIGINT; parse_dates reads text" in fails(
        con, view, step(parse_dates=number)
    )


# ---------------------------------------------------------------------------------------------
# drop_duplicates, missing_values


@pytest.mark.parametrize(
    ("keep", "pandas_keep"),
    [
        (pb.DropDuplicatesStep.KEEP_UNSPECIFIED, "first"),
        (pb.DropDuplicatesStep.KEEP_FIRST, "first"),
        (pb.DropDuplicatesStep.KEEP_LAST, "last"),
        (pb.DropDuplicatesStep.KEEP_NONE, False),
    ],
)
def test_drop_duplicates_matches_pandas(con, keep, pandas_keep):
    frame = iris()
    view = frame_view(con, frame)
    for subset in ([], ["species", "petal width (cm)"]):
        dedupe = pb.DropDuplicatesStep(subset=subset, keep=keep)
        expected = frame.drop_duplicates(subset=subset or None, keep=pandas_keep).index.tolist()
        assert rows_of(con, run(con, view, step(drop_duplicates=dedupe)).view) == expected
    assert 142 not in rows_of(
        con, run(con, view, step(drop_duplicates=pb.DropDuplicatesStep())).view
    )


@pytest.fixture
def holes():
    """Wine with missing values: alcohol every 5th row, magnesium every 7th."""
    frame = wine()
    frame.loc[frame.index % 5 == 0, "alcohol"] = np.nan
    frame.loc[frame.index % 7 == 3, "magnesium"] = np.nan
    return frame


def _missing(**fields) -> pb.Step:
    return step(missing_values=pb.MissingValuesStep(**fields))


def test_missing_values_drop_and_constant(con, holes):
    view = frame_view(con, holes)
    dropped = run(con, view, _missing(strategy=MISSING.MISSING_VALUE_STRATEGY_DROP_ROW))
    assert rows_of(con, dropped.view) == holes.dropna().index.tolist()
    only = run(
        con, view, _missing(columns=["alcohol"], strategy=MISSING.MISSING_VALUE_STRATEGY_DROP_ROW)
    )
    assert rows_of(con, only.view) == holes.dropna(subset=["alcohol"]).index.tolist()
    constant = _missing(
        columns=["alcohol", "magnesium"],
        strategy=MISSING.MISSING_VALUE_STRATEGY_FILL_CONSTANT,
        fill_value=struct_pb2.Value(string_value="12.5"),
    )
    got = table(con, run(con, view, constant).view)
    assert got["alcohol"].tolist() == holes["alcohol"].fillna(12.5).tolist()
    assert got["magnesium"].tolist() == holes["magnesium"].fillna(12.5).tolist()


@pytest.mark.parametrize(
    ("strategy", "fill"),
    [
        (MISSING.MISSING_VALUE_STRATEGY_FILL_MEAN, lambda s: s.mean()),
        (MISSING.MISSING_VALUE_STRATEGY_FILL_MEDIAN, lambda s: s.median()),
        (MISSING.MISSING_VALUE_STRATEGY_FILL_MODE, lambda s: s.mode()[0]),
    ],
)
def test_missing_values_statistics_match_pandas(con, holes, strategy, fill):
    view = frame_view(con, holes)
    got = table(con, run(con, view, _missing(strategy=strategy)).view)
    for column in ("alcohol", "magnesium"):
        expected = holes[column].fillna(fill(holes[column]))
        np.testing.assert_allclose(
            got[column].to_numpy(float), expected.to_numpy(float), rtol=1e-12
        )
    assert got["proline"].tolist() == holes["proline"].tolist()


def test_fill_mean_into_an_integer_column_rounds(con):
    frame = pd.DataFrame({"n": pd.array([1, 2, None, 4, None], dtype="Int64")})
    view = frame_view(con, frame)
    got = table(
        con, run(con, view, _missing(strategy=MISSING.MISSING_VALUE_STRATEGY_FILL_MEAN)).view
    )
    assert got["n"].tolist() == [1, 2, 2, 4, 2]  # mean 7/3 rounds to 2; the column stays BIGINT


def test_forward_fill_follows_order_within_partitions(con, holes):
    view = frame_view(con, holes)
    ffill = _missing(
        columns=["alcohol"],
        strategy=MISSING.MISSING_VALUE_STRATEGY_FORWARD_FILL,
        order_by=[T.OrderBy(field="proline", descending=True)],
        partition_by=["target"],
    )
    got = table(con, run(con, view, ffill).view)
    ordered = holes.assign(row=holes.index).sort_values(["proline", "row"], ascending=[False, True])
    expected = ordered.groupby("target")["alcohol"].ffill().sort_index()
    assert got[ROW_COLUMN].tolist() == holes.index.tolist()
    np.testing.assert_array_equal(got["alcohol"].to_numpy(float), expected.to_numpy(float))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "set strategy: DROP_ROW, FILL_CONSTANT"),
        ({"strategy": MISSING.MISSING_VALUE_STRATEGY_FILL_CONSTANT}, "fill_value is required"),
        (
            {
                "strategy": MISSING.MISSING_VALUE_STRATEGY_FILL_CONSTANT,
                "fill_value": struct_pb2.Value(string_value="lots"),
            },
            "fill_value: value 'lots' does not cast to DOUBLE, the type of column 'alcohol'",
        ),
        (
            {"strategy": MISSING.MISSING_VALUE_STRATEGY_FILL_MEAN, "columns": ["species"]},
            "column 'species' is VARCHAR; FILL_MEAN needs numeric columns",
        ),
        ({"strategy": MISSING.MISSING_VALUE_STRATEGY_FORWARD_FILL}, "FORWARD_FILL needs order_by"),
        (
            {"strategy": MISSING.MISSING_VALUE_STRATEGY_DROP_ROW, "partition_by": ["target"]},
            "order_by and partition_by only go with FORWARD_FILL",
        ),
        (
            {"strategy": MISSING.MISSING_VALUE_STRATEGY_DROP_ROW, "columns": ["nope"]},
            "columns: unknown column 'nope'",
        ),
    ],
)
def test_missing_values_errors(con, holes, fields, message):
    frame = holes.assign(species="x")
    got = fails(con, frame_view(con, frame), _missing(**fields))
    assert got.startswith("step 1 (missing_values): ") and message in got


# ---------------------------------------------------------------------------------------------
# outliers, clean_strings


def _outliers(**fields) -> pb.Step:
    return step(outliers=pb.OutliersStep(**fields))


def test_iqr_clip_matches_pandas_and_reports_bounds(con):
    frame = breast_cancer()
    view = frame_view(con, frame)
    columns = ["mean area", "worst texture"]
    result = run(con, view, _outliers(columns=columns))
    got = table(con, result.view)
    for column in columns:
        q1, q3 = frame[column].quantile([0.25, 0.75])
        low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        assert result.outlier_bounds[column] == pytest.approx((low, high), rel=1e-12)
        np.testing.assert_allclose(got[column], frame[column].clip(low, high), rtol=1e-12)
    assert got["mean radius"].tolist() == frame["mean radius"].tolist()


def test_zscore_drop_and_set_null(con):
    frame = diabetes()
    view = frame_view(con, frame)
    mean, std = frame["s6"].mean(), frame["s6"].std()
    inside = (frame["s6"] - mean).abs() <= 2.5 * std
    dropped = run(
        con,
        view,
        _outliers(
            columns=["s6"],
            method=pb.OUTLIER_METHOD_ZSCORE,
            threshold=2.5,
            action=pb.OUTLIER_ACTION_DROP_ROW,
        ),
    )
    assert rows_of(con, dropped.view) == frame.index[inside].tolist()
    assert dropped.outlier_bounds["s6"] == pytest.approx((mean - 2.5 * std, mean + 2.5 * std))
    nulled = run(
        con,
        view,
        _outliers(
            columns=["s6"],
            method=pb.OUTLIER_METHOD_ZSCORE,
            threshold=2.5,
            action=pb.OUTLIER_ACTION_SET_NULL,
        ),
    )
    assert table(con, nulled.view)["s6"].isna().tolist() == (~inside).tolist()


def test_outliers_clip_integers_to_whole_bounds(con):
    frame = diabetes()
    view = frame_view(con, frame)
    cast = step(
        cast=pb.CastStep(
            casts=[Cast(column="s3", type=T.DATA_TYPE_INT64)], on_error=pb.CAST_ERROR_POLICY_NULL
        )
    )
    result = run(con, view, cast, _outliers(columns=["s3"], threshold=0.5))
    s3 = frame["s3"].where(frame["s3"] == frame["s3"].round())
    q1, q3 = s3.quantile([0.25, 0.75])
    low, high = q1 - 0.5 * (q3 - q1), q3 + 0.5 * (q3 - q1)
    got = table(con, result.view)["s3"]
    expected = s3.clip(np.ceil(low), np.floor(high))
    assert got.isna().tolist() == s3.isna().tolist()
    assert got.dropna().astype(int).tolist() == expected.dropna().astype(int).tolist()


def test_outlier_errors(con):
    view = frame_view(con, iris())
    assert fails(con, view, _outliers(columns=["species"])) == (
        "step 1 (outliers): column 'species' is VARCHAR; outliers need numeric columns"
    )
    assert "threshold -1.0 must be a positive number" in fails(con, view, _outliers(threshold=-1))


def _messy(species: str, i: int) -> str:
    if i % 5 == 0:
        return f"  {species.upper()}\t"
    if i % 5 == 1:
        return species[:3] + " \u00a0 " + species[3:]
    if i % 5 == 2:
        return "".join(chr(ord(char) + 0xFEE0) for char in species)  # fullwidth letters
    if i % 5 == 3:
        return " N/A "
    return species


def _clean(text: str) -> str | None:
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()
    return None if text in ("n/a", "-") else text


def test_clean_strings_matches_python(con):
    frame = iris()
    frame["label"] = [_messy(s, i) for i, s in enumerate(frame["species"])]
    view = frame_view(con, frame)
    clean = pb.StringCleanStep(
        columns=["label"],
        trim=True,
        collapse_whitespace=True,
        case=pb.StringCleanStep.CASE_LOWER,
        normalize_unicode=True,
        null_tokens=["N/A", "-"],
    )
    got = table(con, run(con, view, step(clean_strings=clean)).view)["label"]
    expected = [_clean(text) for text in frame["label"]]
    assert [None if pd.isna(v) else v for v in got] == expected
    assert expected[2] == "setosa" and expected[1] == "set osa" and expected[3] is None


def test_clean_strings_every_text_column_and_errors(con):
    frame = iris()
    frame["label"] = [_messy(s, i) for i, s in enumerate(frame["species"])]
    view = frame_view(con, frame)
    upper = run(
        con,
        view,
        step(clean_strings=pb.StringCleanStep(trim=True, case=pb.StringCleanStep.CASE_UPPER)),
    )
    got = table(con, upper.view)
    assert got["species"].tolist() == frame["species"].str.upper().tolist()
    assert got["label"].tolist() == frame["label"].str.strip().str.upper().tolist()
    assert "column 'target' is BIGINT; clean_strings needs text" in fails(
        con, view, step(clean_strings=pb.StringCleanStep(columns=["target"], trim=True))
    )
    nothing = run(con, view, step(clean_strings=pb.StringCleanStep()))
    assert nothing.view == view and "nothing to clean" in nothing.warnings[0]


# ---------------------------------------------------------------------------------------------
# join, union


@pytest.fixture
def cultivars(con):
    """Wine and a lookup of its three cultivars (+ one no wine has), with a clashing column."""
    frame = wine()
    lookup = pd.DataFrame(
        {
            "class_id": [2, 0, 1, 7],
            "cultivar": ["Grignolino", "Barolo", "Barbera", "Nebbiolo"],
            "alcohol": [0.1, 0.2, 0.3, 0.4],
        }
    )
    return frame, lookup, frame_view(con, frame, "wine"), frame_view(con, lookup, "cultivars")


def _join(kind: int, suffix: str = "") -> pb.Step:
    keys = [pb.JoinStep.Key(left="target", right="class_id")]
    return step(join=pb.JoinStep(right="cultivars", type=kind, keys=keys, suffix=suffix))


def test_inner_and_left_join_match_pandas(con, cultivars):
    frame, lookup, view, right = cultivars
    sources = {"cultivars": right}
    for kind, how in ((pb.JoinStep.JOIN_TYPE_INNER, "inner"), (pb.JoinStep.JOIN_TYPE_LEFT, "left")):
        got = table(con, run(con, view, _join(kind), sources=sources).view)
        expected = frame.merge(
            lookup, how=how, left_on="target", right_on="class_id", suffixes=("", "_right")
        )
        assert list(got.columns) == [ROW_COLUMN, *expected.columns]
        assert got[ROW_COLUMN].tolist() == list(range(len(frame)))
        assert got["cultivar"].tolist() == expected["cultivar"].tolist()
        assert got["alcohol_right"].tolist() == expected["alcohol_right"].tolist()
        assert got["alcohol"].tolist() == frame["alcohol"].tolist()


def test_full_outer_join_puts_right_only_rows_last(con, cultivars):
    frame, lookup, view, right = cultivars
    result = run(
        con, view, _join(pb.JoinStep.JOIN_TYPE_FULL_OUTER, "_lookup"), sources={"cultivars": right}
    )
    got = table(con, result.view)
    assert len(got) == len(frame) + 1
    assert got[ROW_COLUMN].tolist() == list(range(len(frame) + 1))
    last = got.iloc[-1]
    assert last["cultivar"] == "Nebbiolo" and last["class_id"] == 7 and pd.isna(last["target"])
    assert "alcohol_lookup" in got.columns


def test_same_name_keys_become_one_column_and_many_matches_repeat_rows(con):
    frame = iris()
    notes = pd.DataFrame({"species": ["setosa", "setosa", "virginica"], "note": ["a", "b", "c"]})
    view, right = frame_view(con, frame, "iris"), frame_view(con, notes, "notes")
    keys = [pb.JoinStep.Key(left="species")]
    got = table(
        con,
        run(
            con, view, step(join=pb.JoinStep(right="notes", keys=keys)), sources={"notes": right}
        ).view,
    )
    expected = frame.merge(notes, on="species")
    assert list(got.columns) == [ROW_COLUMN, *frame.columns, "note"]
    assert len(got) == len(expected) == 150
    assert got["note"].tolist()[:4] == ["a", "b", "a", "b"]  # left order, then right order


def test_join_errors(con, cultivars):
    _, _, view, right = cultivars
    sources = {"cultivars": right}
    assert fails(
        con,
        view,
        step(join=pb.JoinStep(right="nope", keys=[pb.JoinStep.Key(left="target")])),
        sources=sources,
    ) == ("step 1 (join): right: unknown source alias 'nope'; sources are 'cultivars'")
    missing_key = pb.JoinStep(right="cultivars", keys=[pb.JoinStep.Key(left="target")])
    assert "unknown column 'target'" in fails(con, view, step(join=missing_key), sources=sources)
    assert "keys is empty" in fails(
        con, view, step(join=pb.JoinStep(right="cultivars")), sources=sources
    )
    mismatch = pb.JoinStep(
        right="cultivars", keys=[pb.JoinStep.Key(left="target", right="cultivar")]
    )
    assert fails(con, view, step(join=mismatch), sources=sources) == (
        "step 1 (join): join key 'target' is BIGINT but 'cultivars'.'cultivar' is VARCHAR; cast "
        "one side so both have the same type"
    )


def test_union_by_name_renumbers_rows(con):
    frame = iris()
    first = frame_view(con, frame.iloc[:100], "first")
    second = frame_view(con, frame.iloc[100:][list(reversed(frame.columns))], "second")
    result = run(
        con, first, step(union=pb.UnionStep(sources=["second"])), sources={"second": second}
    )
    got = table(con, result.view)
    assert list(got.columns) == [ROW_COLUMN, *frame.columns]
    assert got[ROW_COLUMN].tolist() == list(range(150))
    pd.testing.assert_frame_equal(
        got.drop(columns=ROW_COLUMN), frame, check_dtype=False, check_index_type=False
    )


def test_union_distinct_and_missing_columns(con):
    frame = iris()
    view = frame_view(con, frame, "all_rows")
    head = frame_view(con, frame.iloc[:10].drop(columns=["target"]), "head")
    sources = {"head": head}
    message = fails(con, view, step(union=pb.UnionStep(sources=["head"])), sources=sources)
    assert message == (
        "step 1 (union): schemas differ: source 'head' lacks 'target'; align the columns "
        "(select, rename) or set allow_missing_columns to fill the missing ones with nulls"
    )
    union = pb.UnionStep(sources=["head"], allow_missing_columns=True, distinct=True)
    result = run(con, view, step(union=union), sources=sources)
    expected = pd.concat([frame, frame.iloc[:10].drop(columns=["target"])]).drop_duplicates()
    got = table(con, result.view)
    assert len(got) == len(expected) == 159
    assert got[ROW_COLUMN].tolist() == list(range(159))
    assert got["target"].isna().sum() == 10
    assert result.warnings == [
        "step 1 (union): columns filled with nulls where missing: source 'head' lacks 'target'"
    ]
    plain = run(
        con,
        view,
        step(union=pb.UnionStep(sources=["all_rows"], distinct=True)),
        sources={"all_rows": view},
    )
    assert len(table(con, plain.view)) == len(frame.drop_duplicates()) == 149


def test_union_refuses_different_types(con):
    frame = iris()
    view = frame_view(con, frame, "a")
    other = frame_view(con, frame.assign(target=frame["species"]), "b")
    assert fails(con, view, step(union=pb.UnionStep(sources=["b"])), sources={"b": other}) == (
        "step 1 (union): column 'target' is BIGINT in the current table but VARCHAR in source "
        "'b'; cast it first so the types match"
    )
    assert "unknown source alias 'c'" in fails(con, view, step(union=pb.UnionStep(sources=["c"])))


# ---------------------------------------------------------------------------------------------
# the pipeline as a whole


def test_a_step_without_kind_names_its_index(con):
    view = frame_view(con, iris())
    message = fails(
        con, view, step(select=pb.SelectStep(columns=["species"])), pb.Step(description="?")
    )
    assert message.startswith("step 2 has no kind: set one of select, rename, cast")


def _recipe() -> list[pb.Step]:
    Op = pb.Comparison
    keep = pb.Predicate(
        comparison=pb.Comparison(
            column="bmi", op=Op.OPERATOR_GT, value=struct_pb2.Value(number_value=20)
        )
    )
    return [
        step(derive=pb.DeriveStep(column="risk", expression="if(bmi > 30, 'high', 'normal')")),
        step(filter=pb.FilterStep(keep=keep)),
        step(outliers=pb.OutliersStep(columns=["s1", "s2"], method=pb.OUTLIER_METHOD_ZSCORE)),
        step(
            drop_duplicates=pb.DropDuplicatesStep(
                subset=["age", "sex"], keep=pb.DropDuplicatesStep.KEEP_LAST
            )
        ),
        step(
            missing_values=pb.MissingValuesStep(
                strategy=MISSING.MISSING_VALUE_STRATEGY_FORWARD_FILL,
                order_by=[T.OrderBy(field="bmi")],
            )
        ),
        step(cast=pb.CastStep(casts=[Cast(column="age", type=T.DATA_TYPE_INT16)])),
        step(clean_strings=pb.StringCleanStep(case=pb.StringCleanStep.CASE_UPPER)),
        step(rename=pb.RenameStep(columns={"s1": "tc"})),
        step(select=pb.SelectStep(drop=["s4"])),
    ]


def test_same_input_same_output_in_the_same_order(tmp_path):
    outputs = []
    for run_number in range(2):
        connection = open_engine(EngineLimits(temp_directory=tmp_path / str(run_number), threads=2))
        view = frame_view(connection, diabetes())
        result = run(connection, view, *_recipe())
        outputs.append(table(connection, result.view))
        connection.close()
    pd.testing.assert_frame_equal(outputs[0], outputs[1])
    rows = outputs[0][ROW_COLUMN]
    assert rows.is_monotonic_increasing and rows.is_unique
    assert len(outputs[0]) == len(
        diabetes()[diabetes()["bmi"] > 20].drop_duplicates(["age", "sex"])
    )


def test_every_step_keeps_the_row_column_first(con):
    view = frame_view(con, diabetes())
    for single in _recipe():
        result = run(con, view, single)
        assert next(iter(columns_of(con, result.view))) == ROW_COLUMN


def test_names_and_values_are_data_never_sql(con):
    evil = 'a"; DROP TABLE x; --'
    value = "'); DROP"
    con.execute("CREATE TABLE x AS SELECT 1 AS kept")
    frame = pd.DataFrame({evil: [value, "ok", value, None], "n": [1, 2, 3, 4]})
    view = frame_view(con, frame)
    Op = pb.Comparison
    keep = pb.Predicate(
        comparison=pb.Comparison(
            column=evil, op=Op.OPERATOR_IN, values=[struct_pb2.Value(string_value=value)]
        )
    )
    fill = struct_pb2.Value(string_value=value + "--")
    quoted = '"' + evil.replace('"', '""') + '"'
    literal = "'" + value.replace("'", "''") + "'"
    steps = [
        step(
            missing_values=pb.MissingValuesStep(
                columns=[evil],
                strategy=MISSING.MISSING_VALUE_STRATEGY_FILL_CONSTANT,
                fill_value=fill,
            )
        ),
        step(
            derive=pb.DeriveStep(
                column=evil + "2",
                expression=f"concat({quoted}, {literal})",
            )
        ),
        step(filter=pb.FilterStep(keep=keep)),
        step(rename=pb.RenameStep(columns={"n": value})),
    ]
    got = table(con, run(con, view, *steps).view)
    assert list(got.columns) == [ROW_COLUMN, evil, value, evil + "2"]
    assert got[evil].tolist() == [value, value]
    assert got[evil + "2"].tolist() == [value + value, value + value]
    assert con.execute("SELECT kept FROM x").fetchall() == [(1,)]


def test_open_engine_applies_the_limits(tmp_path):
    spill = tmp_path / "spill" / "deep"
    connection = open_engine(EngineLimits(temp_directory=spill, memory_limit="300MB", threads=1))
    settings = connection.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads'), "
        "current_setting('temp_directory'), "
        "current_setting('preserve_insertion_order'), current_setting('TimeZone')"
    ).fetchall()
    assert settings == [("286.1 MiB", 1, str(spill), True, "UTC")]  # 300 MB
    assert spill.is_dir()
    connection.close()
    with pytest.raises(InvalidArgument, match="engine limits are not valid"):
        open_engine(EngineLimits(temp_directory=spill, memory_limit="plenty"))
