"""An aimass algorithm plugin: scikit-learn's nearest-centroid classifier.

A plugin is an ``AlgorithmInfo`` (name, tasks, hyperparameters, a factory and a ``Learner``
class) published under the entry-point group ``aimass.algorithms``. The learner fits on the
numeric matrix the trainer's preprocessing makes (float32; classes arrive as 0..k-1) and saves
itself in a format that runs no code when loaded: here skops, checked against an allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestCentroid

from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import (
    FORMAT_SKOPS,
    AlgorithmInfo,
    FitOptions,
    Learner,
    Progress,
    SavedLearner,
    Task,
)
from services.trainer.library.params import Param, ParamPython, ParamType, SuggestedSearch
from services.trainer.library.skops_io import dump_skops, load_skops

NAME = "example.nearest_centroid"
MODEL_FILE = "model.skops"
# Types outside sklearn/numpy/builtins that this plugin's files may hold (none here).
TRUSTED_TYPES: tuple[str, ...] = ()

PARAMS = (
    Param(
        "metric",
        ParamType.CATEGORICAL,
        "euclidean",
        "'euclidean' (centroid = class mean) or 'manhattan' (centroid = class median).",
        choices=("euclidean", "manhattan"),
    ),
    Param(
        "shrink_threshold",
        ParamType.FLOAT,
        None,
        "Shrink each centroid towards the overall one by this much (in within-class standard "
        "deviations), dropping features that do not separate the classes; none: no shrinking.",
        minimum=0.0,
        maximum=1e6,
        exclusive_minimum=True,
        nullable=True,
        search=SuggestedSearch(low=0.01, high=5.0, log=True),
    ),
)


class NearestCentroidLearner(Learner):
    def __init__(self, model: NearestCentroid) -> None:
        self.model = model

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> None:
        if y is None:
            raise InvalidArgument("example.nearest_centroid needs a target column")
        if sample_weight is not None:  # AlgorithmInfo says so too; the trainer checks first
            raise InvalidArgument("example.nearest_centroid takes no sample weights")
        self.model.fit(x, y)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(x), dtype=np.int64)

    def predict_proba(self, x: np.ndarray) -> np.ndarray | None:
        return np.asarray(self.model.predict_proba(x), dtype=np.float64)

    def save(self, directory: Path) -> SavedLearner:
        dump_skops(self.model, directory / MODEL_FILE)
        return SavedLearner(FORMAT_SKOPS, (MODEL_FILE,))

    @classmethod
    def load(cls, directory: Path, saved: SavedLearner) -> NearestCentroidLearner:
        if saved.format != FORMAT_SKOPS or saved.files != (MODEL_FILE,):
            raise FailedPrecondition(f"{NAME} saves one skops file, not {list(saved.files)}")
        # load_skops refuses a file naming any type outside the allow-list.
        model = load_skops(directory / MODEL_FILE, TRUSTED_TYPES)
        if not isinstance(model, NearestCentroid):
            raise FailedPrecondition(f"{MODEL_FILE} holds no NearestCentroid")
        return cls(model)


def build(task: Task, params: Mapping[str, ParamPython], options: FitOptions) -> Learner:
    """The factory: ``params`` arrive checked and defaulted (AlgorithmInfo.build)."""
    return NearestCentroidLearner(
        NearestCentroid(metric=params["metric"], shrink_threshold=params["shrink_threshold"])
    )


def algorithm() -> AlgorithmInfo:
    """What the entry point names; the trainer calls it once per process."""
    return AlgorithmInfo(
        name=NAME,
        display_name="Nearest centroid (example plugin)",
        description="Each class is its centroid; a row gets the class of the nearest one.",
        tasks=frozenset({Task.CLASSIFICATION}),
        library="aimass-nearest-centroid",
        params=PARAMS,
        factory=build,
        learner_class=NearestCentroidLearner,
        formats=(FORMAT_SKOPS,),
        trusted_types=TRUSTED_TYPES,
    )
