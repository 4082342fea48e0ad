"""Recipes written as YAML or JSON become the same protobuf, and typos are refused by path."""

from __future__ import annotations

import pytest

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.recipe import RecipeError, dump_recipe, load_recipe

YAML = """
sources:
  - alias: orders
    file: {url: "file:///data/orders.csv", csv: {delimiter: ";", header: HEADER_MODE_PRESENT}}
  - alias: customers
    sql: {url: "postgresql://reader@db/sales", table: public.customers}
steps:
  - select: {drop: [comment]}
  - rename: {columns: {cust: customer_id}}
  - cast: {casts: [{column: amount, type: DATA_TYPE_FP64}], on_error: CAST_ERROR_POLICY_NULL}
  - parse_dates: {columns: [ordered_at], format: "%Y-%m-%d"}
  - drop_duplicates: {subset: [order_id], keep: KEEP_LAST}
  - missing_values: {columns: [amount], strategy: MISSING_VALUE_STRATEGY_FILL_MEDIAN}
  - outliers: {columns: [amount], method: OUTLIER_METHOD_IQR, action: OUTLIER_ACTION_CLIP}
  - clean_strings: {trim: true, case: CASE_LOWER, null_tokens: ["n/a"]}
  - filter:
      keep:
        all_of:
          predicates:
            - comparison: {column: amount, op: OPERATOR_GT, value: 0}
            - comparison: {column: ordered_at, op: OPERATOR_GE, value: 2024-01-01}
  - derive: {column: total, expression: "amount * quantity"}
  - join: {right: customers, type: JOIN_TYPE_LEFT, keys: [{left: customer_id}]}
split:
  method: SPLIT_METHOD_STRATIFIED
  column: segment
  seed: 7
  parts: [{name: train, fraction: 0.8}, {name: test, fraction: 0.2}]
malformed_rows: MALFORMED_ROW_POLICY_SKIP
"""


def test_yaml_recipe_with_every_step_kind() -> None:
    recipe = load_recipe(YAML)
    kinds = [step.WhichOneof("kind") for step in recipe.steps]
    assert kinds == [
        "select",
        "rename",
        "cast",
        "parse_dates",
        "drop_duplicates",
        "missing_values",
        "outliers",
        "clean_strings",
        "filter",
        "derive",
        "join",
    ]
    assert recipe.sources[0].file.csv.delimiter == ";"
    assert recipe.sources[1].sql.table == "public.customers"
    assert recipe.steps[2].cast.on_error == pb.CAST_ERROR_POLICY_NULL
    date_value = recipe.steps[8].filter.keep.all_of.predicates[1].comparison.value
    assert date_value.string_value == "2024-01-01", "YAML dates travel as ISO text"
    assert recipe.split.method == pb.SPLIT_METHOD_STRATIFIED and recipe.split.seed == 7
    assert recipe.malformed_rows == pb.MALFORMED_ROW_POLICY_SKIP


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_round_trip(form: str) -> None:
    recipe = load_recipe(YAML)
    assert load_recipe(dump_recipe(recipe, form)) == recipe  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sources: [{alias: a, fiel: {url: x}}]", "fiel"),
        ("steps: [{cast: {casts: [{column: a, type: DATA_TYPE_FLOAT}]}}]", "DATA_TYPE_FLOAT"),
        ("- just\n- a list", "mapping"),
        ("sources: [unclosed", "neither valid JSON nor valid YAML"),
    ],
)
def test_typos_are_refused_with_their_place(text: str, fragment: str) -> None:
    with pytest.raises(RecipeError, match=fragment):
        load_recipe(text)
