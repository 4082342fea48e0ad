"""JSON values <-> numpy arrays <-> Open Inference raw tensor contents, for the REST prediction
routes. Raw buffers are little-endian; a BYTES element is a 4-byte little-endian length followed
by its bytes (the OIP raw layout and Triton's binary data layout alike)."""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.errors import InvalidArgument
from services.common.oip_types import CONTENTS_FIELDS, DATATYPES, NUMERIC_DTYPES

_INFERRED = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}
_LENGTH = struct.Struct("<I")


def check_datatype(name: str, datatype: object) -> str:
    if datatype not in DATATYPES:
        raise InvalidArgument(
            f"input {name!r} has datatype {datatype!r}; use one of {', '.join(DATATYPES)}"
        )
    return str(datatype)


def from_json(name: str, values: Any, preferred: str = "") -> tuple[str, np.ndarray]:
    """An input's JSON value(s) as (datatype, array). Numbers take the ``preferred`` numeric
    datatype when that loses nothing; text, b64 objects and nulls among text become BYTES;
    nulls among numbers become NaN (missing)."""
    try:
        array = np.asarray(values)
    except (ValueError, OverflowError) as exc:
        raise InvalidArgument(
            f"input {name!r} is ragged or holds a number out of range ({_short(exc)}); every "
            "row needs the same shape, and integers must fit in 64 bits"
        ) from None
    kind = array.dtype.kind
    if kind == "O":
        return _from_objects(name, array, preferred)
    if kind in "US":
        return "BYTES", array.astype(object)
    if kind not in _INFERRED:
        raise InvalidArgument(f"input {name!r} holds values of an unknown kind ({array.dtype})")
    return _numeric(name, array, preferred)


def _from_objects(name: str, array: np.ndarray, preferred: str) -> tuple[str, np.ndarray]:
    items = array.ravel().tolist()
    numbers = [v for v in items if v is not None]
    floats_wanted = preferred in ("FP16", "FP32", "FP64")
    if not numbers and not floats_wanted:
        return "BYTES", array  # only nulls: empty values, which the predictor reads as missing
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        target = preferred if floats_wanted else "FP64"
        floats = [math.nan if v is None else v for v in items]
        return target, np.asarray(floats, dtype=NUMERIC_DTYPES[target]).reshape(array.shape)
    for value in items:
        if isinstance(value, list | dict) and not _is_b64(value):
            raise InvalidArgument(
                f"input {name!r} holds {type(value).__name__} {_preview(value)} where a value "
                'belongs: send numbers, text, true/false, null or {"b64": "<base64>"}, with '
                "every row of the same shape"
            )
    return "BYTES", array


def _numeric(name: str, array: np.ndarray, preferred: str) -> tuple[str, np.ndarray]:
    inferred = _INFERRED[array.dtype.kind]
    target = NUMERIC_DTYPES.get(preferred)
    if target is None or preferred == inferred:
        return inferred, array
    kind = array.dtype.kind
    if target.kind == "f" or (target.kind == kind == "b"):
        return preferred, array.astype(target)
    if target.kind in "iu" and kind in "biu":
        info = np.iinfo(target)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise InvalidArgument(
                f"input {name!r} holds values outside {preferred}'s range [{info.min}, {info.max}]"
            )
        return preferred, array.astype(target)
    return inferred, array  # the predictor says what it makes of the type the JSON has


def _is_b64(value: object) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short(error: Exception) -> str:
    return str(error).split(". ")[0]


def typed(name: str, datatype: str, values: Any, shape: Sequence[int]) -> np.ndarray:
    """An explicitly typed tensor (Open Inference JSON): ``values`` flat or nested, reshaped to
    ``shape``; values that do not fit ``datatype`` are refused, never truncated."""
    count = math.prod(shape)
    got, array = from_json(name, values, datatype)
    if array.size != count:
        raise InvalidArgument(
            f"input {name!r} has {array.size} values but its shape {list(shape)} needs {count}"
        )
    if got != datatype:
        if datatype == "BYTES" or got == "BYTES":
            raise InvalidArgument(
                f"input {name!r} is {datatype} but its data holds {_kind_words(got)}"
            )
        if NUMERIC_DTYPES[datatype].kind != "f" and array.dtype.kind == "f":
            if not np.isfinite(array).all() or not (array == np.round(array)).all():
                raise InvalidArgument(
                    f"input {name!r} is {datatype} but its data holds non-integer numbers"
                )
            array = _numeric(name, array.astype(np.int64), datatype)[1]
        elif datatype == "BOOL":
            raise InvalidArgument(f"input {name!r} is BOOL; send true or false values")
        else:
            array = array.astype(NUMERIC_DTYPES[datatype])
    return array.reshape(shape)


def _kind_words(datatype: str) -> str:
    return "text" if datatype == "BYTES" else "numbers"


# -- raw contents ------------------------------------------------------------------------------


def to_raw(name: str, datatype: str, array: np.ndarray) -> bytes:
    if datatype != "BYTES":
        return array.astype(NUMERIC_DTYPES[datatype], copy=False).tobytes()
    parts: list[bytes] = []
    pack = _LENGTH.pack
    for item in array.ravel().tolist():
        data = _element_bytes(name, item)
        parts += (pack(len(data)), data)
    return b"".join(parts)


def _element_bytes(name: str, item: object) -> bytes:
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, bytes):
        return item
    if item is None:
        return b""  # OIP has no null: an empty value is missing
    if isinstance(item, bool):
        return b"true" if item else b"false"
    if isinstance(item, dict):
        return decode_b64(name, item.get("b64"))
    return str(item).encode()


def decode_b64(name: str, text: object) -> bytes:
    if not isinstance(text, str):
        raise InvalidArgument(f'input {name!r}: "b64" must hold a base64 string')
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(
            f"input {name!r}: {_preview(text)} is not valid base64 (standard alphabet, with "
            "padding)"
        ) from None


def raw_size(datatype: str, shape: Sequence[int]) -> int | None:
    """Bytes of a raw tensor of fixed-size elements; None for BYTES (variable)."""
    dtype = NUMERIC_DTYPES.get(datatype)
    return None if dtype is None else math.prod(shape) * dtype.itemsize


def from_raw(datatype: str, shape: Sequence[int], raw: bytes) -> np.ndarray:
    if datatype == "BYTES":
        return _split_bytes(raw).reshape(shape)
    return np.frombuffer(raw, dtype=NUMERIC_DTYPES[datatype]).reshape(shape)


def bytes_ends(raw: bytes) -> list[int]:
    """Where each element of raw BYTES contents ends (each is a 4-byte little-endian length,
    then that many bytes); struct.error when a length is cut short."""
    ends: list[int] = []
    pos, end = 0, len(raw)
    while pos < end:
        (length,) = _LENGTH.unpack_from(raw, pos)
        pos += 4 + length
        ends.append(pos)
    return ends


def _split_bytes(raw: bytes) -> np.ndarray:
    starts = [0, *bytes_ends(raw)]
    out = np.empty(len(starts) - 1, dtype=object)
    out[:] = [raw[start + 4 : end] for start, end in zip(starts, starts[1:], strict=False)]
    return out


def output_arrays(response: oip.ModelInferResponse) -> dict[str, np.ndarray]:
    """Every output of a response by name, from its raw contents or its typed contents."""
    raws = response.raw_output_contents
    arrays: dict[str, np.ndarray] = {}
    for index, tensor in enumerate(response.outputs):
        shape = list(tensor.shape)
        if index < len(raws):
            arrays[tensor.name] = from_raw(tensor.datatype, shape, raws[index])
            continue
        values = list(getattr(tensor.contents, CONTENTS_FIELDS.get(tensor.datatype, "")))
        dtype = NUMERIC_DTYPES.get(tensor.datatype, np.dtype(object))
        arrays[tensor.name] = np.asarray(values, dtype=dtype).reshape(shape)
    return arrays


def json_values(array: np.ndarray, b64: bool = False) -> Any:
    """An output array as nested JSON lists; BYTES as text (or {"b64": ...} objects)."""
    if array.dtype.kind != "O":
        return array.tolist()
    out = np.empty(array.size, dtype=object)
    out[:] = [text_value(item, b64) for item in array.ravel().tolist()]
    return out.reshape(array.shape).tolist()


def text_value(item: object, b64: bool = False) -> Any:
    data = item if isinstance(item, bytes) else str(item).encode()
    if not b64:
        try:
            return data.decode()
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(data).decode()}
