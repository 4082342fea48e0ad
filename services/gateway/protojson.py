"""REST bodies in the proto3 JSON mapping (snake_case field names), and their JSON Schemas.

Resource routes pass the backends' messages through in the canonical proto3 JSON form, as
grpc-gateway does, instead of a second hand-written copy of every message: ``parse_body`` reads a
request message (the fields the path fixes, like ``project``, cannot be set from the body),
``render`` writes a response, and ``body_schema`` / ``response_schema`` describe both in OpenAPI
(``install_proto_schemas`` adds the referenced component schemas to the document)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from services.common.errors import InvalidArgument
from services.gateway.errors import document_bad_requests

M = TypeVar("M", bound=Message)
FD = FieldDescriptor
REF_PREFIX = "#/components/schemas/"

_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "format": "uint32", "minimum": 0, "maximum": 2**32 - 1}
_INT64 = {"type": ["integer", "string"], "format": "int64", "pattern": "^-?[0-9]{1,19}$"}
_UINT64 = {"type": ["integer", "string"], "format": "uint64", "pattern": "^[0-9]{1,20}$"}
SCALARS: dict[int, dict[str, Any]] = {
    FD.TYPE_DOUBLE: {"type": "number"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_INT32: _INT32,
    FD.TYPE_SINT32: _INT32,
    FD.TYPE_SFIXED32: _INT32,
    FD.TYPE_UINT32: _UINT32,
    FD.TYPE_FIXED32: _UINT32,
    FD.TYPE_INT64: _INT64,
    FD.TYPE_SINT64: _INT64,
    FD.TYPE_SFIXED64: _INT64,
    FD.TYPE_UINT64: _UINT64,
    FD.TYPE_FIXED64: _UINT64,
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte", "description": "base64"},
}
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {"type": "object", "additionalProperties": True},
    "google.protobuf.DoubleValue": {"type": "number"},
    "google.protobuf.FloatValue": {"type": "number"},
    "google.protobuf.Int64Value": _INT64,
    "google.protobuf.UInt64Value": _UINT64,
    "google.protobuf.Int32Value": _INT32,
    "google.protobuf.UInt32Value": _UINT32,
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte"},
}

# Component schemas referenced so far, by full message or enum name.
COMPONENTS: dict[str, dict[str, Any]] = {}


def _enum_schema(enum: EnumDescriptor) -> dict[str, Any]:
    if enum.full_name not in COMPONENTS:
        COMPONENTS[enum.full_name] = {"type": "string", "enum": [v.name for v in enum.values]}
    return {"$ref": REF_PREFIX + enum.full_name}


def _single(field: FieldDescriptor) -> dict[str, Any]:
    if field.enum_type is not None:
        return _enum_schema(field.enum_type)
    if field.message_type is not None:
        return message_ref(field.message_type)
    return dict(SCALARS[field.type])


def field_schema(field: FieldDescriptor) -> dict[str, Any]:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        return {"type": "object", "additionalProperties": _single(message.fields_by_name["value"])}
    if field.is_repeated:
        return {"type": "array", "items": _single(field)}
    return _single(field)


def _object_schema(descriptor: Any, exclude: Iterable[str] = ()) -> dict[str, Any]:
    skipped = set(exclude)
    properties = {
        field.name: field_schema(field) for field in descriptor.fields if field.name not in skipped
    }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def message_ref(descriptor: Any) -> dict[str, Any]:
    if descriptor.full_name in WELL_KNOWN:
        return dict(WELL_KNOWN[descriptor.full_name])
    if descriptor.full_name not in COMPONENTS:
        COMPONENTS[descriptor.full_name] = {}  # a placeholder first: messages may recurse
        COMPONENTS[descriptor.full_name] = _object_schema(descriptor)
    return {"$ref": REF_PREFIX + descriptor.full_name}


def body_schema(
    message_type: type[Message], exclude: Iterable[str] = ("project",), required: bool = True
) -> dict[str, Any]:
    """``openapi_extra`` of a route whose JSON body is ``message_type`` minus the path's fields."""
    schema = _object_schema(message_type.DESCRIPTOR, exclude)
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


def response_schema(message_type: type[Message], status: int = 200) -> dict[int | str, Any]:
    """``responses`` of a route answering ``message_type``."""
    schema = message_ref(message_type.DESCRIPTOR)
    return {status: {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def install_proto_schemas(app: FastAPI) -> None:
    """Make ``app.openapi()`` carry the component schemas the proto routes reference, and the
    gateway's 400 error body where FastAPI would list 422."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        document.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
        document_bad_requests(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def render(message: Message, status: int = 200) -> JSONResponse:
    return JSONResponse(to_json(message), status_code=status)


def from_json(data: Any, message_type: type[M], fixed: Mapping[str, Any] | None = None) -> M:
    """``data`` as a ``message_type``; the ``fixed`` fields (from the path) win over the body."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidArgument(f"the body must be a JSON object, got {type(data).__name__}")
    fixed = dict(fixed or {})
    clashing = sorted(key for key in fixed if key in data and data[key] != fixed[key])
    if clashing:
        raise InvalidArgument(f"{', '.join(clashing)} come(s) from the path; leave them out")
    try:
        return json_format.ParseDict({**data, **fixed}, message_type())
    except json_format.ParseError as error:
        raise InvalidArgument(f"the body does not fit {message_type.__name__}: {error}") from None
    except (ValueError, TypeError, OverflowError) as error:
        raise InvalidArgument(f"the body does not fit {message_type.__name__}: {error}") from None


async def parse_body(
    request: Request, message_type: type[M], fixed: Mapping[str, Any] | None = None
) -> M:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"the body is not valid JSON: {error}") from None
    return from_json(data, message_type, fixed)
