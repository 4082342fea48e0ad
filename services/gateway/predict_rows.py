"""The tabular convenience: JSON rows (objects of column -> value) as one tensor per column, the
way a trainer model takes them. Numbers go as INT64 (all integers) or FP64, booleans as BOOL,
text and mixed columns as BYTES; a null or an absent key is a missing value (NaN among numbers,
an empty value in BYTES), which the model imputes or refuses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.errors import InvalidArgument
from services.common.oip_types import PREDICTION_ID
from services.gateway.predict_tensors import json_values, to_raw

_INT64 = (-(2**63), 2**63 - 1)


def infer_request(body: dict[str, Any], name: str) -> oip.ModelInferRequest:
    rows = body.get("rows")
    if not isinstance(rows, list) or not rows:
        raise InvalidArgument('"rows" must be a non-empty list of objects (column -> value)')
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidArgument(f"row {index} must be an object of column -> value")
    request = oip.ModelInferRequest(model_name=name, model_version=_version(body.get("version")))
    for column in dict.fromkeys(key for row in rows for key in row):
        datatype, array = column_tensor(column, [row.get(column) for row in rows])
        request.inputs.add(name=column, datatype=datatype, shape=[len(rows)])
        request.raw_input_contents.append(to_raw(column, datatype, array))
    for output in _outputs(body.get("outputs")):
        request.outputs.add(name=output)
    return request


def _version(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidArgument('"version" must be a version number or an alias')
    return str(value)


def _outputs(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidArgument('"outputs" must be a list of output names')
    return list(value)


def column_tensor(column: str, values: list[Any]) -> tuple[str, np.ndarray]:
    present = [v for v in values if v is not None]
    for index, value in enumerate(values):
        if isinstance(value, list | dict):
            raise InvalidArgument(
                f"column {column!r} of row {index} holds a {type(value).__name__}; a row holds "
                "one value (number, text, true/false or null) per column"
            )
    complete = len(present) == len(values)
    if present and all(isinstance(v, bool) for v in present):
        if complete:
            return "BOOL", np.asarray(values, dtype=bool)
    elif present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        if complete and all(isinstance(v, int) for v in present):
            if min(present) >= _INT64[0] and max(present) <= _INT64[1]:
                return "INT64", np.asarray(values, dtype=np.int64)
        return "FP64", np.asarray([math.nan if v is None else v for v in values], np.float64)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return "BYTES", array


def response_body(response: oip.ModelInferResponse, arrays: dict[str, np.ndarray]) -> Any:
    """The answering version and prediction id, then each output under its name, rows first
    (an output named like one of the first keys goes under ``output:<name>``)."""
    parameters = response.parameters
    body: dict[str, Any] = {
        "model": response.model_name,
        "model_version": response.model_version,
        "prediction_id": (
            parameters[PREDICTION_ID].string_param if PREDICTION_ID in parameters else ""
        ),
    }
    for name, array in arrays.items():
        body[f"output:{name}" if name in body else name] = json_values(array)
    return body
