"""Parquet parts: names, row order, sizes, determinism, and a whole read -> split -> write run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import FailedPrecondition, InvalidArgument
from services.ingest.engine import ROW_COLUMN, SPLIT_COLUMN
from services.ingest.engine.splits import assign_split, counts
from services.ingest.engine.writer import write_parts
from tests.ingest.engine_fixtures import breast_cancer, engine, frame_view, wine
from tests.ingest.engine_io_fixtures import read


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def _shuffled_view(con, frame: pd.DataFrame, name: str = "shuffled") -> str:
    """A view whose rows come out of order: the writer must restore ROW_COLUMN order."""
    base = frame_view(con, frame, f"{name}_base")
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM {base} ORDER BY hash({ROW_COLUMN})")
    return name


def _digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]


def test_parts_hold_the_rows_in_order_without_the_row_column(con, tmp_path):
    data = pd.concat([breast_cancer()] * 10, ignore_index=True)  # 5,690 rows
    written = write_parts(con, _shuffled_view(con, data), tmp_path / "out", rows_per_part=2048)
    assert [path.name for path in written.files] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert written.row_count == len(data)
    assert written.size_bytes == sum(path.stat().st_size for path in written.files)
    assert [pq.ParquetFile(path).metadata.num_rows for path in written.files] == [2048, 2048, 1594]
    back = pd.concat([pd.read_parquet(path) for path in written.files], ignore_index=True)
    assert ROW_COLUMN not in back.columns
    pd.testing.assert_frame_equal(back, data, check_dtype=False)
    column = pq.ParquetFile(written.files[0]).metadata.row_group(0).column(0)
    assert column.compression == "ZSTD"


def _encodings(path: Path) -> set[str]:
    metadata = pq.ParquetFile(path).metadata
    return {
        encoding
        for group in range(metadata.num_row_groups)
        for column in range(metadata.num_columns)
        for encoding in metadata.row_group(group).column(column).encodings
    }


def test_format_v2_by_default_and_v1_on_request(con, tmp_path):
    """v2 parts use the delta encodings v1 readers may lack; both read back as the same rows."""
    data = pd.concat([wine()] * 20, ignore_index=True)
    data["label"] = [f"wine {index}" for index in range(len(data))]
    view = frame_view(con, data)
    newer = write_parts(con, view, tmp_path / "v2")
    older = write_parts(con, view, tmp_path / "v1", parquet_version="v1")
    assert {"DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY"} & _encodings(newer.files[0])
    assert not {e for e in _encodings(older.files[0]) if e.startswith("DELTA")}
    for written in (newer, older):
        back = pd.concat([pd.read_parquet(path) for path in written.files], ignore_index=True)
        pd.testing.assert_frame_equal(back, data, check_dtype=False)
    with pytest.raises(InvalidArgument, match="parquet_version is 'v3'; use one of v1, v2"):
        write_parts(con, view, tmp_path / "v3", parquet_version="v3")
    assert not (tmp_path / "v3").exists()


def test_writes_are_deterministic(con, tmp_path):
    view = _shuffled_view(con, pd.concat([wine()] * 20, ignore_index=True))
    first = write_parts(con, view, tmp_path / "a", rows_per_part=1000)
    second = write_parts(con, view, tmp_path / "b", rows_per_part=1000)
    assert [p.name for p in first.files] == [p.name for p in second.files]
    assert _digest(first.files) == _digest(second.files)


def test_no_rows_still_writes_the_schema(con, tmp_path):
    view = frame_view(con, wine())
    con.execute(f"CREATE VIEW nothing AS SELECT * FROM {view} WHERE alcohol < 0")
    written = write_parts(con, "nothing", tmp_path / "out")
    assert written.row_count == 0
    assert [path.name for path in written.files] == ["part-00000.parquet"]
    assert pq.read_schema(written.files[0]).names == list(wine().columns)


def test_bad_targets(con, tmp_path):
    view = frame_view(con, wine())
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(FailedPrecondition, match="already holds files"):
        write_parts(con, view, tmp_path / "used")
    with pytest.raises(InvalidArgument, match="rows_per_part is 0"):
        write_parts(con, view, tmp_path / "out", rows_per_part=0)


def test_csv_to_split_parquet(con, tmp_path):
    data = breast_cancer()
    data.to_csv(tmp_path / "cancer.csv", index=False)
    source = read(con, tmp_path / "cancer.csv")
    spec = pb.SplitSpec(
        method=pb.SPLIT_METHOD_STRATIFIED,
        column="target",
        seed=5,
        parts=[
            pb.SplitSpec.Part(name="train", fraction=0.8),
            pb.SplitSpec.Part(name="test", fraction=0.2),
        ],
    )
    split = assign_split(con, source.view, spec, "split")
    written = write_parts(con, split, tmp_path / "out")
    back = pd.read_parquet(written.files[0])
    assert list(back.columns) == [*data.columns, SPLIT_COLUMN]
    expected = {"train": 456, "test": 113}
    assert back[SPLIT_COLUMN].value_counts().to_dict() == counts(con, split, ["train"]) == expected
    pd.testing.assert_frame_equal(back.drop(columns=[SPLIT_COLUMN]), data, check_dtype=False)


def test_a_csv_scanned_in_parallel_is_written_in_file_order(con, tmp_path):
    """57k rows (11 MiB): the reader hands its buffers to two threads, and a COPY that rotates
    files once wrote row groups in the order the threads finished them."""
    data = pd.concat([breast_cancer()] * 100, ignore_index=True)
    data.insert(0, "line", range(len(data)))
    data.to_csv(tmp_path / "cancer.csv", index=False)
    source = read(con, tmp_path / "cancer.csv")
    first = write_parts(con, source.view, tmp_path / "a", rows_per_part=10_000)
    back = pd.concat([pd.read_parquet(path, columns=["line"]) for path in first.files])
    assert back["line"].tolist() == list(range(len(data)))
    second = write_parts(con, source.view, tmp_path / "b", rows_per_part=10_000)
    assert _digest(first.files) == _digest(second.files)
