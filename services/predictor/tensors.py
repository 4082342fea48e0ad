"""Open Inference Protocol v2 tensors <-> numpy arrays: decode requests, encode responses.

Raw buffers are always little-endian, whatever the host, and decode as zero-copy read-only views.
Caller mistakes raise InvalidArgument naming the input; an output numpy cannot put on the wire is
a server bug and raises TypeError.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.errors import InvalidArgument
from services.common.oip_types import CONTENTS_FIELDS, NUMERIC_DTYPES

DEFAULT_MAX_ELEMENTS = 10_000_000

_DTYPES: dict[str, np.dtype[Any]] = {**NUMERIC_DTYPES, "BYTES": np.dtype(object)}
_DATATYPE_NAMES = ", ".join(_DTYPES)
_BY_KIND = {
    (dtype.kind, dtype.itemsize): name for name, dtype in _DTYPES.items() if name != "BYTES"
}
_CONTENTS_FIELD = CONTENTS_FIELDS
# Typed values arrive in their wire field's width; only narrower datatypes need a range check.
_WIRE_DTYPES: dict[str, np.dtype[Any]] = {
    "bool_contents": np.dtype(bool),
    "int_contents": np.dtype(np.int32),
    "int64_contents": np.dtype(np.int64),
    "uint_contents": np.dtype(np.uint32),
    "uint64_contents": np.dtype(np.uint64),
    "fp32_contents": np.dtype(np.float32),
    "fp64_contents": np.dtype(np.float64),
}
_RANGES: dict[str, tuple[float, float]] = {
    name: (float(np.iinfo(_DTYPES[name]).min), float(np.iinfo(_DTYPES[name]).max))
    for name in ("INT8", "INT16", "UINT8", "UINT16")
}
_RANGES["FP16"] = (-float(np.finfo(np.float16).max), float(np.finfo(np.float16).max))
_LENGTH = struct.Struct("<I")


def dtype_of(datatype: str) -> np.dtype[Any]:
    """The numpy dtype (explicitly little-endian) for an OIP datatype name."""
    try:
        return _DTYPES[datatype]
    except KeyError:
        message = f"unknown datatype {datatype!r}; use one of {_DATATYPE_NAMES}"
        raise InvalidArgument(message) from None


def datatype_of(dtype: np.dtype[Any] | type) -> str:
    """The OIP datatype name for a numpy dtype; str, bytes and object arrays are BYTES."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OUS":
        return "BYTES"
    name = _BY_KIND.get((dtype.kind, dtype.itemsize))
    if name is None:
        raise TypeError(f"numpy dtype {dtype} has no Open Inference Protocol datatype")
    return name


def decode_inputs(
    request: oip.ModelInferRequest, *, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> dict[str, np.ndarray]:
    """Every input of `request` as an array of its shape, in the order sent."""
    inputs = request.inputs
    raws = request.raw_input_contents
    if raws and len(raws) != len(inputs):
        names = ", ".join(repr(tensor.name) for tensor in inputs)
        raise InvalidArgument(
            f"raw_input_contents has {len(raws)} entries but the request has {len(inputs)} "
            f"inputs ({names}); send exactly one raw buffer per input, in input order"
        )
    arrays: dict[str, np.ndarray] = {}
    budget = max_elements
    for index, tensor in enumerate(inputs):
        name, datatype, shape = _header(tensor, index, arrays)
        count = math.prod(shape)
        budget -= count
        if budget < 0:
            raise InvalidArgument(
                f"input {name!r} ({count} elements) takes the request over its limit of "
                f"{max_elements} elements; split it into smaller requests"
            )
        if raws:
            arrays[name] = _decode_raw(tensor, name, datatype, shape, count, raws[index])
        else:
            arrays[name] = _decode_typed(tensor, name, datatype, count).reshape(shape)
    return arrays


def _header(tensor: Any, index: int, seen: Mapping[str, object]) -> tuple[str, str, list[int]]:
    name: str = tensor.name
    if not name:
        raise InvalidArgument(f"input #{index} has no name; give every input a unique name")
    if name in seen:
        raise InvalidArgument(f"input {name!r} is sent twice; give every input a unique name")
    datatype: str = tensor.datatype
    if datatype not in _DTYPES:
        raise InvalidArgument(
            f"input {name!r} has unknown datatype {datatype!r}; use one of {_DATATYPE_NAMES}"
        )
    shape: list[int] = tensor.shape[:]  # slicing is the cheapest copy out of the container
    if shape and min(shape) < 0:
        raise InvalidArgument(
            f"input {name!r} has shape {shape}; every dimension must be 0 or more"
        )
    return name, datatype, shape


def _decode_raw(
    tensor: Any, name: str, datatype: str, shape: list[int], count: int, buf: bytes
) -> np.ndarray:
    if tensor.HasField("contents") and tensor.contents.ListFields():
        raise InvalidArgument(
            f"input {name!r} has typed contents but the request also uses raw_input_contents; "
            "send every input either raw or typed, not both"
        )
    if datatype == "BYTES":
        return _split_bytes(name, buf, count).reshape(shape)
    dtype = _DTYPES[datatype]
    expected = count * dtype.itemsize
    if len(buf) != expected:
        raise InvalidArgument(
            f"input {name!r} needs {expected} bytes of raw little-endian data ({count} {datatype} "
            f"elements of {dtype.itemsize} bytes) but its raw_input_contents entry has {len(buf)}"
        )
    if datatype == "BOOL" and count and np.frombuffer(buf, dtype=np.uint8).max() > 1:
        raise InvalidArgument(f"input {name!r} is BOOL; send one byte per element, 0 or 1")
    return np.ndarray(shape, dtype, buf)  # a read-only view: no copy of the request's bytes


def _split_bytes(name: str, buf: bytes, count: int) -> np.ndarray:
    """Each BYTES element is a 4-byte little-endian length followed by that many bytes."""
    pos, end = 0, len(buf)
    if count * 4 > end:  # refuse before allocating room for elements that cannot be there
        raise InvalidArgument(
            f"input {name!r} has {count} BYTES elements but its raw data has only {end} bytes; "
            "send each element as a 4-byte little-endian length followed by that many bytes"
        )
    out = np.empty(count, dtype=object)
    for i in range(count):
        if pos + 4 > end:
            raise _truncated(name, count, i, end)
        (length,) = _LENGTH.unpack_from(buf, pos)
        pos += 4
        if pos + length > end:
            raise _truncated(name, count, i, end)
        out[i] = buf[pos : pos + length]
        pos += length
    if pos != end:
        raise InvalidArgument(
            f"input {name!r} has {end - pos} bytes left over after its {count} BYTES elements; "
            "send exactly one 4-byte little-endian length plus data per element"
        )
    return out


def _truncated(name: str, count: int, index: int, size: int) -> InvalidArgument:
    return InvalidArgument(
        f"input {name!r}: raw BYTES data ({size} bytes) ends inside element {index} of {count}; "
        "send each element as a 4-byte little-endian length followed by that many bytes"
    )


def _decode_typed(tensor: Any, name: str, datatype: str, count: int) -> np.ndarray:
    field = _CONTENTS_FIELD[datatype]
    if tensor.HasField("contents"):
        for descriptor, _ in tensor.contents.ListFields():
            if descriptor.name != field:
                raise InvalidArgument(
                    f"input {name!r} is {datatype} but carries {descriptor.name}; "
                    f"send its values in {field}"
                )
    values = getattr(tensor.contents, field)
    if len(values) != count:
        raise InvalidArgument(
            f"input {name!r} has {len(values)} values in {field} but its shape needs {count}"
        )
    if datatype == "BYTES":
        out = np.empty(count, dtype=object)
        out[:] = list(values)
        return out
    wire = np.array(values, dtype=_WIRE_DTYPES[field])  # upb containers convert in C
    bounds = _RANGES.get(datatype)
    if bounds is not None and count:
        finite = wire[np.isfinite(wire)] if datatype == "FP16" else wire
        if finite.size and (finite.min() < bounds[0] or finite.max() > bounds[1]):
            raise InvalidArgument(
                f"input {name!r} has values outside the {datatype} range "
                f"[{bounds[0]:g}, {bounds[1]:g}]; send values that fit or use a wider datatype"
            )
    return wire.astype(_DTYPES[datatype], copy=False)


def encode_outputs(
    outputs: Mapping[str, np.ndarray], *, raw: bool
) -> tuple[list[oip.ModelInferResponse.InferOutputTensor], list[bytes]]:
    """Output tensors, plus their raw_output_contents when `raw` (the tensors then carry none)."""
    tensors: list[oip.ModelInferResponse.InferOutputTensor] = []
    buffers: list[bytes] = []
    for name, value in outputs.items():
        array = np.asarray(value)
        datatype = datatype_of(array.dtype)
        tensor = oip.ModelInferResponse.InferOutputTensor(
            name=name, datatype=datatype, shape=array.shape
        )
        if raw:
            buffers.append(_raw_bytes(name, datatype, array))
        else:
            tensor.contents.CopyFrom(_typed_contents(name, datatype, array))
        tensors.append(tensor)
    return tensors, buffers


def _raw_bytes(name: str, datatype: str, array: np.ndarray) -> bytes:
    if datatype == "BYTES":
        pack = _LENGTH.pack
        parts: list[bytes] = []
        for item in array.ravel().tolist():
            data = _as_bytes(name, item)
            parts += (pack(len(data)), data)
        return b"".join(parts)
    return array.astype(_DTYPES[datatype], copy=False).tobytes()


def _typed_contents(name: str, datatype: str, array: np.ndarray) -> oip.InferTensorContents:
    field = _CONTENTS_FIELD[datatype]
    flat = array.ravel()
    if datatype == "BYTES":
        values: list[Any] = [_as_bytes(name, item) for item in flat.tolist()]
    elif datatype == "FP16":
        values = flat.astype(np.float32).tolist()
    else:
        values = flat.tolist()
    return oip.InferTensorContents(**{field: values})


def _as_bytes(name: str, item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, bytearray | memoryview):
        return bytes(item)
    raise TypeError(f"output {name!r} holds a {type(item).__name__}; BYTES need bytes or str")
