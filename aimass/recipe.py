"""Ingest recipes as text: the protobuf ``aimass.ingest.v1.Recipe`` written as JSON or YAML.

    recipe = load_recipe(Path("orders.yaml").read_text())
    text = dump_recipe(recipe, "yaml")

Field names are the proto's (``snake_case``; ``camelCase`` is accepted too), enums by name
(``SPLIT_METHOD_STRATIFIED``). A typo is refused with the path of the offending field, never
silently ignored.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from google.protobuf import json_format

from aimass.ingest.v1 import ingest_pb2


class RecipeError(ValueError):
    """The text is not a valid recipe; the message says where and what to fix."""


def load_recipe(text: str) -> ingest_pb2.Recipe:
    """Parse a recipe from JSON or YAML (JSON is YAML, so one parser reads both)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"the recipe is neither valid JSON nor valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RecipeError("a recipe is a mapping with sources, steps, split and malformed_rows")
    try:
        return json_format.ParseDict(_plain(data), ingest_pb2.Recipe())
    except json_format.ParseError as exc:
        raise RecipeError(f"the recipe does not match aimass.ingest.v1.Recipe: {exc}") from None


def dump_recipe(recipe: ingest_pb2.Recipe, form: Literal["json", "yaml"] = "yaml") -> str:
    data = json_format.MessageToDict(recipe, preserving_proto_field_name=True)
    if form == "json":
        return json.dumps(data, indent=2, sort_keys=False) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _plain(value: Any) -> Any:
    """YAML reads dates and timestamps as Python objects; the proto wants their text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
