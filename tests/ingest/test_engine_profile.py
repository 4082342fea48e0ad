"""Schemas and column statistics, checked against pandas / numpy on scikit-learn's bundled data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

from aimass.common.v1 import common_pb2
from services.ingest.engine import SPLIT_COLUMN
from services.ingest.engine.duck_types import common_type
from services.ingest.engine.profile import QUANTILES, footer_text_ranges, profile, schema_of
from tests.ingest.engine_fixtures import diabetes, engine, frame_view, iris, wine


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def _by_name(stats: list[common_pb2.ColumnStatistics]) -> dict[str, common_pb2.ColumnStatistics]:
    return {item.name: item for item in stats}


def test_schema_maps_duckdb_types(con):
    con.execute(
        "CREATE TABLE typed AS SELECT 1::BIGINT AS _aimass_row, true AS b, 1::TINYINT AS i8, "
        "1::INTEGER AS i32, 1::BIGINT AS i64, 1::UBIGINT AS u64, 1.5::FLOAT AS f32, "
        "1.5::DOUBLE AS f64, 1.5::DECIMAL(10,2) AS dec, 'x' AS s, DATE '2024-01-01' AS d, "
        "TIMESTAMP '2024-01-01 10:00' AS ts, TIMESTAMPTZ '2024-01-01 10:00+00' AS tz, "
        "'\\x00'::BLOB AS raw, TIME '10:00' AS t, [1, 2] AS l, 'train' AS _split"
    )
    schema = schema_of(con, "typed")
    types = {field.name: field.type for field in schema.fields}
    D = common_pb2
    assert types == {
        "b": D.DATA_TYPE_BOOL,
        "i8": D.DATA_TYPE_INT8,
        "i32": D.DATA_TYPE_INT32,
        "i64": D.DATA_TYPE_INT64,
        "u64": D.DATA_TYPE_UINT64,
        "f32": D.DATA_TYPE_FP32,
        "f64": D.DATA_TYPE_FP64,
        "dec": D.DATA_TYPE_DECIMAL,
        "s": D.DATA_TYPE_STRING,
        "d": D.DATA_TYPE_DATE,
        "ts": D.DATA_TYPE_TIMESTAMP,
        "tz": D.DATA_TYPE_TIMESTAMP,
        "raw": D.DATA_TYPE_BYTES,
        "t": D.DATA_TYPE_UNSPECIFIED,
        "l": D.DATA_TYPE_UNSPECIFIED,
        SPLIT_COLUMN: D.DATA_TYPE_STRING,
    }
    logical = {field.name: field.logical_type for field in schema.fields}
    assert logical["dec"] == "DECIMAL(10,2)" and logical["l"] == "INTEGER[]"
    assert common_type("ENUM('a', 'b')") == D.DATA_TYPE_STRING


def test_numeric_statistics_match_pandas(con):
    data = wine()
    stats = _by_name(profile(con, frame_view(con, data)))
    assert list(stats) == list(data.columns)
    for name in data.columns:
        column, item = data[name], stats[name]
        assert (item.count, item.null_count) == (len(column), 0)
        assert item.min == pytest.approx(column.min())
        assert item.max == pytest.approx(column.max())
        assert item.mean == pytest.approx(column.mean())
        assert item.std == pytest.approx(column.std())  # both the sample std (ddof=1)
        assert abs(item.distinct_estimate - column.nunique()) <= max(3, 0.05 * column.nunique())
        assert [q.q for q in item.quantiles] == list(QUANTILES)
        expected = column.quantile(list(QUANTILES)).tolist()  # exact at this size, as pandas
        assert [q.value for q in item.quantiles] == pytest.approx(expected, rel=1e-12)
        counts, edges = np.histogram(column, bins=10, range=(column.min(), column.max()))
        assert [b.count for b in item.histogram] == counts.tolist()
        assert [b.lower for b in item.histogram] == pytest.approx(edges[:-1].tolist())
        assert [b.upper for b in item.histogram] == pytest.approx(edges[1:].tolist())


def test_top_values_and_text_ranges(con):
    data = iris()
    stats = _by_name(profile(con, frame_view(con, data)))
    species = stats["species"]
    assert [(v.value, v.count) for v in species.top_values] == [
        ("setosa", 50),
        ("versicolor", 50),
        ("virginica", 50),
    ]
    assert (species.min_text, species.max_text) == ("setosa", "virginica")
    assert not species.HasField("mean") and not species.histogram
    # A low-cardinality number also gets its top values.
    assert {v.value: v.count for v in stats["target"].top_values} == {"0": 50, "1": 50, "2": 50}
    assert not stats["sepal length (cm)"].top_values  # 35 distinct values: not low-cardinality


def test_nulls_dates_and_booleans(con):
    data = diabetes()
    data["visit"] = np.datetime64("2020-01-01") + data["age"].astype("timedelta64[D]")
    data["male"] = data["sex"] == 2
    data["label"] = data["sex"].map({1.0: "one", 2.0: None})
    stats = _by_name(profile(con, frame_view(con, data)))
    label = stats["label"]
    assert label.null_count == int(data["label"].isna().sum())
    assert label.count == int(data["label"].notna().sum())
    assert [(v.value, v.count) for v in label.top_values] == [("one", label.count)]
    visit = stats["visit"]
    assert visit.min_text == str(data["visit"].min())
    assert visit.max_text == str(data["visit"].max())
    male = stats["male"]
    expected = data["male"].value_counts()
    assert {v.value: v.count for v in male.top_values} == {
        "true": int(expected[True]),
        "false": int(expected[False]),
    }


def test_constant_and_empty_columns(con):
    con.execute(
        "CREATE TABLE odd AS SELECT range AS _aimass_row, 7.0 AS constant, "
        "CAST(NULL AS DOUBLE) AS nothing, [range] AS nested FROM range(20)"
    )
    stats = _by_name(profile(con, "odd"))
    constant = stats["constant"]
    assert [(b.lower, b.upper, b.count) for b in constant.histogram] == [(7.0, 7.0, 20)]
    assert constant.std == 0
    nothing = stats["nothing"]
    assert (nothing.count, nothing.null_count, len(nothing.histogram)) == (0, 20, 0)
    assert not nothing.HasField("min")
    assert stats["nested"].count == 20


def test_text_ranges_from_parquet_footers_match_the_data(con, tmp_path):
    """Read from exact footer statistics (several row groups, nulls, a group of only nulls,
    accents and long strings), the text ranges equal the scanned ones."""
    data = iris().loc[lambda frame: frame.index.repeat(30)].reset_index(drop=True)
    data["species"] = data["species"].map(
        {"setosa": "sétosa " * 20, "versicolor": "versicolore", "virginica": None}
    )
    data["empty"] = None
    data["empty"] = data["empty"].astype("string")
    path = tmp_path / "iris.parquet"
    frame_view(con, data, "to_write")
    con.execute(
        f"COPY (SELECT * EXCLUDE (_aimass_row) FROM to_write) TO '{path}' "
        "(FORMAT parquet, ROW_GROUP_SIZE 2048)"
    )
    con.execute(f"CREATE VIEW stored AS SELECT * FROM read_parquet('{path}')")
    groups = con.execute(f"SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{path}')")
    assert groups.fetchall()[0][0] == 3  # the last holds no species at all
    from_footer = footer_text_ranges(con, [path])
    assert set(from_footer) == {"species"}
    scanned = _by_name(profile(con, "stored"))
    footer = _by_name(profile(con, "stored", [path]))
    for name in ("species", "empty"):
        assert footer[name] == scanned[name]
    assert footer["species"].max_text == "versicolore"
    assert footer["species"].min_text == "sétosa " * 20


def _parts(con, frame: pd.DataFrame, folder: Path, cuts: list[int]) -> tuple[str, list[Path]]:
    """`frame` as Parquet parts cut at `cuts`, and a view reading them."""
    folder.mkdir()
    files = []
    for index, (start, end) in enumerate(zip([0, *cuts], [*cuts, len(frame)], strict=True)):
        files.append(folder / f"part-{index:05d}.parquet")
        pq.write_table(pa.Table.from_pandas(frame.iloc[start:end], preserve_index=False), files[-1])
    listed = ", ".join(f"'{path}'" for path in files)
    con.execute(f"CREATE VIEW {folder.name} AS SELECT * FROM read_parquet([{listed}])")
    return folder.name, files


def test_quantiles_of_many_rows_come_from_a_sample_whatever_the_parts(con, tmp_path):
    """statsmodels' weekly CO2 (2,284 rows, 59 missing): above `quantile_rows` the quantiles are
    the exact ones of a hashed sample of rows, the same however the rows are cut into parts;
    every other statistic stays exact."""
    co2 = sm.datasets.co2.load_pandas().data.reset_index(names="week")
    co2["year"] = co2["week"].dt.year
    one, one_files = _parts(con, co2, tmp_path / "one", [700, 1500])
    two, two_files = _parts(con, co2, tmp_path / "two", [1000])
    exact = _by_name(profile(con, one, one_files))
    sampled = _by_name(profile(con, one, one_files, quantile_rows=500))
    again = _by_name(profile(con, two, two_files, quantile_rows=500))
    values = co2["co2"].dropna()
    assert [q.value for q in exact["co2"].quantiles] == pytest.approx(
        values.quantile(list(QUANTILES)).tolist(), rel=1e-12
    )
    for name in ("co2", "year"):
        assert sampled[name].quantiles == again[name].quantiles
        assert sampled[name].quantiles != exact[name].quantiles
        unsampled = (sampled[name].count, list(sampled[name].histogram))
        assert unsampled == (exact[name].count, list(exact[name].histogram))
        # parallel sums add in any order: the mean may differ in the last bit
        assert sampled[name].mean == pytest.approx(exact[name].mean, rel=1e-12)
    for quantile in sampled["co2"].quantiles:  # about 500 rows: within 5% of rank
        rank = (values < quantile.value).mean()
        assert abs(rank - quantile.q) <= 0.05


def test_statistics_from_the_parts_equal_those_of_a_full_scan(con, tmp_path):
    """A profile of Parquet parts (footers read, quantiles sampled above the limit) equals one
    that reads no footer: doubles, float32, decimals, unsigned, a constant, a column with NaN
    (no footer statistics at all) and one with nulls, over several row groups."""
    data = diabetes()
    data["s1_f32"] = data["s1"].astype("float32")
    data["big"] = (data["s2"] * 1000).astype("uint64")
    data["half"] = data["bmi"].where(data.index % 3 > 0)
    data["with_nan"] = data["bp"].where(data.index % 5 > 0, np.nan)
    data["same"] = 4.0
    view, files = _parts(con, data, tmp_path / "parts", [150, 300])
    con.execute(
        f"CREATE VIEW typed AS SELECT * REPLACE (CAST(bmi AS DECIMAL(9, 2)) AS bmi, "
        f"CASE WHEN with_nan IS NULL THEN 'nan'::DOUBLE ELSE with_nan END AS with_nan) FROM {view}"
    )
    path = tmp_path / "typed.parquet"
    con.execute(f"COPY typed TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 2048)")
    con.execute(f"CREATE VIEW stored_typed AS SELECT * FROM read_parquet('{path}')")
    for name, paths in ((view, files), ("stored_typed", [path])):
        from_parts = profile(con, name, paths)
        scanned = profile(con, name)
        for one, other in zip(from_parts, scanned, strict=True):  # sums differ in the last bit
            expected = pytest.approx((other.mean, other.std), rel=1e-12, nan_ok=True)
            assert (one.mean, one.std) == expected
            one.ClearField("std"), other.ClearField("std")
            one.ClearField("mean"), other.ClearField("mean")
        assert from_parts == scanned
        by_name = _by_name(from_parts)
        assert len(by_name["same"].histogram) == 1 and len(by_name["big"].histogram) == 10
    assert not _by_name(profile(con, "stored_typed", [path]))["with_nan"].histogram
