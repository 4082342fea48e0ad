"""The OIP v2 tensor codec: raw layout checked against struct, typed forms, and every refusal."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.errors import InvalidArgument
from services.predictor.tensors import datatype_of, decode_inputs, dtype_of, encode_outputs

Input = oip.ModelInferRequest.InferInputTensor
Contents = oip.InferTensorContents

# The published raw layout, written independently of the codec: little-endian struct codes.
STRUCT_CODES = {
    "BOOL": "?",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "FP16": "e",
    "FP32": "f",
    "FP64": "d",
}
TYPED_FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP16": "fp32_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}
# Six values each, extremes included, all exactly representable in the datatype.
VALUES: dict[str, list[Any]] = {
    "BOOL": [True, False, True, True, False, False],
    "INT8": [-128, 127, 0, -1, 5, 6],
    "INT16": [-32768, 32767, 0, -1, 300, 6],
    "INT32": [-(2**31), 2**31 - 1, 0, -1, 70000, 6],
    "INT64": [-(2**63), 2**63 - 1, 0, -1, 2**40, 6],
    "UINT8": [0, 255, 1, 128, 5, 6],
    "UINT16": [0, 65535, 1, 256, 5, 6],
    "UINT32": [0, 2**32 - 1, 1, 2**31, 5, 6],
    "UINT64": [0, 2**64 - 1, 1, 2**63, 5, 6],
    "FP16": [0.5, -65504.0, 65504.0, float("inf"), -0.0, 2.0**-24],
    "FP32": [1.5, -2.25, 3.4028234663852886e38, float("-inf"), 0.0, 2.0**-149],
    "FP64": [0.1, -1e300, 1.7976931348623157e308, float("nan"), 5e-324, 6.0],
}
SHAPES = [[6], [2, 3], [3, 1, 2], [0], [2, 0, 3]]
CASES = [(dt, shape) for dt in STRUCT_CODES for shape in SHAPES]
CASE_IDS = [f"{dt}-{'x'.join(map(str, shape))}" for dt, shape in CASES]
BYTES_VALUES = [b"", b"a\x00b", "héllo wörld ✓".encode(), b"\x00\x00\x00\x00", bytes(range(256))]


def pack(datatype: str, values: list[Any]) -> bytes:
    return struct.pack(f"<{len(values)}{STRUCT_CODES[datatype]}", *values)


def pack_bytes(values: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def values_for(datatype: str, shape: list[int]) -> list[Any]:
    return VALUES[datatype][: math.prod(shape)]


def expected(datatype: str, shape: list[int]) -> np.ndarray:
    return np.array(values_for(datatype, shape), dtype=dtype_of(datatype)).reshape(shape)


def request(*inputs: Any, raw: list[bytes] | None = None) -> Any:
    return oip.ModelInferRequest(model_name="m", inputs=list(inputs), raw_input_contents=raw or [])


def typed_input(name: str, datatype: str, shape: list[int], values: list[Any]) -> Any:
    contents = Contents(**{TYPED_FIELDS[datatype]: values}) if values else None
    return Input(name=name, datatype=datatype, shape=shape, contents=contents)


def over_the_wire(message: Any) -> Any:
    return type(message).FromString(message.SerializeToString())


def assert_same(actual: np.ndarray, wanted: np.ndarray) -> None:
    assert actual.dtype == wanted.dtype
    assert actual.shape == wanted.shape
    np.testing.assert_array_equal(actual, wanted, strict=True)


# --- raw form ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("datatype", "shape"), CASES, ids=CASE_IDS)
def test_raw_decode_reads_the_struct_layout(datatype: str, shape: list[int]) -> None:
    buf = pack(datatype, values_for(datatype, shape))
    req = over_the_wire(request(Input(name="x", datatype=datatype, shape=shape), raw=[buf]))
    (name, array), *_ = decode_inputs(req).items()
    assert name == "x"
    assert_same(array, expected(datatype, shape))


@pytest.mark.parametrize(("datatype", "shape"), CASES, ids=CASE_IDS)
def test_raw_encode_writes_the_struct_layout(datatype: str, shape: list[int]) -> None:
    tensors, buffers = encode_outputs({"y": expected(datatype, shape)}, raw=True)
    (tensor,) = tensors
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("y", datatype, shape)
    assert not tensor.contents.ListFields()
    assert buffers == [pack(datatype, values_for(datatype, shape))]


@pytest.mark.parametrize(("datatype", "shape"), CASES, ids=CASE_IDS)
def test_raw_round_trip(datatype: str, shape: list[int]) -> None:
    tensors, buffers = encode_outputs({"y": expected(datatype, shape)}, raw=True)
    response = over_the_wire(oip.ModelInferResponse(outputs=tensors, raw_output_contents=buffers))
    inputs = [Input(name=t.name, datatype=t.datatype, shape=t.shape) for t in response.outputs]
    decoded = decode_inputs(request(*inputs, raw=list(response.raw_output_contents)))
    assert_same(decoded["y"], expected(datatype, shape))


def test_raw_bytes_read_length_prefixed_elements() -> None:
    buf = pack_bytes(BYTES_VALUES)
    decoded = decode_inputs(request(Input(name="s", datatype="BYTES", shape=[5]), raw=[buf]))
    array = decoded["s"]
    assert array.dtype == object and array.shape == (5,)
    assert array.tolist() == BYTES_VALUES
    assert all(type(item) is bytes for item in array.tolist())


def test_raw_bytes_encode_matches_struct_layout_and_utf8() -> None:
    mixed = np.array([b"a\x00b", "héllo ✓", b"", "", b"\x00"], dtype=object).reshape(5, 1)
    unicode = np.array(["ab", "✓"])  # a numpy 'U' array
    tensors, buffers = encode_outputs({"mixed": mixed, "unicode": unicode}, raw=True)
    assert [(t.datatype, list(t.shape)) for t in tensors] == [("BYTES", [5, 1]), ("BYTES", [2])]
    assert buffers[0] == pack_bytes([b"a\x00b", "héllo ✓".encode(), b"", b"", b"\x00"])
    assert buffers[1] == pack_bytes([b"ab", "✓".encode()])


def test_raw_bytes_round_trip_multi_dim_and_empty() -> None:
    for shape in ([5], [5, 1], [0], [0, 4]):
        values = BYTES_VALUES[: math.prod(shape)]
        array = np.empty(len(values), dtype=object)
        array[:] = values
        tensors, buffers = encode_outputs({"b": array.reshape(shape)}, raw=True)
        inputs = [Input(name=t.name, datatype=t.datatype, shape=t.shape) for t in tensors]
        decoded = decode_inputs(over_the_wire(request(*inputs, raw=buffers)))["b"]
        assert decoded.shape == tuple(shape) and decoded.dtype == object
        assert decoded.ravel().tolist() == values


def test_fp16_raw_is_ieee_half_little_endian() -> None:
    buf = bytes.fromhex("003c") + bytes.fromhex("00c0") + bytes.fromhex("ff7b")  # 1, -2, 65504
    decoded = decode_inputs(request(Input(name="h", datatype="FP16", shape=[3]), raw=[buf]))
    assert decoded["h"].tolist() == [1.0, -2.0, 65504.0]
    _, buffers = encode_outputs({"h": np.array([1.0, -2.0, 65504.0], dtype=np.float16)}, raw=True)
    assert buffers == [buf]


def test_big_endian_is_never_used() -> None:
    for datatype in [*STRUCT_CODES, "BYTES"]:
        assert dtype_of(datatype).byteorder != ">"
        assert dtype_of(datatype) == dtype_of(datatype).newbyteorder("<")
    big = {"i": np.array([1, -2], dtype=">i4"), "f": np.array([1.5, 2.0], dtype=">f8")}
    tensors, buffers = encode_outputs(big, raw=True)
    assert [t.datatype for t in tensors] == ["INT32", "FP64"]
    assert buffers == [struct.pack("<2i", 1, -2), struct.pack("<2d", 1.5, 2.0)]
    decoded = decode_inputs(request(Input(name="x", datatype="INT32", shape=[2]), raw=buffers[:1]))
    assert decoded["x"].dtype.byteorder != ">" and decoded["x"].tolist() == [1, -2]


def test_raw_encode_is_c_order_for_non_contiguous_arrays() -> None:
    array = np.arange(6, dtype=np.int16).reshape(2, 3).T
    tensors, buffers = encode_outputs({"t": array}, raw=True)
    assert list(tensors[0].shape) == [3, 2]
    assert buffers == [struct.pack("<6h", 0, 3, 1, 4, 2, 5)]


def test_scalar_shape_round_trips() -> None:
    tensors, buffers = encode_outputs({"s": np.array(2.5, dtype=np.float32)}, raw=True)
    assert list(tensors[0].shape) == [] and buffers == [struct.pack("<f", 2.5)]
    inputs = [Input(name="s", datatype="FP32", shape=[])]
    assert_same(decode_inputs(request(*inputs, raw=buffers))["s"], np.array(2.5, np.float32))


def test_several_inputs_keep_their_order() -> None:
    names = ["z", "a", "m"]
    inputs = [Input(name=n, datatype="INT32", shape=[1]) for n in names]
    raw = [struct.pack("<i", i) for i in range(3)]
    decoded = decode_inputs(request(*inputs, raw=raw))
    assert list(decoded) == names
    assert [int(decoded[n][0]) for n in names] == [0, 1, 2]
    tensors, buffers = encode_outputs(decoded, raw=True)
    assert [t.name for t in tensors] == names and buffers == raw


# --- typed form ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("datatype", "shape"), CASES, ids=CASE_IDS)
def test_typed_round_trip(datatype: str, shape: list[int]) -> None:
    values = values_for(datatype, shape)
    decoded = decode_inputs(over_the_wire(request(typed_input("x", datatype, shape, values))))
    assert_same(decoded["x"], expected(datatype, shape))

    tensors, buffers = encode_outputs({"x": decoded["x"]}, raw=False)
    (tensor,) = tensors
    assert buffers == []
    assert (tensor.datatype, list(tensor.shape)) == (datatype, shape)
    fields = [d.name for d, _ in tensor.contents.ListFields()]
    assert fields == ([TYPED_FIELDS[datatype]] if values else [])
    echoed = Input(name="x", datatype=datatype, shape=shape, contents=tensor.contents)
    assert_same(decode_inputs(over_the_wire(request(echoed)))["x"], expected(datatype, shape))


def test_typed_bytes_round_trip() -> None:
    contents = Contents(bytes_contents=BYTES_VALUES[:4])
    decoded = decode_inputs(
        request(Input(name="b", datatype="BYTES", shape=[2, 2], contents=contents))
    )
    assert decoded["b"].shape == (2, 2) and decoded["b"].ravel().tolist() == BYTES_VALUES[:4]
    tensors, _ = encode_outputs({"b": decoded["b"]}, raw=False)
    assert list(tensors[0].contents.bytes_contents) == BYTES_VALUES[:4]
    tensors, _ = encode_outputs({"u": np.array(["héllo", "✓"])}, raw=False)
    assert list(tensors[0].contents.bytes_contents) == ["héllo".encode(), "✓".encode()]


def test_typed_fp16_accepts_non_finite_values() -> None:
    values = [float("inf"), float("-inf"), float("nan")]
    decoded = decode_inputs(request(typed_input("h", "FP16", [3], values)))["h"]
    assert decoded.dtype == np.float16
    assert np.isposinf(decoded[0]) and np.isneginf(decoded[1]) and np.isnan(decoded[2])


# --- datatype mapping --------------------------------------------------------------------------


def test_datatype_of_every_numpy_type() -> None:
    pairs = {
        np.bool_: "BOOL",
        np.int8: "INT8",
        np.int16: "INT16",
        np.int32: "INT32",
        np.int64: "INT64",
        np.uint8: "UINT8",
        np.uint16: "UINT16",
        np.uint32: "UINT32",
        np.uint64: "UINT64",
        np.float16: "FP16",
        np.float32: "FP32",
        np.float64: "FP64",
        np.object_: "BYTES",
        np.str_: "BYTES",
        np.bytes_: "BYTES",
    }
    for numpy_type, datatype in pairs.items():
        assert datatype_of(np.dtype(numpy_type)) == datatype
        assert datatype_of(numpy_type) == datatype
    for datatype in STRUCT_CODES:
        assert datatype_of(dtype_of(datatype)) == datatype


def test_unknown_datatype_and_unsendable_outputs() -> None:
    with pytest.raises(InvalidArgument, match="FLOAT32"):
        dtype_of("FLOAT32")
    with pytest.raises(TypeError, match="complex"):
        datatype_of(np.complex64)
    with pytest.raises(TypeError, match="'y'"):
        encode_outputs({"y": np.array([1, None], dtype=object)}, raw=True)
    with pytest.raises(TypeError, match="'y'"):
        encode_outputs({"y": np.array([b"a", 3], dtype=object)}, raw=False)


# --- refusals ------------------------------------------------------------------------------------

BadCase = Callable[[], Any]
NAME = "feat_x"


def raw_one(datatype: str, shape: list[int], buf: bytes) -> Any:
    return request(Input(name=NAME, datatype=datatype, shape=shape), raw=[buf])


def typed_one(datatype: str, shape: list[int], **contents: Any) -> Any:
    return request(Input(name=NAME, datatype=datatype, shape=shape, contents=Contents(**contents)))


def two_inputs(raw: list[bytes]) -> Any:
    inputs = [
        Input(name=NAME, datatype="FP32", shape=[1]),
        Input(name="b", datatype="FP32", shape=[1]),
    ]
    return request(*inputs, raw=raw)


BAD: dict[str, BadCase] = {
    "duplicate name": lambda: request(
        typed_input(NAME, "INT32", [1], [1]), typed_input(NAME, "INT32", [1], [2])
    ),
    "unknown datatype": lambda: request(typed_input(NAME, "FLOAT", [1], [])),
    "lower-case datatype": lambda: request(Input(name=NAME, datatype="fp32", shape=[1])),
    "negative dim": lambda: raw_one("FP32", [2, -1], b""),
    "too few raw buffers": lambda: two_inputs([pack("FP32", [1.0])]),
    "too many raw buffers": lambda: two_inputs([pack("FP32", [1.0])] * 3),
    "raw and typed": lambda: request(
        typed_input(NAME, "FP32", [1], [1.0]), raw=[pack("FP32", [1.0])]
    ),
    "raw too short": lambda: raw_one("FP32", [2], pack("FP32", [1.0])),
    "raw too long": lambda: raw_one("INT64", [1], pack("INT64", [1, 2])),
    "raw bool not 0/1": lambda: raw_one("BOOL", [2], b"\x01\x02"),
    "raw bytes cut in length": lambda: raw_one("BYTES", [2], pack_bytes([b"ab"]) + b"\x01\x00"),
    "raw bytes cut in data": lambda: raw_one("BYTES", [1], struct.pack("<I", 5) + b"abc"),
    "raw bytes too few": lambda: raw_one("BYTES", [3], pack_bytes([b"a", b"b"])),
    "raw bytes far too few": lambda: raw_one("BYTES", [5_000_000], pack_bytes([b"a"])),
    "raw bytes left over": lambda: raw_one("BYTES", [1], pack_bytes([b"a", b"b"])),
    "raw bytes huge length": lambda: raw_one("BYTES", [1], struct.pack("<I", 2**32 - 1) + b"x"),
    "typed too few": lambda: typed_one("FP32", [2, 2], fp32_contents=[1.0, 2.0, 3.0]),
    "typed too many": lambda: typed_one("INT32", [1], int_contents=[1, 2]),
    "typed missing": lambda: request(Input(name=NAME, datatype="FP64", shape=[3])),
    "typed wrong field": lambda: typed_one("FP32", [1], fp64_contents=[1.0]),
    "typed int64 in int": lambda: typed_one("INT64", [1], int_contents=[1]),
    "typed extra field": lambda: typed_one("UINT8", [1], uint_contents=[1], int_contents=[1]),
    "typed bytes as fp32": lambda: typed_one("BYTES", [1], fp32_contents=[1.0]),
    "UINT8 300": lambda: typed_one("UINT8", [2], uint_contents=[1, 300]),
    "INT8 -129": lambda: typed_one("INT8", [1], int_contents=[-129]),
    "INT8 128": lambda: typed_one("INT8", [1], int_contents=[128]),
    "INT16 40000": lambda: typed_one("INT16", [1], int_contents=[40000]),
    "UINT16 70000": lambda: typed_one("UINT16", [1], uint_contents=[70000]),
    "FP16 1e5": lambda: typed_one("FP16", [2], fp32_contents=[1.0, 1e5]),
    "too many elements": lambda: raw_one("UINT8", [10_001, 1000], b""),
    "huge dims": lambda: raw_one("UINT8", [2**40, 2**40], b""),
}


@pytest.mark.parametrize("build", BAD.values(), ids=BAD.keys())
def test_bad_input_is_refused_naming_it(build: BadCase) -> None:
    with pytest.raises(InvalidArgument) as info:
        decode_inputs(build())
    assert repr(NAME) in info.value.message


def test_unnamed_input_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="#1 has no name"):
        decode_inputs(
            request(typed_input("a", "BOOL", [1], [True]), typed_input("", "BOOL", [0], []))
        )


def test_byte_length_mismatch_names_both_lengths() -> None:
    with pytest.raises(InvalidArgument) as info:
        decode_inputs(raw_one("FP32", [2, 3], pack("FP32", [1.0] * 5)))
    message = info.value.message
    assert repr(NAME) in message and "24 bytes" in message and "has 20" in message


def test_out_of_range_message_names_the_range() -> None:
    with pytest.raises(InvalidArgument, match=r"UINT8 range \[0, 255\]"):
        decode_inputs(typed_one("UINT8", [1], uint_contents=[256]))


def test_max_elements_counts_the_whole_request() -> None:
    inputs = [Input(name=n, datatype="UINT8", shape=[2, 3]) for n in ("a", NAME)]
    raw = [bytes(6), bytes(6)]
    assert len(decode_inputs(request(*inputs, raw=raw), max_elements=12)) == 2
    with pytest.raises(InvalidArgument, match=f"{NAME!r}.*11"):
        decode_inputs(request(*inputs, raw=raw), max_elements=11)


def test_range_edges_are_accepted() -> None:
    req = request(
        typed_input("a", "INT8", [2], [-128, 127]),
        typed_input("b", "UINT16", [2], [0, 65535]),
        typed_input("c", "FP16", [2], [-65504.0, 65504.0]),
    )
    decoded = decode_inputs(req)
    assert decoded["a"].tolist() == [-128, 127] and decoded["b"].tolist() == [0, 65535]
    assert decoded["c"].tolist() == [-65504.0, 65504.0]


@pytest.mark.parametrize(
    ("datatype", "contents", "wanted"),
    [
        ("FP32", {"fp32_contents": [1.0], "fp64_contents": [1.0]}, "fp32_contents"),
        ("INT64", {"int64_contents": [1], "int_contents": [1]}, "int64_contents"),
        ("FP16", {"fp32_contents": [1.0], "uint_contents": [1]}, "fp32_contents"),
        ("BOOL", {"bool_contents": [True], "int_contents": [1]}, "bool_contents"),
    ],
)
def test_a_mismatched_contents_field_names_the_right_one(
    datatype: str, contents: dict[str, list[Any]], wanted: str
) -> None:
    with pytest.raises(InvalidArgument, match=f"{NAME!r} is {datatype} but carries .*in {wanted}"):
        decode_inputs(typed_one(datatype, [1], **contents))
