"""The one interface every algorithm implements, so that evaluation, tuning and the predictor
treat them alike.

An algorithm is described by an ``AlgorithmInfo`` (name, tasks, hyperparameters, capabilities)
whose ``build`` makes a ``Learner``. A learner fits on the numeric matrix the preprocessing made
(``float32``, rows x features; sequence tasks: windows x steps x features) and saves itself in a
format that runs no code when loaded. Labels of classification tasks arrive encoded as 0..k-1.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.trainer.library.params import Param, ParamPython, param_to_proto, validate_params


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    CLUSTERING = "clustering"
    DIMENSIONALITY_REDUCTION = "dimensionality_reduction"
    FORECASTING = "forecasting"
    SEQUENCE_CLASSIFICATION = "sequence_classification"

    @property
    def supervised(self) -> bool:
        return self not in (Task.CLUSTERING, Task.DIMENSIONALITY_REDUCTION)

    @property
    def sequential(self) -> bool:
        return self in (Task.FORECASTING, Task.SEQUENCE_CLASSIFICATION)

    @property
    def classifies(self) -> bool:
        return self in (Task.CLASSIFICATION, Task.SEQUENCE_CLASSIFICATION)

    @classmethod
    def from_proto(cls, value: int) -> Task:
        if value == tpb.TASK_TYPE_UNSPECIFIED:
            raise InvalidArgument("task is not set: send one of " + ", ".join(t.value for t in cls))
        try:
            name = tpb.TaskType.Name(value)
        except ValueError:
            raise InvalidArgument(f"task {value} is not a known task type") from None
        return cls(name.removeprefix("TASK_TYPE_").lower())

    def to_proto(self) -> tpb.TaskType:
        return tpb.TaskType.Value("TASK_TYPE_" + self.value.upper())  # type: ignore[return-value]


# Artifact formats (ModelVersion.artifact_format); all load without running code from the file.
FORMAT_SKOPS = "skops"
FORMAT_XGBOOST_JSON = "xgboost-json"
FORMAT_XGBOOST_UBJ = "xgboost-ubj"
FORMAT_SAFETENSORS = "safetensors"
FORMAT_TORCHSCRIPT = "torchscript"
FORMAT_ONNX = "onnx"

FORMAT_OF_PROTO = {
    tpb.MODEL_FORMAT_XGBOOST_JSON: FORMAT_XGBOOST_JSON,
    tpb.MODEL_FORMAT_XGBOOST_UBJ: FORMAT_XGBOOST_UBJ,
    tpb.MODEL_FORMAT_SKOPS: FORMAT_SKOPS,
    tpb.MODEL_FORMAT_SAFETENSORS: FORMAT_SAFETENSORS,
    tpb.MODEL_FORMAT_TORCHSCRIPT: FORMAT_TORCHSCRIPT,
    tpb.MODEL_FORMAT_ONNX: FORMAT_ONNX,
}


class TrainingStopped(Exception):
    """Raised by a progress listener to stop an iterative learner (the job was cancelled, or a
    tuning trial was pruned); learners let it propagate."""


ProgressListener = Callable[[int, int, str, Mapping[str, float]], None]


@dataclass
class Progress:
    """What an iterative learner calls once per boosting round or epoch.

    ``metrics`` holds the step's values: ``train_loss`` and, when validation rows were given,
    ``val_loss`` (the learner's own loss: log loss for classification, mean squared error for
    regression and forecasting), which tuning prunes on. A listener may raise to stop training.
    """

    listeners: list[ProgressListener] = field(default_factory=list)

    def step(self, step: int, total: int, unit: str, metrics: Mapping[str, float]) -> None:
        for listener in self.listeners:
            listener(step, total, unit, metrics)


@dataclass(frozen=True)
class FitOptions:
    """How the learner runs: the seed of every random source it has, and its thread budget."""

    seed: int = 0
    threads: int = 1
    # Where xgboost.dask sends the work; empty: in process.
    dask_scheduler_address: str = ""


@dataclass(frozen=True)
class SavedLearner:
    """What ``Learner.save`` wrote: the format, the files (relative to the folder it was given)
    and whatever small settings ``load`` needs to rebuild the learner (JSON-serialisable)."""

    format: str
    files: tuple[str, ...]
    config: Mapping[str, Any] = field(default_factory=dict)


class Learner(ABC):
    """A fitted (or to-be-fitted) model on numeric input."""

    # True when a classifier's ``predict`` is exactly the argmax of its ``predict_proba``: one
    # call then gives both (SVC's Platt probabilities, say, do not agree with its labels).
    labels_from_probabilities: bool = False

    @abstractmethod
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Fit on ``x`` (and ``y`` for supervised tasks). ``validation`` serves early stopping and
        per-step validation metrics of iterative learners; others ignore it."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Classification: class indices (int64); regression: values (float64, one per row);
        clustering: cluster labels (int64, -1 for noise); forecasting: rows x horizon;
        dimensionality reduction: the projected rows."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray | None:
        """Class probabilities (rows x classes) where the model has them, else None."""
        return None

    def feature_importance(self) -> np.ndarray | None:
        """One non-negative weight per input feature where the model has them, else None."""
        return None

    def fitted_steps(self) -> int | None:
        """Rounds or epochs actually fitted (after early stopping) for iterative learners."""
        return None

    @abstractmethod
    def save(self, directory: Path) -> SavedLearner:
        """Write the fitted model under ``directory`` (which exists and is empty)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, saved: SavedLearner) -> Learner:
        """Rebuild a fitted learner from what ``save`` wrote; runs no code from the files."""


LearnerFactory = Callable[[Task, Mapping[str, ParamPython], FitOptions], Learner]


@dataclass(frozen=True)
class AlgorithmInfo:
    name: str  # e.g. "sklearn.logistic_regression"
    display_name: str
    description: str
    tasks: frozenset[Task]
    library: str  # "sklearn", "xgboost", "torch", or a plugin's distribution name
    params: tuple[Param, ...]
    factory: LearnerFactory
    learner_class: type[Learner]
    formats: tuple[str, ...]  # first: the default
    iterative: bool = False
    supports_sample_weight: bool = False
    supports_dask: bool = False
    plugin: bool = False
    # Preprocessing defaults: trees need neither scaling nor one-hot encoding.
    scale_by_default: bool = True
    one_hot_by_default: bool = True
    # Missing values reach the learner as NaN (xgboost); otherwise they are imputed by default.
    handles_missing: bool = False
    # Extra types skops may load for this algorithm's artifacts ("module.Class").
    trusted_types: tuple[str, ...] = ()

    def check_task(self, task: Task) -> None:
        if task not in self.tasks:
            supported = ", ".join(sorted(t.value for t in self.tasks))
            raise InvalidArgument(
                f"algorithm {self.name!r} does not do {task.value}; it does: {supported}"
            )

    def resolve_params(self, given: Mapping[str, Any]) -> dict[str, ParamPython]:
        return validate_params(self.name, self.params, given)

    def build(
        self, task: Task, params: Mapping[str, Any], options: FitOptions | None = None
    ) -> Learner:
        """A new learner; ``params`` are checked and defaulted here."""
        self.check_task(task)
        return self.factory(task, self.resolve_params(params), options or FitOptions())

    def to_proto(self) -> tpb.Algorithm:
        formats = {v: k for k, v in FORMAT_OF_PROTO.items()}
        return tpb.Algorithm(
            name=self.name,
            display_name=self.display_name,
            description=self.description,
            tasks=[t.to_proto() for t in sorted(self.tasks)],
            library=self.library,
            plugin=self.plugin,
            hyperparameters=[param_to_proto(p) for p in self.params],
            iterative=self.iterative,
            supports_sample_weight=self.supports_sample_weight,
            supports_dask=self.supports_dask,
            formats=[formats[f] for f in self.formats if f in formats],
        )
