"""Hyperparameter checks: types, ranges, choices, none, unknown names, and the proto round trip."""

from __future__ import annotations

import pytest

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.trainer.library.params import (
    Condition,
    Param,
    ParamType,
    SuggestedSearch,
    from_param_value,
    param_to_proto,
    params_from_proto,
    suggested_distribution,
    to_param_value,
    validate_params,
)

DEPTH = Param("max_depth", ParamType.INT, 6, "tree depth", minimum=1, maximum=32, nullable=True)
RATE = Param(
    "learning_rate",
    ParamType.FLOAT,
    0.3,
    "shrinkage",
    minimum=0.0,
    maximum=1.0,
    exclusive_minimum=True,
    search=SuggestedSearch(low=0.01, high=0.5, log=True),
)
KERNEL = Param("kernel", ParamType.CATEGORICAL, "rbf", "kernel", choices=("rbf", "linear"))
GAMMA = Param(
    "gamma", ParamType.FLOAT, 1.0, "rbf width", minimum=0.0, condition=Condition("kernel", ("rbf",))
)
LAYERS = Param("hidden_layers", ParamType.INT_LIST, [64, 32], "sizes", minimum=1, maximum=4096)
SHUFFLE = Param("shuffle", ParamType.BOOL, True, "shuffle")
DECLARED = (DEPTH, RATE, KERNEL, GAMMA, LAYERS, SHUFFLE)


def test_defaults_overlaid_with_checked_values() -> None:
    values = validate_params("algo", DECLARED, {"max_depth": 4.0, "learning_rate": 1})
    assert values["max_depth"] == 4 and isinstance(values["max_depth"], int)
    assert values["learning_rate"] == 1.0 and isinstance(values["learning_rate"], float)
    assert values["kernel"] == "rbf" and values["hidden_layers"] == [64, 32]
    assert validate_params("algo", DECLARED, {"max_depth": None})["max_depth"] is None


@pytest.mark.parametrize(
    ("given", "fragments"),
    [
        ({"depth": 3}, ("'depth'", "max_depth, ")),
        ({"max_depth": 0}, ("'max_depth'", "[1, 32]")),
        ({"max_depth": 2.5}, ("'max_depth'", "integer")),
        ({"max_depth": True}, ("'max_depth'", "integer")),
        ({"learning_rate": 0.0}, ("'learning_rate'", "(0, 1]")),
        ({"learning_rate": float("nan")}, ("'learning_rate'", "number")),
        ({"learning_rate": "fast"}, ("'learning_rate'", "number")),
        ({"kernel": "poly"}, ("'kernel'", "'rbf', 'linear'")),
        ({"hidden_layers": []}, ("'hidden_layers'", "non-empty list")),
        ({"hidden_layers": [64, 0]}, ("'hidden_layers[1]'", "[1, 4096]")),
        ({"shuffle": 1}, ("'shuffle'", "true or false")),
        ({"learning_rate": None}, ("'learning_rate'", "cannot be none")),
    ],
)
def test_bad_values_say_what_to_send(given: dict[str, object], fragments: tuple[str, ...]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_params("algo", DECLARED, given)
    for fragment in fragments:
        assert fragment in caught.value.message


def test_proto_round_trip() -> None:
    for value in (None, True, 3, 2.5, "rbf", [1, 2], [0.5, 1.5]):
        assert from_param_value(to_param_value(value)) == value
    message = {"a": to_param_value(3), "b": to_param_value([1.0])}
    assert params_from_proto(message) == {"a": 3, "b": [1.0]}
    with pytest.raises(InvalidArgument, match="has no value"):
        from_param_value(tpb.ParamValue())


def test_described_for_list_algorithms() -> None:
    described = param_to_proto(RATE)
    assert described.type == tpb.PARAM_TYPE_FLOAT and described.minimum == 0.0
    assert described.suggested_search.float_range.log
    assert described.suggested_search.float_range.low == pytest.approx(0.01)
    gamma = param_to_proto(GAMMA)
    assert gamma.condition.parent == "kernel"
    assert suggested_distribution(KERNEL).categorical.choices[1].string_value == "linear"
    assert suggested_distribution(DEPTH).int_range.high == 32
