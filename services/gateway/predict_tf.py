"""TensorFlow Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest) over Open
Inference tensors: the row ("instances") and columnar ("inputs") request formats, the
"predictions" / "outputs" response forms, model status and metadata bodies.

One extension: a model with several inputs (a trainer model takes one per column) also takes
instances that are plain lists, sent as one 2-D tensor [rows, columns] as the predictor allows."""

from __future__ import annotations

from typing import Any

import numpy as np

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.errors import InvalidArgument
from services.gateway.predict_tensors import from_json, json_values, to_raw

SIGNATURES = ("", "serving_default")
MATRIX_INPUT = "input"
TF_DTYPES = {
    "BOOL": "DT_BOOL",
    "INT8": "DT_INT8",
    "INT16": "DT_INT16",
    "INT32": "DT_INT32",
    "INT64": "DT_INT64",
    "UINT8": "DT_UINT8",
    "UINT16": "DT_UINT16",
    "UINT32": "DT_UINT32",
    "UINT64": "DT_UINT64",
    "FP16": "DT_HALF",
    "FP32": "DT_FLOAT",
    "FP64": "DT_DOUBLE",
    "BYTES": "DT_STRING",
}
Tensors = dict[str, Any]  # input name -> its JSON values, rows first


def infer_request(
    body: dict[str, Any], datatypes: dict[str, str], name: str, version: str
) -> tuple[oip.ModelInferRequest, bool]:
    """The ModelInferRequest of a predict body for a model of inputs ``datatypes`` (name ->
    OIP datatype), and whether the body used the row format."""
    signature = body.get("signature_name", "")
    if signature not in SIGNATURES:
        raise InvalidArgument(
            f"signature_name {signature!r} is not a signature of this model; it has one, "
            "'serving_default' (or leave signature_name out)"
        )
    rows = "instances" in body
    if rows == ("inputs" in body):
        raise InvalidArgument(
            'send either "instances" (row format) or "inputs" (columnar format), not both '
            "and not neither"
        )
    names = list(datatypes)
    tensors = _from_rows(body["instances"], names) if rows else _from_columns(body["inputs"], names)
    request = oip.ModelInferRequest(model_name=name, model_version=version)
    for input_name, values in tensors.items():
        datatype, array = from_json(input_name, values, datatypes.get(input_name, ""))
        request.inputs.add(name=input_name, datatype=datatype, shape=array.shape)
        request.raw_input_contents.append(to_raw(input_name, datatype, array))
    return request, rows


def _is_named(value: object) -> bool:
    return isinstance(value, dict) and not (len(value) == 1 and "b64" in value)


def _from_rows(instances: Any, names: list[str]) -> Tensors:
    if not isinstance(instances, list) or not instances:
        raise InvalidArgument('"instances" must be a non-empty list of rows')
    named = [_is_named(row) for row in instances]
    if not any(named):
        return {_unnamed_input(names): instances}
    if not all(named):
        raise InvalidArgument(
            '"instances" mixes objects keyed by input name with plain values; use one form '
            "for every row"
        )
    keys = list(instances[0])
    for index, row in enumerate(instances):
        if set(row) != set(keys):
            raise InvalidArgument(
                f'row {index} of "instances" has inputs {sorted(row)} but row 0 has '
                f"{sorted(keys)}; every row needs the same named inputs"
            )
    return {key: [row[key] for row in instances] for key in keys}


def _from_columns(inputs: Any, names: list[str]) -> Tensors:
    if _is_named(inputs):
        if not inputs:
            raise InvalidArgument('"inputs" is an empty object; name at least one input')
        return dict(inputs)
    return {_unnamed_input(names): inputs}


def _unnamed_input(names: list[str]) -> str:
    return names[0] if len(names) == 1 else MATRIX_INPUT


def predict_body(outputs: dict[str, np.ndarray], rows: bool) -> dict[str, Any]:
    """TF Serving's response: one output as a plain list, several as an object per row (row
    format) or per output name (columnar). Outputs named ``*_bytes`` come back base64-encoded."""
    values = {name: json_values(array, name.endswith("_bytes")) for name, array in outputs.items()}
    if not rows:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    counts = {name: len(array) if array.ndim else 1 for name, array in outputs.items()}
    if len(set(counts.values())) != 1:
        raise InvalidArgument(
            f"the outputs have different numbers of rows ({counts}), which the row format "
            'cannot show; send the columnar format ("inputs") instead'
        )
    names = list(values)
    return {
        "predictions": [
            dict(zip(names, row, strict=True)) for row in zip(*values.values(), strict=True)
        ]
    }


def status_body(states: list[tuple[str, bool]]) -> dict[str, Any]:
    """GetModelStatus's JSON: one entry per loaded version."""
    return {
        "model_version_status": [
            {
                "version": version,
                "state": "AVAILABLE" if ready else "UNAVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for version, ready in states
        ]
    }


def metadata_body(meta: oip.ModelMetadataResponse, version: str) -> dict[str, Any]:
    """GetModelMetadata's JSON: the model spec and its one signature, from the OIP metadata."""
    signature = {
        "inputs": {t.name: _tensor_info(t) for t in meta.inputs},
        "outputs": {t.name: _tensor_info(t) for t in meta.outputs},
        "method_name": "tensorflow/serving/predict",
    }
    served = version or (meta.versions[0] if meta.versions else "")  # the stable one first
    return {
        "model_spec": {"name": meta.name, "signature_name": "", "version": served},
        "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
    }


def _tensor_info(tensor: oip.ModelMetadataResponse.TensorMetadata) -> dict[str, Any]:
    return {
        "dtype": TF_DTYPES.get(tensor.datatype, "DT_INVALID"),
        "tensor_shape": {
            "dim": [{"size": str(size), "name": ""} for size in tensor.shape],
            "unknown_rank": False,
        },
        "name": tensor.name,
    }
