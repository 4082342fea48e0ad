"""The scikit-learn learners: an estimator behind the ``Learner`` interface, saved with skops and
checked against an allow-list of types when loaded, plus the few algorithms that need more than
``fit`` / ``predict``: CART choosing its pruning by cross-validation, an SVC with calibrated
probabilities, DBSCAN labelling new rows, PCA projecting them, k-NN checking k."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import FORMAT_SKOPS, Learner, Progress, SavedLearner, Task
from services.trainer.library.skops_io import algorithm_trusted_types, dump_skops, load_skops

MODEL_FILE = "model.skops"
# Cost-complexity pruning: at most this many alphas of the pruning path are cross-validated.
MAX_ALPHA_CANDIDATES = 25
# Folds of the Platt scaling that gives an SVC its probabilities.
SVM_CALIBRATION_FOLDS = 5


def random_state(seed: int) -> int:
    """The seed as scikit-learn accepts it (0 <= seed < 2**32)."""
    return seed % 2**32


class SklearnLearner(Learner):
    """A scikit-learn estimator on the numeric matrix; classification labels are 0..k-1."""

    def __init__(
        self,
        algorithm: str,
        task: Task,
        estimator: BaseEstimator,
        *,
        threads: int = 1,
        seed: int = 0,
        weighted: bool = True,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.task = task
        self.estimator: Any = estimator
        self.threads = max(threads, 1)
        self.seed = seed
        self.weighted = weighted
        self.config: dict[str, Any] = dict(config or {})

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> None:
        if sample_weight is not None and not self.weighted:
            raise InvalidArgument(
                f"algorithm {self.algorithm!r} takes no sample weights: drop the weight column"
            )
        if self.task.supervised and y is None:
            raise InvalidArgument(f"{self.task.value} needs a target column")
        with threadpool_limits(limits=self.threads):
            try:
                self._fit(x, y if self.task.supervised else None, sample_weight)
            except ValueError as exc:
                raise InvalidArgument(f"{self.algorithm} cannot fit these rows: {exc}") from None

    def _fit(self, x: np.ndarray, y: np.ndarray | None, weight: np.ndarray | None) -> None:
        fit_params = {} if weight is None else {"sample_weight": weight}
        self.estimator.fit(x, y, **fit_params)

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = np.asarray(self.estimator.predict(x))
        if self.task in (Task.CLASSIFICATION, Task.CLUSTERING):
            return raw.astype(np.int64)
        return raw.astype(np.float64).ravel()

    def predict_proba(self, x: np.ndarray) -> np.ndarray | None:
        if self.task is not Task.CLASSIFICATION or not hasattr(self.estimator, "predict_proba"):
            return None
        return np.asarray(self.estimator.predict_proba(x), dtype=np.float64)

    def feature_importance(self) -> np.ndarray | None:
        estimator = self.estimator
        if isinstance(estimator, CalibratedClassifierCV):  # ensemble=False: one inner model
            estimator = estimator.calibrated_classifiers_[0].estimator
        if hasattr(estimator, "feature_importances_"):
            return np.asarray(estimator.feature_importances_, dtype=np.float64)
        try:
            coef = np.asarray(estimator.coef_, dtype=np.float64)
        except AttributeError:  # no attribute, or a non-linear kernel's refusal
            return None
        # Scale-dependent: meaningful on standardised features (the default for linear models).
        return np.abs(coef) if coef.ndim == 1 else np.abs(coef).mean(axis=0)

    def save(self, directory: Path) -> SavedLearner:
        dump_skops(self.estimator, directory / MODEL_FILE)
        config = {"algorithm": self.algorithm, "task": self.task.value, **self.config}
        return SavedLearner(FORMAT_SKOPS, (MODEL_FILE,), config)

    @classmethod
    def load(cls, directory: Path, saved: SavedLearner) -> SklearnLearner:
        if saved.format != FORMAT_SKOPS or len(saved.files) != 1:
            raise FailedPrecondition(
                f"a scikit-learn learner is one skops file, not {saved.format} {saved.files}"
            )
        config = dict(saved.config)
        algorithm = str(config.pop("algorithm", ""))
        task = Task(config.pop("task"))
        trusted = algorithm_trusted_types(algorithm)
        estimator = load_skops(directory / saved.files[0], trusted)
        if not isinstance(estimator, BaseEstimator):
            raise FailedPrecondition(f"{saved.files[0]} holds no scikit-learn estimator")
        return cls(algorithm, task, estimator, config=config)


class PrunedTreeLearner(SklearnLearner):
    """CART; with ``ccp_alpha`` none, the alpha is chosen by cross-validation over the
    cost-complexity pruning path of the training rows (and kept in the saved config)."""

    def __init__(self, *args: Any, cv_folds: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cv_folds = cv_folds  # None: ccp_alpha was given

    @property
    def ccp_alpha(self) -> float:
        return float(self.estimator.ccp_alpha)

    def _fit(self, x: np.ndarray, y: np.ndarray | None, weight: np.ndarray | None) -> None:
        assert y is not None
        if self.cv_folds is not None:
            alpha, score = self._choose_alpha(x, y, weight, self.cv_folds)
            self.estimator.set_params(ccp_alpha=alpha)
            self.config["ccp_alpha_chosen_by_cv"] = True
            if score is not None:
                self.config["ccp_alpha_cv_score"] = score
        super()._fit(x, y, weight)
        self.config.update(ccp_alpha=self.ccp_alpha, leaves=int(self.estimator.get_n_leaves()))

    def _choose_alpha(
        self, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None, folds: int
    ) -> tuple[float, float | None]:
        """The alpha with the best mean score (accuracy or R2) over the folds, and the score;
        with one candidate or too few rows to fold, that candidate and no score."""
        path = self.estimator.cost_complexity_pruning_path(x, y, sample_weight=weight)
        # The last alpha prunes the tree to its root; the rest are the distinct subtrees.
        alphas = candidate_alphas(np.unique(np.maximum(path.ccp_alphas[:-1], 0.0)))
        splits = self._folds(y, folds)
        if len(alphas) <= 1 or splits is None:
            return (float(alphas[0]) if len(alphas) else 0.0), None
        scores = np.zeros(len(alphas))
        for train, test in splits:
            w_train = None if weight is None else weight[train]
            w_test = None if weight is None else weight[test]
            for i, alpha in enumerate(alphas):
                tree = clone(self.estimator).set_params(ccp_alpha=float(alpha))
                tree.fit(x[train], y[train], sample_weight=w_train)
                scores[i] += tree.score(x[test], y[test], sample_weight=w_test)
        scores /= len(splits)
        # Among equally good alphas the largest, i.e. the smallest tree.
        best = int(np.flatnonzero(scores >= scores.max() - 1e-12)[-1])
        return float(alphas[best]), float(scores[best])

    def _folds(self, y: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
        rows = np.arange(len(y))
        seed = random_state(self.seed)
        if self.task is Task.CLASSIFICATION:
            counts = np.bincount(y)
            smallest = int(counts[counts > 0].min())
            if smallest >= 2:
                stratified = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=seed)
                return list(stratified.split(rows, y))
        if len(y) < 4:
            return None
        plain = KFold(min(folds, len(y) // 2), shuffle=True, random_state=seed)
        return list(plain.split(rows))


def candidate_alphas(alphas: np.ndarray) -> np.ndarray:
    """At most MAX_ALPHA_CANDIDATES of the ascending pruning path: the small trees at its end
    (where the choice matters) all, the large ones at its start ever more sparsely, and 0."""
    count = len(alphas)
    if count <= MAX_ALPHA_CANDIDATES:
        return alphas
    back = np.unique(np.geomspace(1, count, MAX_ALPHA_CANDIDATES - 1).round().astype(int))
    return alphas[np.unique(np.r_[0, count - back])]


class CalibratedSvmLearner(SklearnLearner):
    """An SVC whose probabilities come from Platt scaling on cross-validated decision values
    (``CalibratedClassifierCV(ensemble=False)``, what ``SVC(probability=True)`` did)."""

    def _fit(self, x: np.ndarray, y: np.ndarray | None, weight: np.ndarray | None) -> None:
        assert y is not None
        counts = np.bincount(y)
        smallest = int(counts[counts > 0].min())
        if smallest < 2:
            raise InvalidArgument(
                "sklearn.svm probabilities need at least 2 training rows per class: "
                "set probability to false or add rows"
            )
        self.estimator.set_params(cv=min(SVM_CALIBRATION_FOLDS, smallest))
        super()._fit(x, y, weight)


class DbscanLearner(SklearnLearner):
    """DBSCAN; a new row joins the cluster of its nearest core sample when that is within
    ``eps``, and is noise (-1) otherwise."""

    def _fit(self, x: np.ndarray, y: np.ndarray | None, weight: np.ndarray | None) -> None:
        self.estimator.fit(x, sample_weight=weight)
        labels = self.estimator.labels_
        self.config.update(
            clusters=int(labels.max() + 1) if len(labels) else 0,
            noise_rows=int((labels == -1).sum()),
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        model = self.estimator
        cores = np.asarray(model.components_)
        if len(cores) == 0:
            return np.full(len(x), -1, dtype=np.int64)
        core_labels = np.asarray(model.labels_)[model.core_sample_indices_]
        nearest, distance = pairwise_distances_argmin_min(x, cores, metric=model.metric)
        return np.where(distance <= model.eps, core_labels[nearest], -1).astype(np.int64)


class PcaLearner(SklearnLearner):
    """PCA; ``predict`` gives the projected rows."""

    def _fit(self, x: np.ndarray, y: np.ndarray | None, weight: np.ndarray | None) -> None:
        wanted = self.estimator.n_components
        if isinstance(wanted, int) and wanted > min(x.shape):
            raise InvalidArgument(
                f"hyperparameter 'n_components' is {wanted}, but the training data has "
                f"{x.shape[0]} rows and {x.shape[1]} features: send at most {min(x.shape)}"
            )
        self.estimator.fit(x)
        self.config.update(
            components=int(self.estimator.n_components_),
            explained_variance_ratio=float(self.estimator.explained_variance_ratio_.sum()),
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.transform(x), dtype=np.float64)


class NeighboursLearner(SklearnLearner):
    def _fit(self, x: np.ndarray, y: np.ndarray | None, weight: np.ndarray | None) -> None:
        wanted = self.estimator.n_neighbors
        if wanted > len(x):
            raise InvalidArgument(
                f"hyperparameter 'n_neighbors' is {wanted}, but there are only {len(x)} "
                "training rows: send a smaller value"
            )
        super()._fit(x, y, weight)
