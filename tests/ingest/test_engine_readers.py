"""File readers on scikit-learn's bundled data written as CSV, TSV, JSON Lines and Parquet, on
local paths, globs and a real S3 API (moto); every bad input with the message it gets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument, NotFound
from services.ingest.engine import ROW_COLUMN, SPLIT_COLUMN, columns_of, jsonl_reader
from services.ingest.engine.readers import read_dataset
from tests.ingest.engine_fixtures import breast_cancer, diabetes, engine, iris, wine
from tests.ingest.engine_io_fixtures import (
    SKIP,
    assert_same,
    count,
    iris_named,
    read,
    rows,
)

SEPAL = "sepal length (cm)"


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv", **options: Any) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False, **options)
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


# --- CSV / TSV ---


def test_csv_is_read_with_detected_options_written_back(con, tmp_path):
    frame = iris()
    result = read(con, _csv(tmp_path, frame))
    assert_same(rows(con, result.view), frame)
    assert list(columns_of(con, result.view))[0] == ROW_COLUMN
    assert rows(con, result.view)[ROW_COLUMN].tolist() == list(range(150))
    csv = result.resolved.csv
    assert (csv.delimiter, csv.header, csv.encoding) == (",", pb.HEADER_MODE_PRESENT, "utf-8")
    assert csv.column_types[SEPAL] == common_pb2.DATA_TYPE_FP64
    assert csv.column_types["target"] == common_pb2.DATA_TYPE_INT64
    assert csv.column_types["species"] == common_pb2.DATA_TYPE_STRING
    assert result.resolved.format == pb.FILE_FORMAT_CSV
    assert result.bytes_total == (tmp_path / "data.csv").stat().st_size
    assert (result.skipped_rows, result.skipped_examples) == (0, [])
    # A rebuild with the resolved options reads exactly the same table.
    again = read(con, tmp_path / "data.csv", result.resolved)
    pd.testing.assert_frame_equal(rows(con, again.view), rows(con, result.view))
    assert again.resolved == result.resolved


def test_tsv_by_extension_and_by_format(con, tmp_path):
    frame = wine()
    result = read(con, _csv(tmp_path, frame, "wine.tsv", sep="\t"))
    assert result.resolved.format == pb.FILE_FORMAT_TSV
    assert result.resolved.csv.delimiter == "\t"
    assert_same(rows(con, result.view), frame)
    named = _csv(tmp_path, frame, "wine.txt", sep="\t")
    forced = read(con, named, pb.FileSource(format=pb.FILE_FORMAT_TSV))
    assert_same(rows(con, forced.view), frame)


def test_explicit_dialect_without_header(con, tmp_path):
    frame = diabetes()
    frame.loc[3, "bmi"] = None
    path = tmp_path / "diabetes.csv"
    body = frame.to_csv(index=False, header=False, sep=";", na_rep="NA")
    path.write_text("# exported\nrow to skip\n" + body)
    names = [f"c{i}" for i in range(len(frame.columns))]
    options = pb.CsvOptions(
        delimiter=";",
        header=pb.HEADER_MODE_ABSENT,
        skip_rows=2,
        column_names=names,
        null_values=["NA"],
        column_types={"c1": common_pb2.DATA_TYPE_STRING},
    )
    result = read(con, path, pb.FileSource(csv=options))
    table = rows(con, result.view)
    assert list(table.columns) == [ROW_COLUMN, *names]
    assert len(table) == len(frame)
    assert table["c1"].tolist() == [str(v) for v in frame["sex"]]
    assert table["c0"].tolist() == pytest.approx(frame["age"].tolist())
    assert table["c2"].isna().tolist() == [i == 3 for i in range(len(frame))]
    assert result.resolved.csv.column_types["c1"] == common_pb2.DATA_TYPE_STRING
    assert result.resolved.csv.header == pb.HEADER_MODE_ABSENT


def test_header_absent_names_are_written_back(con, tmp_path):
    path = _csv(tmp_path, iris().drop(columns=["species"]), header=False)
    result = read(con, path, pb.FileSource(csv=pb.CsvOptions(header=pb.HEADER_MODE_ABSENT)))
    assert list(result.resolved.csv.column_names) == [f"column{i}" for i in range(5)]
    assert count(con, result.view) == 150


def test_glob_of_csv_files_reads_in_name_order(con, tmp_path):
    frame = breast_cancer()
    parts = [frame.iloc[:200], frame.iloc[200:400], frame.iloc[400:]]
    for index, part in reversed(list(enumerate(parts))):
        part.to_csv(tmp_path / f"cancer-{index}.csv", index=False)
    result = read(con, tmp_path / "cancer-*.csv")
    table = rows(con, result.view)
    assert_same(table, frame)
    assert table[ROW_COLUMN].tolist() == list(range(len(frame)))
    assert result.bytes_total == sum(p.stat().st_size for p in tmp_path.glob("cancer-*.csv"))


def test_a_glob_does_not_follow_a_link_out_of_its_folder(con, tmp_path):
    inside, outside = tmp_path / "imports", tmp_path / "private"
    inside.mkdir()
    outside.mkdir()
    iris().to_csv(inside / "a.csv", index=False)
    iris().to_csv(outside / "secret.csv", index=False)
    (inside / "b.csv").symlink_to(outside / "secret.csv")
    with pytest.raises(InvalidArgument, match=r"b\.csv.*a link to a file outside"):
        read(con, inside / "*.csv")
    (inside / "b.csv").unlink()
    (inside / "c.csv").symlink_to(inside / "a.csv")  # a link inside the folder is fine
    assert count(con, read(con, inside / "*.csv").view) == 300


def test_sample_rows_reads_only_the_first_rows(con, tmp_path):
    result = read(con, _csv(tmp_path, wine()), sample_rows=10)
    assert count(con, result.view) == 10


# --- encodings ---


def test_latin1_needs_its_encoding(con, tmp_path):
    frame = iris_named()
    path = _csv(tmp_path, frame, encoding="latin-1")
    with pytest.raises(InvalidArgument, match=r"not valid utf-8 \(line 2\).*csv.encoding"):
        read(con, path)
    result = read(con, path, pb.FileSource(csv=pb.CsvOptions(encoding="latin1")))
    assert_same(rows(con, result.view), frame)
    assert result.resolved.csv.encoding == "latin1"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "cp1252", "utf-8-sig"])
def test_other_encodings(con, tmp_path, encoding):
    frame = iris_named()
    frame["species"] = frame["species"] + " œ"  # in cp1252, not in latin-1
    path = _csv(tmp_path, frame, encoding=encoding)
    if encoding == "utf-16-be":  # no byte order mark: it has to be named
        source = pb.FileSource(csv=pb.CsvOptions(encoding=encoding))
    elif encoding == "cp1252":
        source = pb.FileSource(csv=pb.CsvOptions(encoding="windows-1252"))
    else:  # a byte order mark is detected
        source = pb.FileSource()
    result = read(con, path, source)
    assert_same(rows(con, result.view), frame)
    # Transcoded copies live in the spill folder only while reading.
    assert not list((tmp_path / "spill").glob("aimass-transcoded-*"))


def test_unknown_or_wrong_encoding(con, tmp_path):
    path = _csv(tmp_path, iris_named(), encoding="latin-1")
    with pytest.raises(InvalidArgument, match="'klingon' is not a known encoding"):
        read(con, path, pb.FileSource(csv=pb.CsvOptions(encoding="klingon")))
    with pytest.raises(InvalidArgument, match="not valid utf-16-be"):
        read(con, path, pb.FileSource(csv=pb.CsvOptions(encoding="utf-16-be")))


# --- malformed rows ---


def _bad_iris(tmp_path: Path) -> Path:
    path = _csv(tmp_path, iris())
    lines = _lines(path)
    lines.insert(10, "5.0,3.0,1.0")  # line 11: too few columns
    lines.insert(40, "5.0,3.0,1.0,0.2,0,setosa,extra")  # line 41: too many
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_csv_row_fails_with_its_line(con, tmp_path):
    path = _bad_iris(tmp_path)
    with pytest.raises(InvalidArgument) as caught:
        read(con, path)
    message = caught.value.message
    assert "line 11" in message and "Expected Number of Columns: 6 Found: 3" in message
    assert "MALFORMED_ROW_POLICY_SKIP" in message and str(path) in message


def test_an_upload_is_named_by_its_source_not_its_staged_path(con, tmp_path):
    path = _bad_iris(tmp_path)
    with pytest.raises(InvalidArgument) as caught:
        read(con, path, pb.FileSource(upload_id="u1"))
    assert caught.value.message.startswith("the upload of source 'src', line 11: ")
    assert str(tmp_path) not in caught.value.message
    result = read(con, path, pb.FileSource(upload_id="u1"), policy=SKIP)
    assert result.skipped_examples[0].source == "the upload of source 'src'"
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InvalidArgument, match="^the upload of source 'src' has no data rows"):
        read(con, tmp_path / "empty.csv", pb.FileSource(upload_id="u2"))


def test_file_urls(con, tmp_path):
    path = _csv(tmp_path, wine())
    result = read(con, path.as_uri())
    assert count(con, result.view) == 178
    assert result.resolved.url == path.as_uri()


def test_malformed_csv_rows_are_skipped_and_counted(con, tmp_path):
    result = read(con, _bad_iris(tmp_path), policy=SKIP)
    assert count(con, result.view) == 150
    assert result.skipped_rows == 2
    assert [(e.line, e.reason) for e in result.skipped_examples] == [
        (11, "Expected Number of Columns: 6 Found: 3"),
        (41, "Expected Number of Columns: 6 Found: 7"),
    ]
    assert rows(con, result.view)[ROW_COLUMN].tolist() == list(range(150))


def test_a_value_that_does_not_fit_the_type_is_malformed(con, tmp_path):
    frame = iris()
    path = _csv(tmp_path, frame)
    forced = pb.CsvOptions(column_types={SEPAL: common_pb2.DATA_TYPE_FP64})
    with path.open("a") as handle:
        handle.write("not-a-number,3.0,1.0,0.2,0,setosa\n")
    with pytest.raises(InvalidArgument, match=r"line 152: .*Could not convert string"):
        read(con, path, pb.FileSource(csv=forced))
    result = read(con, path, pb.FileSource(csv=forced), policy=SKIP)
    assert result.skipped_rows == 1 and result.skipped_examples[0].line == 152


def test_at_most_100_examples_are_kept(con, tmp_path):
    path = _csv(tmp_path, wine())
    with path.open("a") as handle:
        handle.writelines("1,2\n" for _ in range(150))
    result = read(con, path, policy=SKIP)
    assert result.skipped_rows == 150
    assert len(result.skipped_examples) == 100
    assert result.skipped_examples[0].line == 180 and result.skipped_examples[-1].line == 279


# --- JSON Lines and Parquet ---


def test_jsonl(con, tmp_path):
    frame = diabetes()
    path = tmp_path / "diabetes.jsonl"
    frame.to_json(path, orient="records", lines=True)
    result = read(con, path)
    assert result.resolved.format == pb.FILE_FORMAT_JSONL
    assert_same(rows(con, result.view), frame)
    subset = read(con, path, pb.FileSource(columns=["bmi", "age"]))
    assert list(columns_of(con, subset.view)) == [ROW_COLUMN, "bmi", "age"]
    with pytest.raises(InvalidArgument, match=r"columns \['weight'\] are not in the JSON"):
        read(con, path, pb.FileSource(columns=["weight"]))


def test_malformed_json_lines(con, tmp_path, monkeypatch):
    # Types come from the first lines; a later value of another type is a malformed row.
    monkeypatch.setattr(jsonl_reader, "SAMPLE_LINES", 100)
    path = tmp_path / "iris.jsonl"
    iris().to_json(path, orient="records", lines=True)
    lines = _lines(path)
    lines.insert(2, "")  # line 3: blank lines are not rows
    lines.insert(5, '{"sepal length (cm)": 1.0,')  # line 6: cut short
    lines.insert(8, "[1, 2, 3]")  # line 9: not an object
    lines.insert(130, '{"target": "two"}')  # line 131: not an integer
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidArgument, match=r"iris.jsonl, line 6: malformed JSON"):
        read(con, path)
    result = read(con, path, policy=SKIP)
    assert count(con, result.view) == 150
    assert [(e.line, e.reason) for e in result.skipped_examples] == [
        (6, "malformed JSON"),
        (9, "not a JSON object"),
        (131, "the value of 'target' is not a BIGINT"),
    ]
    assert_same(rows(con, result.view), iris())


def test_parquet_with_a_column_subset(con, tmp_path):
    frame = breast_cancer()
    path = tmp_path / "cancer.parquet"
    frame.to_parquet(path)
    result = read(con, path)
    assert_same(rows(con, result.view), frame)
    subset = read(con, path, pb.FileSource(columns=["target", "mean radius"]))
    assert_same(rows(con, subset.view), frame[["target", "mean radius"]])
    with pytest.raises(InvalidArgument, match="not in the Parquet"):
        read(con, path, pb.FileSource(columns=["radius"]))


def test_format_detected_from_content(con, tmp_path):
    frame = wine()
    frame.to_parquet(tmp_path / "a")
    frame.to_json(tmp_path / "b", orient="records", lines=True)
    frame.to_csv(tmp_path / "c", index=False)
    for name, expected in (
        ("a", pb.FILE_FORMAT_PARQUET),
        ("b", pb.FILE_FORMAT_JSONL),
        ("c", pb.FILE_FORMAT_CSV),
    ):
        result = read(con, tmp_path / name)
        assert result.resolved.format == expected
        assert_same(rows(con, result.view), frame)


# --- bad input ---


def test_over_the_size_limit(con, tmp_path):
    path = _csv(tmp_path, wine())
    size = path.stat().st_size
    with pytest.raises(InvalidArgument, match=rf"{size:,} bytes, over the limit of 1,000 bytes"):
        read(con, path, max_bytes=1000)
    assert count(con, read(con, path, max_bytes=size).view) == 178


def test_empty_inputs(con, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,c\n")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    for name in ("empty.csv", "header.csv", "empty.jsonl"):
        with pytest.raises(InvalidArgument, match="has no data rows"):
            read(con, tmp_path / name)


def test_missing_files(con, tmp_path):
    with pytest.raises(NotFound, match="no file at"):
        read(con, tmp_path / "nope.csv")
    with pytest.raises(NotFound, match="no file matches"):
        read(con, tmp_path / "nope-*.csv")


@pytest.mark.parametrize("column", [ROW_COLUMN, SPLIT_COLUMN])
def test_reserved_column_names(con, tmp_path, column):
    frame = iris().rename(columns={"species": column})
    with pytest.raises(InvalidArgument, match=f"'{column}' is reserved"):
        read(con, _csv(tmp_path, frame))
    frame.to_parquet(tmp_path / "reserved.parquet")
    with pytest.raises(InvalidArgument, match=f"'{column}' is reserved"):
        read(con, tmp_path / "reserved.parquet")


# --- dataset versions ---


def test_read_dataset_with_a_split_filter(con, tmp_path):
    frame = wine()
    frame[SPLIT_COLUMN] = ["train" if i % 4 else "test" for i in range(len(frame))]
    frame.iloc[:100].to_parquet(tmp_path / "part-00000.parquet")
    frame.iloc[100:].to_parquet(tmp_path / "part-00001.parquet")
    files = [str(tmp_path / "part-00000.parquet"), str(tmp_path / "part-00001.parquet")]
    result = read_dataset(con, "old", files, [], "d")
    assert_same(rows(con, result.view), frame)
    test_only = read_dataset(con, "old", files, ["test"], "d")
    table = rows(con, test_only.view)
    assert_same(table, frame[frame[SPLIT_COLUMN] == "test"])
    assert table[ROW_COLUMN].tolist() == list(range(len(table)))
    with pytest.raises(InvalidArgument, match="no split 'valid' \\(it has: test, train\\)"):
        read_dataset(con, "old", files, ["valid"], "d")


# --- s3:// through fsspec (a real S3 API: moto) ---


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[Any, dict[str, str]]]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    options = {
        "endpoint_url": endpoint,
        "key": "testing",
        "secret": "testing",
        "region": "us-east-1",
    }
    yield client, options
    server.stop()


def test_s3_glob_and_parquet(con, tmp_path, s3):
    client, options = s3
    bucket = f"ingest-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    frame = breast_cancer()
    for index, part in enumerate((frame.iloc[:300], frame.iloc[300:])):
        client.put_object(
            Bucket=bucket, Key=f"raw/part-{index}.csv", Body=part.to_csv(index=False).encode()
        )
    frame.to_parquet(tmp_path / "cancer.parquet")
    client.upload_file(str(tmp_path / "cancer.parquet"), bucket, "raw/cancer.parquet")
    source = pb.FileSource(storage_options=options)
    result = read(con, f"s3://{bucket}/raw/part-*.csv", source)
    assert_same(rows(con, result.view), frame)
    assert result.bytes_total > 0
    assert dict(result.resolved.storage_options) == {
        "endpoint_url": options["endpoint_url"],
        "region": "us-east-1",
    }
    parquet = read(con, f"s3://{bucket}/raw/cancer.parquet", source)
    assert_same(rows(con, parquet.view), frame)
    other = pb.FileSource(storage_options={**options, "key": "someone-else"})
    with pytest.raises(InvalidArgument, match="different storage options"):
        read(con, f"s3://{bucket}/raw/cancer.parquet", other)
    with pytest.raises(NotFound):
        read(con, f"s3://{bucket}/raw/missing.csv", source)
