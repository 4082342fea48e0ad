"""Open Inference Protocol REST bodies <-> ModelInferRequest / ModelInferResponse, with Triton's
binary tensor data extension: a JSON header of ``Inference-Header-Content-Length`` bytes, then
each binary input's bytes in input order (``binary_data_size`` says how many). Inputs always go
to the predictor as ``raw_input_contents`` (binary ones as they came), so outputs come back raw
too and binary outputs are passed on without decoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.errors import InvalidArgument
from services.gateway.predict_http import json_object
from services.gateway.predict_tensors import (
    check_datatype,
    from_raw,
    json_values,
    output_arrays,
    raw_size,
    to_raw,
    typed,
)

HEADER_LENGTH = "inference-header-content-length"
BINARY_SIZE = "binary_data_size"
BINARY_OUTPUT = "binary_data"
BINARY_OUTPUTS = "binary_data_output"
_TRANSPORT_PARAMETERS = (BINARY_SIZE, BINARY_OUTPUT, BINARY_OUTPUTS)


@dataclass
class InferCall:
    request: oip.ModelInferRequest
    binary: dict[str, bool]  # output name -> answer it binary; others by `binary_default`
    binary_default: bool


def parse_infer(body: bytes, header_length: str | None, name: str, version: str) -> InferCall:
    header, binary = _split(body, header_length)
    document = json_object(header, "the inference request (its JSON part)")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgument('"inputs" must be a non-empty list of tensors')
    request = oip.ModelInferRequest(
        model_name=name, model_version=version, id=str(document.get("id") or "")
    )
    parameters = _object(document.get("parameters"), "the request's parameters")
    _copy_parameters(parameters, request.parameters)
    offset = 0
    for index, tensor in enumerate(inputs):
        offset = _add_input(request, tensor, index, binary, offset)
    if offset != len(binary):
        raise InvalidArgument(
            f"the body has {len(binary)} bytes of binary data but the inputs' binary_data_size "
            f"add up to {offset}"
        )
    return InferCall(
        request, _outputs(request, document.get("outputs")), _binary_default(parameters)
    )


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise InvalidArgument(
            f"Inference-Header-Content-Length is {header_length!r}; give the length of the "
            f"JSON part in bytes (the body has {len(body)})"
        )
    size = int(header_length)
    return body[:size], body[size:]


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
    return value


def _binary_default(parameters: dict[str, Any]) -> bool:
    return bool(parameters.get(BINARY_OUTPUTS, False))


def _add_input(
    request: oip.ModelInferRequest, tensor: Any, index: int, binary: bytes, offset: int
) -> int:
    if not isinstance(tensor, dict):
        raise InvalidArgument(f"input #{index} must be an object with name, shape, datatype")
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"input #{index} has no name; give every input a name")
    datatype = check_datatype(name, tensor.get("datatype"))
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InvalidArgument(f"input {name!r} needs a shape: a list of sizes (0 or more)")
    parameters = _object(tensor.get("parameters"), f"input {name!r}'s parameters")
    added = request.inputs.add(name=name, datatype=datatype, shape=shape)
    _copy_parameters(parameters, added.parameters)
    size = parameters.get(BINARY_SIZE)
    if size is None:
        if "data" not in tensor:
            raise InvalidArgument(f"input {name!r} has no data (nor a binary_data_size)")
        array = typed(name, datatype, tensor["data"], shape)
        request.raw_input_contents.append(to_raw(name, datatype, array))
        return offset
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument(f"input {name!r}: binary_data_size must be a byte count")
    expected = raw_size(datatype, shape)
    if expected is not None and expected != size:
        raise InvalidArgument(
            f"input {name!r}: binary_data_size is {size} but shape {shape} of {datatype} "
            f"needs {expected} bytes"
        )
    if offset + size > len(binary):
        raise InvalidArgument(
            f"input {name!r}: binary_data_size {size} runs past the end of the body "
            f"({len(binary) - offset} bytes left)"
        )
    request.raw_input_contents.append(binary[offset : offset + size])
    return offset + size


def _outputs(request: oip.ModelInferRequest, outputs: Any) -> dict[str, bool]:
    if outputs is None:
        return {}
    if not isinstance(outputs, list):
        raise InvalidArgument('"outputs" must be a list of {"name": ...} objects')
    binary: dict[str, bool] = {}
    for index, output in enumerate(outputs):
        name = output.get("name") if isinstance(output, dict) else None
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"output #{index} needs a name")
        parameters = _object(output.get("parameters"), f"output {name!r}'s parameters")
        added = request.outputs.add(name=name)
        _copy_parameters(parameters, added.parameters)
        if BINARY_OUTPUT in parameters:
            binary[name] = bool(parameters[BINARY_OUTPUT])
    return binary


def _copy_parameters(source: dict[str, Any], target: Any) -> None:
    for key, value in source.items():
        if key in _TRANSPORT_PARAMETERS:
            continue
        if isinstance(value, bool):
            target[key].bool_param = value
        elif isinstance(value, int):
            target[key].int64_param = value
        elif isinstance(value, float):
            target[key].double_param = value
        elif isinstance(value, str):
            target[key].string_param = value
        else:
            raise InvalidArgument(f"parameter {key!r} must be a boolean, number or string")


def parameters_json(parameters: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in parameters.items():
        choice = value.WhichOneof("parameter_choice")
        if choice:
            values[key] = getattr(value, choice)
    return values


def infer_response(
    response: oip.ModelInferResponse, call: InferCall
) -> tuple[dict[str, Any], list[bytes]]:
    """The JSON response, and the binary outputs' bytes to append after it, in output order."""
    raws = response.raw_output_contents
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for index, tensor in enumerate(response.outputs):
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        parameters = parameters_json(tensor.parameters)
        if index >= len(raws):  # typed contents: only when a request had no raw inputs
            entry["data"] = json_values(output_arrays(response)[tensor.name].ravel())
        elif call.binary.get(tensor.name, call.binary_default):
            parameters[BINARY_SIZE] = len(raws[index])
            chunks.append(raws[index])
        else:
            array = from_raw(tensor.datatype, entry["shape"], raws[index])
            entry["data"] = json_values(array.ravel())
        if parameters:
            entry["parameters"] = parameters
        outputs.append(entry)
    body: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
        "id": response.id,
        "outputs": outputs,
    }
    parameters = parameters_json(response.parameters)
    if parameters:
        body["parameters"] = parameters
    return body, chunks
