"""The Open Inference Protocol stubs are wire-identical to the published open_inference_grpc.proto.

Standard KServe / Triton clients only work if package, service, method names and every field
number and type match the published contract, so these numbers are written out here by hand from
that contract (github.com/kserve/open-inference-protocol, specification/protocol/) rather than read
back from our own proto.
"""

from __future__ import annotations

import struct

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.inference.v2 import open_inference_pb2_grpc as oip_grpc

F = FieldDescriptor
OPTIONAL, REPEATED = "optional", "repeated"
MAP = "map"  # repeated map<string, InferParameter>

# message full name -> field name -> (number, type, cardinality)
PUBLISHED: dict[str, dict[str, tuple[int, int, str]]] = {
    "inference.ServerLiveRequest": {},
    "inference.ServerLiveResponse": {"live": (1, F.TYPE_BOOL, OPTIONAL)},
    "inference.ServerReadyRequest": {},
    "inference.ServerReadyResponse": {"ready": (1, F.TYPE_BOOL, OPTIONAL)},
    "inference.ModelReadyRequest": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "version": (2, F.TYPE_STRING, OPTIONAL),
    },
    "inference.ModelReadyResponse": {"ready": (1, F.TYPE_BOOL, OPTIONAL)},
    "inference.ServerMetadataRequest": {},
    "inference.ServerMetadataResponse": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "version": (2, F.TYPE_STRING, OPTIONAL),
        "extensions": (3, F.TYPE_STRING, REPEATED),
    },
    "inference.ModelMetadataRequest": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "version": (2, F.TYPE_STRING, OPTIONAL),
    },
    "inference.ModelMetadataResponse": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "versions": (2, F.TYPE_STRING, REPEATED),
        "platform": (3, F.TYPE_STRING, OPTIONAL),
        "inputs": (4, F.TYPE_MESSAGE, REPEATED),
        "outputs": (5, F.TYPE_MESSAGE, REPEATED),
    },
    "inference.ModelMetadataResponse.TensorMetadata": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "datatype": (2, F.TYPE_STRING, OPTIONAL),
        "shape": (3, F.TYPE_INT64, REPEATED),
    },
    "inference.ModelInferRequest": {
        "model_name": (1, F.TYPE_STRING, OPTIONAL),
        "model_version": (2, F.TYPE_STRING, OPTIONAL),
        "id": (3, F.TYPE_STRING, OPTIONAL),
        "parameters": (4, F.TYPE_MESSAGE, MAP),
        "inputs": (5, F.TYPE_MESSAGE, REPEATED),
        "outputs": (6, F.TYPE_MESSAGE, REPEATED),
        "raw_input_contents": (7, F.TYPE_BYTES, REPEATED),
    },
    "inference.ModelInferRequest.InferInputTensor": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "datatype": (2, F.TYPE_STRING, OPTIONAL),
        "shape": (3, F.TYPE_INT64, REPEATED),
        "parameters": (4, F.TYPE_MESSAGE, MAP),
        "contents": (5, F.TYPE_MESSAGE, OPTIONAL),
    },
    "inference.ModelInferRequest.InferRequestedOutputTensor": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "parameters": (2, F.TYPE_MESSAGE, MAP),
    },
    "inference.ModelInferResponse": {
        "model_name": (1, F.TYPE_STRING, OPTIONAL),
        "model_version": (2, F.TYPE_STRING, OPTIONAL),
        "id": (3, F.TYPE_STRING, OPTIONAL),
        "parameters": (4, F.TYPE_MESSAGE, MAP),
        "outputs": (5, F.TYPE_MESSAGE, REPEATED),
        "raw_output_contents": (6, F.TYPE_BYTES, REPEATED),
    },
    "inference.ModelInferResponse.InferOutputTensor": {
        "name": (1, F.TYPE_STRING, OPTIONAL),
        "datatype": (2, F.TYPE_STRING, OPTIONAL),
        "shape": (3, F.TYPE_INT64, REPEATED),
        "parameters": (4, F.TYPE_MESSAGE, MAP),
        "contents": (5, F.TYPE_MESSAGE, OPTIONAL),
    },
    "inference.InferParameter": {
        "bool_param": (1, F.TYPE_BOOL, OPTIONAL),
        "int64_param": (2, F.TYPE_INT64, OPTIONAL),
        "string_param": (3, F.TYPE_STRING, OPTIONAL),
        "double_param": (4, F.TYPE_DOUBLE, OPTIONAL),
        "uint64_param": (5, F.TYPE_UINT64, OPTIONAL),
    },
    "inference.InferTensorContents": {
        "bool_contents": (1, F.TYPE_BOOL, REPEATED),
        "int_contents": (2, F.TYPE_INT32, REPEATED),
        "int64_contents": (3, F.TYPE_INT64, REPEATED),
        "uint_contents": (4, F.TYPE_UINT32, REPEATED),
        "uint64_contents": (5, F.TYPE_UINT64, REPEATED),
        "fp32_contents": (6, F.TYPE_FLOAT, REPEATED),
        "fp64_contents": (7, F.TYPE_DOUBLE, REPEATED),
        "bytes_contents": (8, F.TYPE_BYTES, REPEATED),
    },
}

# Message-typed fields -> the published type they hold.
MESSAGE_TYPES = {
    ("inference.ModelMetadataResponse", "inputs"): "inference.ModelMetadataResponse.TensorMetadata",
    (
        "inference.ModelMetadataResponse",
        "outputs",
    ): "inference.ModelMetadataResponse.TensorMetadata",
    ("inference.ModelInferRequest", "inputs"): "inference.ModelInferRequest.InferInputTensor",
    ("inference.ModelInferRequest", "outputs"): (
        "inference.ModelInferRequest.InferRequestedOutputTensor"
    ),
    ("inference.ModelInferRequest.InferInputTensor", "contents"): "inference.InferTensorContents",
    ("inference.ModelInferResponse", "outputs"): "inference.ModelInferResponse.InferOutputTensor",
    ("inference.ModelInferResponse.InferOutputTensor", "contents"): (
        "inference.InferTensorContents"
    ),
}

METHODS = {
    "ServerLive": ("ServerLiveRequest", "ServerLiveResponse"),
    "ServerReady": ("ServerReadyRequest", "ServerReadyResponse"),
    "ModelReady": ("ModelReadyRequest", "ModelReadyResponse"),
    "ServerMetadata": ("ServerMetadataRequest", "ServerMetadataResponse"),
    "ModelMetadata": ("ModelMetadataRequest", "ModelMetadataResponse"),
    "ModelInfer": ("ModelInferRequest", "ModelInferResponse"),
}


def all_messages() -> dict[str, Descriptor]:
    found: dict[str, Descriptor] = {}

    def walk(message: Descriptor) -> None:
        if message.GetOptions().map_entry:
            return
        found[message.full_name] = message
        for nested in message.nested_types:
            walk(nested)

    for message in oip.DESCRIPTOR.message_types_by_name.values():
        walk(message)
    return found


def cardinality(field: FieldDescriptor) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return MAP
    return REPEATED if field.is_repeated else OPTIONAL


def test_package_and_service() -> None:
    assert oip.DESCRIPTOR.package == "inference"
    service = oip.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert service.full_name == "inference.GRPCInferenceService"
    assert list(oip.DESCRIPTOR.services_by_name) == ["GRPCInferenceService"]
    assert set(service.methods_by_name) == set(METHODS)
    for name, (request, response) in METHODS.items():
        method = service.methods_by_name[name]
        assert method.input_type.full_name == f"inference.{request}"
        assert method.output_type.full_name == f"inference.{response}"
        assert not method.client_streaming and not method.server_streaming


class RecordingChannel:
    """Stands in for a grpc.Channel and records the method paths a stub binds."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def unary_unary(self, path: str, *args: object, **kwargs: object) -> object:
        self.paths.append(path)
        return object()


def test_stub_calls_the_published_paths() -> None:
    channel = RecordingChannel()
    oip_grpc.GRPCInferenceServiceStub(channel)
    assert sorted(channel.paths) == sorted(f"/inference.GRPCInferenceService/{m}" for m in METHODS)


def test_messages_are_exactly_the_published_ones() -> None:
    assert set(all_messages()) == set(PUBLISHED)


@pytest.mark.parametrize("message_name", sorted(PUBLISHED))
def test_fields_match_published_numbers_and_types(message_name: str) -> None:
    message = all_messages()[message_name]
    actual = {
        field.name: (field.number, field.type, cardinality(field)) for field in message.fields
    }
    assert actual == PUBLISHED[message_name]
    for field in message.fields:
        if field.type != F.TYPE_MESSAGE:
            continue
        held = field.message_type
        assert held is not None
        if cardinality(field) == MAP:
            assert held.fields_by_name["key"].type == F.TYPE_STRING
            value = held.fields_by_name["value"].message_type
            assert value is not None and value.full_name == "inference.InferParameter"
        else:
            assert held.full_name == MESSAGE_TYPES[(message_name, field.name)]


def test_infer_parameter_is_one_oneof() -> None:
    descriptor = oip.InferParameter.DESCRIPTOR
    assert list(descriptor.oneofs_by_name) == ["parameter_choice"]
    members = [f.name for f in descriptor.oneofs_by_name["parameter_choice"].fields]
    assert members == ["bool_param", "int64_param", "string_param", "double_param", "uint64_param"]
    parameter = oip.InferParameter(int64_param=5)
    parameter.string_param = "x"
    assert parameter.WhichOneof("parameter_choice") == "string_param"


# --- the bytes on the wire -------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def delimited(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def top_level_fields(buf: bytes) -> list[tuple[int, int, bytes | int]]:
    """(field number, wire type, payload) of each top-level field, in encoded order."""
    fields: list[tuple[int, int, bytes | int]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = read_varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = read_varint(buf, pos)
            fields.append((number, wire_type, value))
        elif wire_type == 2:
            length, pos = read_varint(buf, pos)
            fields.append((number, wire_type, buf[pos : pos + length]))
            pos += length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            fields.append((number, wire_type, buf[pos : pos + size]))
            pos += size
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
    return fields


def delimited_payload(fields: list[tuple[int, int, bytes | int]], number: int) -> bytes:
    (payload,) = [p for n, _, p in fields if n == number]
    assert isinstance(payload, bytes)
    return payload


def test_encoded_request_uses_published_field_numbers() -> None:
    raw = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    request = oip.ModelInferRequest(
        model_name="iris",
        model_version="3",
        id="req-1",
        inputs=[oip.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 4])],
        outputs=[oip.ModelInferRequest.InferRequestedOutputTensor(name="probabilities")],
        raw_input_contents=[raw],
    )
    request.parameters["timeout"].int64_param = 250

    fields = top_level_fields(request.SerializeToString(deterministic=True))

    # Fields 1..7 in order, all length-delimited (wire type 2); raw_input_contents is 7.
    assert [(n, w) for n, w, _ in fields] == [(n, 2) for n in range(1, 8)]
    assert delimited_payload(fields, 1) == b"iris"
    assert delimited_payload(fields, 7) == raw
    tensor = top_level_fields(delimited_payload(fields, 5))  # InferInputTensor
    assert tensor == [(1, 2, b"x"), (2, 2, b"FP32"), (3, 2, b"\x01\x04")]  # shape packed
    entry = top_level_fields(delimited_payload(fields, 4))  # map entry: key = 1, value = 2
    assert entry[0] == (1, 2, b"timeout")
    assert top_level_fields(delimited_payload(entry, 2)) == [(2, 0, 250)]  # int64_param = 2


def test_hand_encoded_published_bytes_decode() -> None:
    """Bytes laid out by the published numbering decode into the expected fields."""
    contents = (
        delimited(3, varint(7) + varint(9))  # int64_contents, packed
        + delimited(6, struct.pack("<2f", 0.25, 0.75))  # fp32_contents, packed
        + delimited(8, b"a")  # bytes_contents
        + delimited(8, b"bc")
    )
    output = delimited(1, b"probabilities") + delimited(2, b"FP32") + delimited(3, varint(2))
    output += delimited(5, contents)
    parameter = varint(4 << 3 | 1) + struct.pack("<d", 0.5)  # double_param = 4, fixed64
    entry = delimited(1, b"prediction_id") + delimited(2, delimited(3, b"p-1"))
    buf = (
        delimited(1, b"iris")
        + delimited(2, b"3")
        + delimited(3, b"req-1")
        + delimited(4, entry)
        + delimited(4, delimited(1, b"score") + delimited(2, parameter))
        + delimited(5, output)
        + delimited(6, b"\x00\x01")
    )

    response = oip.ModelInferResponse.FromString(buf)

    assert (response.model_name, response.model_version, response.id) == ("iris", "3", "req-1")
    assert response.parameters["prediction_id"].string_param == "p-1"
    assert response.parameters["score"].double_param == 0.5
    (tensor,) = response.outputs
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("probabilities", "FP32", [2])
    assert list(tensor.contents.fp32_contents) == [0.25, 0.75]
    assert list(tensor.contents.int64_contents) == [7, 9]
    assert list(tensor.contents.bytes_contents) == [b"a", b"bc"]
    assert list(response.raw_output_contents) == [b"\x00\x01"]
    assert response.SerializeToString(deterministic=True) == buf


def test_round_trip_keeps_every_content_type() -> None:
    contents = oip.InferTensorContents(
        bool_contents=[True, False],
        int_contents=[-1, 2],
        int64_contents=[-(2**40)],
        uint_contents=[7],
        uint64_contents=[2**63],
        fp32_contents=[1.5],
        fp64_contents=[2.25],
        bytes_contents=[b"\x00x"],
    )
    request = oip.ModelInferRequest(
        model_name="m",
        inputs=[
            oip.ModelInferRequest.InferInputTensor(
                name="t", datatype="BYTES", shape=[1], contents=contents
            )
        ],
    )
    decoded = oip.ModelInferRequest.FromString(request.SerializeToString())
    assert decoded == request
    numbers = [n for n, _, _ in top_level_fields(contents.SerializeToString(deterministic=True))]
    assert numbers == [1, 2, 3, 4, 5, 6, 7, 8]
