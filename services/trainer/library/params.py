"""Hyperparameters: their declared types and ranges, and the check of what a caller sends.

A value arrives as a plain Python value (converted from the ``ParamValue`` proto by
``from_param_value``) and leaves ``validate_params`` with the declared type, so an algorithm's
factory never sees a string where it expects a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument

ParamPython = bool | int | float | str | list[int] | list[float] | None


class ParamType(StrEnum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STRING = "string"
    CATEGORICAL = "categorical"
    INT_LIST = "int_list"
    FLOAT_LIST = "float_list"


@dataclass(frozen=True)
class Condition:
    """The parameter means something only when ``parent`` has one of ``values``."""

    parent: str
    values: tuple[ParamPython, ...]


@dataclass(frozen=True)
class SuggestedSearch:
    """The range a tune job searches when the caller names the parameter without one."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[ParamPython, ...] = ()


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    default: ParamPython
    description: str
    minimum: float | None = None  # inclusive; for lists, of each element
    maximum: float | None = None
    choices: tuple[ParamPython, ...] = ()
    nullable: bool = False
    search: SuggestedSearch | None = None
    condition: Condition | None = None
    exclusive_minimum: bool = False  # e.g. a learning rate > 0

    def check(self, value: Any) -> ParamPython:
        """``value`` converted to this parameter's type; InvalidArgument saying what to send."""
        if value is None:
            if self.nullable:
                return None
            raise InvalidArgument(f"hyperparameter {self.name!r} cannot be none: {self.expects()}")
        if self.type is ParamType.BOOL:
            if isinstance(value, bool):
                return value
        elif self.type is ParamType.INT:
            number = _as_int(value)
            if number is not None:
                self._check_range(number, self.name)
                return number
        elif self.type is ParamType.FLOAT:
            real = _as_float(value)
            if real is not None:
                self._check_range(real, self.name)
                return real
        elif self.type is ParamType.STRING:
            if isinstance(value, str):
                return value
        elif self.type is ParamType.CATEGORICAL:
            if not isinstance(value, list) and value in self.choices:
                return value
            shown = ", ".join(repr(c) for c in self.choices)
            raise InvalidArgument(
                f"hyperparameter {self.name!r} is {value!r}; choose one of {shown}"
            )
        elif self.type in (ParamType.INT_LIST, ParamType.FLOAT_LIST):
            return self._check_list(value)
        raise InvalidArgument(f"hyperparameter {self.name!r} is {value!r}: {self.expects()}")

    def _check_list(self, value: Any) -> list[int] | list[float]:
        if not isinstance(value, list | tuple) or not value:
            raise InvalidArgument(f"hyperparameter {self.name!r} is {value!r}: {self.expects()}")
        convert = _as_int if self.type is ParamType.INT_LIST else _as_float
        items = []
        for index, item in enumerate(value):
            converted = convert(item)
            if converted is None:
                raise InvalidArgument(
                    f"hyperparameter {self.name!r}[{index}] is {item!r}: {self.expects()}"
                )
            self._check_range(converted, f"{self.name}[{index}]")
            items.append(converted)
        return items

    def _check_range(self, number: float, what: str) -> None:
        low, high = self.minimum, self.maximum
        below = low is not None and (number <= low if self.exclusive_minimum else number < low)
        if below or (high is not None and number > high):
            raise InvalidArgument(
                f"hyperparameter {what!r} is {number!r}, out of range: {self.range_text()}"
            )

    def range_text(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            opening = "(" if self.exclusive_minimum else "["
            return f"send a value in {opening}{_num(low)}, {_num(high)}]"
        if low is not None:
            return f"send a value {'>' if self.exclusive_minimum else '>='} {_num(low)}"
        if high is not None:
            return f"send a value <= {_num(high)}"
        return "any value"

    def expects(self) -> str:
        what = {
            ParamType.BOOL: "send true or false",
            ParamType.INT: "send an integer",
            ParamType.FLOAT: "send a number",
            ParamType.STRING: "send a string",
            ParamType.CATEGORICAL: "choose one of " + ", ".join(repr(c) for c in self.choices),
            ParamType.INT_LIST: "send a non-empty list of integers",
            ParamType.FLOAT_LIST: "send a non-empty list of numbers",
        }[self.type]
        if self.minimum is not None or self.maximum is not None:
            what += f" ({self.range_text().removeprefix('send ')})"
        return what + (" or none" if self.nullable else "")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    real = float(value)
    return real if math.isfinite(real) else None


@dataclass(frozen=True)
class ParamSet:
    params: tuple[Param, ...] = field(default_factory=tuple)

    def by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def defaults(self) -> dict[str, ParamPython]:
        return {p.name: p.default for p in self.params}


def validate_params(
    algorithm: str, declared: Sequence[Param], given: Mapping[str, Any]
) -> dict[str, ParamPython]:
    """Defaults overlaid with ``given``, each value checked; unknown names are refused."""
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise InvalidArgument(
            f"algorithm {algorithm!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"its hyperparameters are: {known}"
        )
    values: dict[str, ParamPython] = {p.name: p.default for p in declared}
    for name, value in given.items():
        values[name] = by_name[name].check(value)
    return values


# ---------------------------------------------------------------------------------------------
# ParamValue <-> Python


def from_param_value(value: tpb.ParamValue, what: str = "value") -> ParamPython | list[Any]:
    kind = value.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument(f"{what} has no value: set one of bool, int, float, string, list")
    if kind == "null_value":
        return None
    if kind == "list_value":
        return [
            from_param_value(item, f"{what}[{i}]") for i, item in enumerate(value.list_value.values)
        ]
    return getattr(value, kind)


def to_param_value(value: Any) -> tpb.ParamValue:
    if value is None:
        return tpb.ParamValue(null_value="NULL_VALUE")
    if isinstance(value, bool):
        return tpb.ParamValue(bool_value=value)
    if isinstance(value, int):
        return tpb.ParamValue(int_value=value)
    if isinstance(value, float):
        return tpb.ParamValue(float_value=value)
    if isinstance(value, str):
        return tpb.ParamValue(string_value=value)
    if isinstance(value, list | tuple):
        return tpb.ParamValue(list_value=tpb.ParamList(values=[to_param_value(v) for v in value]))
    raise TypeError(f"no ParamValue for {type(value).__name__}")


def params_from_proto(params: Mapping[str, tpb.ParamValue]) -> dict[str, Any]:
    return {name: from_param_value(v, f"hyperparameter {name!r}") for name, v in params.items()}


_PROTO_TYPE = {
    ParamType.BOOL: tpb.PARAM_TYPE_BOOL,
    ParamType.INT: tpb.PARAM_TYPE_INT,
    ParamType.FLOAT: tpb.PARAM_TYPE_FLOAT,
    ParamType.STRING: tpb.PARAM_TYPE_STRING,
    ParamType.CATEGORICAL: tpb.PARAM_TYPE_CATEGORICAL,
    ParamType.INT_LIST: tpb.PARAM_TYPE_INT_LIST,
    ParamType.FLOAT_LIST: tpb.PARAM_TYPE_FLOAT_LIST,
}


def param_to_proto(param: Param) -> tpb.Hyperparameter:
    message = tpb.Hyperparameter(
        name=param.name,
        type=_PROTO_TYPE[param.type],
        description=param.description,
        default=to_param_value(param.default),
        choices=[to_param_value(c) for c in param.choices],
        nullable=param.nullable,
    )
    if param.minimum is not None:
        message.minimum = param.minimum
    if param.maximum is not None:
        message.maximum = param.maximum
    if param.search is not None:
        message.suggested_search.CopyFrom(suggested_distribution(param))
    if param.condition is not None:
        message.condition.parent = param.condition.parent
        message.condition.values.extend(to_param_value(v) for v in param.condition.values)
    return message


def suggested_distribution(param: Param) -> tpb.ParamDistribution:
    """The suggested search range of ``param`` as a distribution (its own choices when
    categorical or bool)."""
    search = param.search or SuggestedSearch()
    distribution = tpb.ParamDistribution(name=param.name)
    if param.type in (ParamType.CATEGORICAL, ParamType.BOOL) or search.choices:
        choices = search.choices or param.choices or (False, True)
        distribution.categorical.choices.extend(to_param_value(c) for c in choices)
    elif param.type is ParamType.INT:
        low = search.low if search.low is not None else param.minimum
        high = search.high if search.high is not None else param.maximum
        if low is None or high is None:
            raise ValueError(f"{param.name}: a suggested int search needs low and high")
        distribution.int_range.CopyFrom(
            tpb.IntRange(low=int(low), high=int(high), step=int(search.step or 1), log=search.log)
        )
    elif param.type is ParamType.FLOAT:
        low = search.low if search.low is not None else param.minimum
        high = search.high if search.high is not None else param.maximum
        if low is None or high is None:
            raise ValueError(f"{param.name}: a suggested float search needs low and high")
        distribution.float_range.CopyFrom(tpb.FloatRange(low=low, high=high, log=search.log))
        if search.step is not None:
            distribution.float_range.step = search.step
    else:
        raise ValueError(f"{param.name}: no suggested search for {param.type}")
    if param.condition is not None:
        distribution.condition.parent = param.condition.parent
        distribution.condition.values.extend(to_param_value(v) for v in param.condition.values)
    return distribution
