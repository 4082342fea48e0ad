"""A tune job's search space, checked against the algorithm's hyperparameters before any trial
runs, and sampled per trial through Optuna's suggest API.

Each dimension is an int range, a float range (optionally log or stepped) or a list of choices;
a conditional dimension is sampled only when its parent took one of the listed values. Choices
Optuna cannot store (lists, such as hidden layer sizes) reach Optuna as their JSON text and come
back decoded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

import optuna

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.trainer.library.base import AlgorithmInfo, Task
from services.trainer.library.params import (
    Condition,
    Param,
    ParamPython,
    ParamType,
    from_param_value,
    suggested_distribution,
)

OptunaChoice = None | bool | int | float | str
# A grid larger than this is refused (GridSampler enumerates every point up front).
MAX_GRID_POINTS = 100_000


@dataclass(frozen=True)
class Dimension:
    name: str
    kind: Literal["int", "float", "categorical"]
    low: float = 0.0
    high: float = 0.0
    step: float | None = None  # int: >= 1; float: None for continuous
    log: bool = False
    choices: tuple[ParamPython, ...] = ()
    condition: Condition | None = None

    @property
    def numeric(self) -> bool:
        return self.kind != "categorical"

    def encoded_choices(self) -> list[OptunaChoice]:
        return [_encode(c) for c in self.choices]

    def decode(self, value: OptunaChoice) -> ParamPython:
        for choice in self.choices:
            if _encode(choice) == value and type(_encode(choice)) is type(value):
                return choice
        raise ValueError(f"{value!r} is not a choice of {self.name}")

    def suggest(self, trial: optuna.Trial) -> ParamPython:
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        return self.decode(trial.suggest_categorical(self.name, self.encoded_choices()))

    def grid_values(self) -> list[OptunaChoice] | None:
        """Every value of a finite dimension; None for a continuous float range."""
        if self.kind == "categorical":
            return self.encoded_choices()
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            return None
        low, step = Decimal(str(self.low)), Decimal(str(self.step))
        count = int((Decimal(str(self.high)) - low) / step)
        return [float(low + i * step) for i in range(count + 1)]

    def contains(self, value: ParamPython) -> bool:
        """Whether the dimension can take ``value`` (for a condition on it)."""
        if self.kind == "categorical":
            return any(_same(value, c) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return self.low <= value <= self.high


@dataclass(frozen=True)
class SearchSpace:
    # Parents come before the dimensions conditioned on them.
    dimensions: tuple[Dimension, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def suggest(self, trial: optuna.Trial) -> dict[str, ParamPython]:
        """One trial's values; a conditional dimension only when its parent took a listed value."""
        values: dict[str, ParamPython] = {}
        for dimension in self.dimensions:
            condition = dimension.condition
            if condition is not None:
                if condition.parent not in values:
                    continue
                if not any(_same(values[condition.parent], v) for v in condition.values):
                    continue
            values[dimension.name] = dimension.suggest(trial)
        return values

    def grid(self) -> dict[str, list[OptunaChoice]]:
        """The grid of a grid search; InvalidArgument unless every dimension is finite."""
        grid: dict[str, list[OptunaChoice]] = {}
        continuous = []
        for dimension in self.dimensions:
            values = dimension.grid_values()
            if values is None:
                continuous.append(dimension.name)
            else:
                grid[dimension.name] = values
        if continuous:
            raise InvalidArgument(
                "the grid sampler needs every parameter categorical or stepped; "
                f"{', '.join(continuous)} {'is' if len(continuous) == 1 else 'are'} continuous: "
                "give float_range.step or choices"
            )
        points = math.prod(len(v) for v in grid.values())
        if points > MAX_GRID_POINTS:
            raise InvalidArgument(
                f"the grid has {points} points (at most {MAX_GRID_POINTS}): use fewer values, "
                "larger steps, or another sampler"
            )
        return grid


def _encode(value: ParamPython) -> OptunaChoice:
    return json.dumps(value) if isinstance(value, list) else value


def _same(a: ParamPython, b: ParamPython) -> bool:
    """Equal values of equal kinds (True is not 1 here)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def resolve_search_space(space: tpb.SearchSpace, info: AlgorithmInfo, task: Task) -> SearchSpace:
    """``space`` checked against ``info``'s hyperparameters; InvalidArgument naming what to fix."""
    info.check_task(task)
    if not space.params:
        raise InvalidArgument("the search space is empty: name at least one hyperparameter")
    declared = {p.name: p for p in info.params}
    dimensions: dict[str, Dimension] = {}
    explicit: dict[str, tpb.ParamDistribution.Condition] = {}
    for index, distribution in enumerate(space.params):
        name = distribution.name
        if not name:
            raise InvalidArgument(f"search_space.params[{index}] has no name")
        if name in dimensions:
            raise InvalidArgument(f"hyperparameter {name!r} appears twice in the search space")
        param = declared.get(name)
        if param is None:
            raise InvalidArgument(
                f"algorithm {info.name!r} has no hyperparameter {name!r}; its hyperparameters "
                f"are: {', '.join(sorted(declared)) or 'none'}"
            )
        dimensions[name] = _dimension(param, distribution)
        if distribution.HasField("condition") and distribution.condition.parent:
            explicit[name] = distribution.condition
    conditioned = {
        name: _condition(name, dimensions, declared, explicit.get(name)) for name in dimensions
    }
    resolved = {name: replace(d, condition=conditioned[name]) for name, d in dimensions.items()}
    return SearchSpace(tuple(_ordered(resolved)))


def _dimension(param: Param, distribution: tpb.ParamDistribution) -> Dimension:
    kind = distribution.WhichOneof("kind")
    if kind is None:
        try:
            distribution = suggested_distribution(param)
        except ValueError:
            raise InvalidArgument(
                f"hyperparameter {param.name!r} has no suggested search range: give it an "
                "int_range, float_range or categorical choices"
            ) from None
        kind = distribution.WhichOneof("kind")
    if kind == "int_range":
        return _int_dimension(param, distribution.int_range)
    if kind == "float_range":
        return _float_dimension(param, distribution.float_range)
    return _categorical_dimension(param, distribution.categorical.choices)


def _int_dimension(param: Param, r: tpb.IntRange) -> Dimension:
    what = f"hyperparameter {param.name!r}"
    if param.type is not ParamType.INT:
        raise InvalidArgument(f"{what} is {param.type.value}: {_fitting_kind(param)}")
    step = r.step or 1
    if step < 1:
        raise InvalidArgument(f"{what}: int_range.step must be >= 1")
    if r.low > r.high:
        raise InvalidArgument(f"{what}: int_range.low {r.low} is above high {r.high}")
    if r.log and r.low <= 0:
        raise InvalidArgument(f"{what}: a log int_range needs low > 0")
    if r.log and step != 1:
        raise InvalidArgument(f"{what}: a log int_range takes no step")
    if (r.high - r.low) % step:
        raise InvalidArgument(
            f"{what}: int_range high - low ({r.high - r.low}) must be a multiple of step {step}"
        )
    _within(param, r.low, "int_range.low")
    _within(param, r.high, "int_range.high")
    return Dimension(param.name, "int", r.low, r.high, step, r.log)


def _float_dimension(param: Param, r: tpb.FloatRange) -> Dimension:
    what = f"hyperparameter {param.name!r}"
    if param.type is not ParamType.FLOAT:
        raise InvalidArgument(f"{what} is {param.type.value}: {_fitting_kind(param)}")
    if not (math.isfinite(r.low) and math.isfinite(r.high)) or r.low >= r.high:
        raise InvalidArgument(f"{what}: float_range needs finite low < high")
    if r.log and r.low <= 0:
        raise InvalidArgument(f"{what}: a log float_range needs low > 0")
    step = r.step if r.HasField("step") else None
    if step is not None:
        if r.log:
            raise InvalidArgument(f"{what}: a log float_range takes no step")
        if not step > 0:
            raise InvalidArgument(f"{what}: float_range.step must be > 0")
        span = (Decimal(str(r.high)) - Decimal(str(r.low))) / Decimal(str(step))
        if span != span.to_integral_value():
            raise InvalidArgument(
                f"{what}: float_range high - low must be a multiple of step {step}"
            )
    _within(param, r.low, "float_range.low")
    _within(param, r.high, "float_range.high")
    return Dimension(param.name, "float", r.low, r.high, step, r.log)


def _categorical_dimension(param: Param, choices: Sequence[tpb.ParamValue]) -> Dimension:
    what = f"hyperparameter {param.name!r}"
    if not choices:
        raise InvalidArgument(f"{what}: categorical needs at least one choice")
    values: list[ParamPython] = []
    for index, choice in enumerate(choices):
        raw = from_param_value(choice, f"{what} choice {index}")
        try:
            value = param.check(raw)
        except InvalidArgument as exc:
            raise InvalidArgument(f"search space choice {index}: {exc.message}") from None
        if any(_same(value, v) for v in values):
            raise InvalidArgument(f"{what}: choice {value!r} is listed twice")
        values.append(value)
    return Dimension(param.name, "categorical", choices=tuple(values))


def _within(param: Param, value: float, what: str) -> None:
    try:
        param.check(value)
    except InvalidArgument:
        raise InvalidArgument(
            f"hyperparameter {param.name!r}: {what} {value!r} is outside its allowed range "
            f"({param.range_text()})"
        ) from None


def _fitting_kind(param: Param) -> str:
    if param.type is ParamType.INT:
        return "search it with int_range or categorical"
    if param.type is ParamType.FLOAT:
        return "search it with float_range or categorical"
    return "search it with categorical choices"


def _condition(
    name: str,
    dimensions: Mapping[str, Dimension],
    declared: Mapping[str, Param],
    explicit: tpb.ParamDistribution.Condition | None,
) -> Condition | None:
    """The explicit condition, checked; else the parameter's declared one when its parent is
    searched too (when the parent is fixed, the parameter is always sampled)."""
    if explicit is None:
        inherited = declared[name].condition
        if inherited is None or inherited.parent not in dimensions:
            return None
        return inherited
    parent = explicit.parent
    what = f"the condition of {name!r}"
    if parent == name:
        raise InvalidArgument(f"{what} names the parameter itself")
    if parent not in dimensions:
        raise InvalidArgument(
            f"{what} names {parent!r}, which is not in the search space: search it too"
        )
    if not explicit.values:
        raise InvalidArgument(f"{what} lists no values of {parent!r}")
    values: list[ParamPython] = []
    for index, raw in enumerate(explicit.values):
        try:
            value = declared[parent].check(from_param_value(raw, f"{what} value {index}"))
        except InvalidArgument as exc:
            raise InvalidArgument(f"{what}: {exc.message}") from None
        if not dimensions[parent].contains(value):
            raise InvalidArgument(f"{what}: {parent!r} is never {value!r} in the search space")
        values.append(value)
    return Condition(parent, tuple(values))


def _ordered(dimensions: Mapping[str, Dimension]) -> list[Dimension]:
    """Parents before children; InvalidArgument on a cycle of conditions."""
    ordered: list[Dimension] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        if name in visiting:
            raise InvalidArgument(f"the conditions of the search space form a cycle at {name!r}")
        visiting.add(name)
        condition = dimensions[name].condition
        if condition is not None:
            place(condition.parent)
        visiting.discard(name)
        placed.add(name)
        ordered.append(dimensions[name])

    for name in dimensions:
        place(name)
    return ordered
