"""The scikit-learn algorithms: linear models, CART with cost-complexity pruning, random forests,
SVMs, k-nearest neighbours, KMeans, DBSCAN and PCA. The hyperparameters are declared in
``sklearn_params``, the learners in ``sklearn_learners``; this module turns validated
hyperparameters into estimators and lists the algorithms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sklearn
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from services.common.errors import InvalidArgument
from services.trainer.library import sklearn_params as sp
from services.trainer.library.base import (
    FORMAT_SKOPS,
    AlgorithmInfo,
    FitOptions,
    Learner,
    LearnerFactory,
    Task,
)
from services.trainer.library.params import Param, ParamPython
from services.trainer.library.sklearn_learners import (
    CalibratedSvmLearner,
    DbscanLearner,
    NeighboursLearner,
    PcaLearner,
    PrunedTreeLearner,
    SklearnLearner,
    random_state,
)

_SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])

Params = Mapping[str, ParamPython]

# ---------------------------------------------------------------------------------------------
# Factories: validated hyperparameters -> a learner


def _class_weight(params: Params) -> str | None:
    return None if params.get("class_weight", "none") == "none" else str(params["class_weight"])


def _logistic_regression(task: Task, p: Params, options: FitOptions) -> Learner:
    l1_ratio = float(p["l1_ratio"])  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    if _SKLEARN_VERSION < (1, 8):  # before 1.8 the penalty was named, not implied by l1_ratio
        kwargs["penalty"] = {0.0: "l2", 1.0: "l1"}.get(l1_ratio, "elasticnet")
    model = LogisticRegression(
        C=p["C"],
        l1_ratio=l1_ratio,
        solver="lbfgs" if l1_ratio == 0 else "saga",
        max_iter=p["max_iter"],
        fit_intercept=p["fit_intercept"],
        class_weight=_class_weight(p),
        random_state=random_state(options.seed),
        **kwargs,
    )
    return SklearnLearner(sp.LOGISTIC_REGRESSION, task, model, **_common(options))


def _linear_regression(task: Task, p: Params, options: FitOptions) -> Learner:
    model = LinearRegression(fit_intercept=p["fit_intercept"], positive=p["positive"])
    return SklearnLearner(sp.LINEAR_REGRESSION, task, model, **_common(options))


def _ridge(task: Task, p: Params, options: FitOptions) -> Learner:
    model = Ridge(
        alpha=p["alpha"],
        fit_intercept=p["fit_intercept"],
        positive=p["positive"],
        random_state=random_state(options.seed),
    )
    return SklearnLearner(sp.RIDGE, task, model, **_common(options))


def _lasso(task: Task, p: Params, options: FitOptions) -> Learner:
    model = Lasso(
        alpha=p["alpha"],
        fit_intercept=p["fit_intercept"],
        max_iter=p["max_iter"],
        selection=p["selection"],
        random_state=random_state(options.seed),
    )
    return SklearnLearner(sp.LASSO, task, model, **_common(options))


def _tree_kwargs(p: Params) -> dict[str, Any]:
    return {
        "max_depth": p["max_depth"],
        "min_samples_split": p["min_samples_split"],
        "min_samples_leaf": p["min_samples_leaf"],
    }


def _decision_tree(task: Task, p: Params, options: FitOptions) -> Learner:
    model: BaseEstimator
    alpha = 0.0 if p["ccp_alpha"] is None else p["ccp_alpha"]
    seed = random_state(options.seed)
    if task is Task.CLASSIFICATION:
        model = DecisionTreeClassifier(
            **_tree_kwargs(p), ccp_alpha=alpha, class_weight=_class_weight(p), random_state=seed
        )
    else:
        model = DecisionTreeRegressor(**_tree_kwargs(p), ccp_alpha=alpha, random_state=seed)
    folds = p["cv_folds"] if p["ccp_alpha"] is None else None
    return PrunedTreeLearner(
        sp.DECISION_TREE,
        task,
        model,
        cv_folds=folds,  # type: ignore[arg-type]
        **_common(options),
    )


def _random_forest(task: Task, p: Params, options: FitOptions) -> Learner:
    classifies = task is Task.CLASSIFICATION
    features = {"auto": "sqrt" if classifies else 1.0, "all": 1.0}.get(
        str(p["max_features"]), p["max_features"]
    )
    kwargs: dict[str, Any] = {
        **_tree_kwargs(p),
        "n_estimators": p["n_estimators"],
        "max_features": features,
        "bootstrap": p["bootstrap"],
        "max_samples": p["max_samples"] if p["bootstrap"] else None,
        "n_jobs": options.threads,
        "random_state": random_state(options.seed),
    }
    model: BaseEstimator
    if classifies:
        model = RandomForestClassifier(**kwargs, class_weight=_class_weight(p))
    else:
        model = RandomForestRegressor(**kwargs)
    return SklearnLearner(sp.RANDOM_FOREST, task, model, **_common(options))


def _svm(task: Task, p: Params, options: FitOptions) -> Learner:
    kwargs: dict[str, Any] = {
        "kernel": p["kernel"],
        "C": p["C"],
        "gamma": "scale" if p["gamma"] is None else p["gamma"],
        "degree": p["degree"],
        "coef0": p["coef0"],
    }
    if task is Task.REGRESSION:
        return SklearnLearner(sp.SVM, task, SVR(**kwargs, epsilon=p["epsilon"]), **_common(options))
    svc = SVC(**kwargs, class_weight=_class_weight(p), random_state=random_state(options.seed))
    if not p["probability"]:
        return SklearnLearner(sp.SVM, task, svc, **_common(options))
    calibrated = CalibratedClassifierCV(svc, ensemble=False, n_jobs=options.threads)
    return CalibratedSvmLearner(sp.SVM, task, calibrated, **_common(options))


def _knn(task: Task, p: Params, options: FitOptions) -> Learner:
    kwargs: dict[str, Any] = {
        "n_neighbors": p["n_neighbors"],
        "weights": p["weights"],
        "metric": p["metric"],
        "n_jobs": options.threads,
    }
    model: BaseEstimator
    if task is Task.CLASSIFICATION:
        model = KNeighborsClassifier(**kwargs)
    else:
        model = KNeighborsRegressor(**kwargs)
    return NeighboursLearner(sp.KNN, task, model, **_common(options), weighted=False)


def _kmeans(task: Task, p: Params, options: FitOptions) -> Learner:
    model = KMeans(
        n_clusters=p["n_clusters"],
        init=p["init"],
        n_init=p["n_init"],
        max_iter=p["max_iter"],
        random_state=random_state(options.seed),
    )
    return SklearnLearner(sp.KMEANS, task, model, **_common(options))


def _dbscan(task: Task, p: Params, options: FitOptions) -> Learner:
    model = DBSCAN(
        eps=p["eps"], min_samples=p["min_samples"], metric=p["metric"], n_jobs=options.threads
    )
    return DbscanLearner(sp.DBSCAN, task, model, **_common(options))


def _pca(task: Task, p: Params, options: FitOptions) -> Learner:
    components: int | float | None = p["n_components"]  # type: ignore[assignment]
    solver = p["svd_solver"]
    if components is None:
        kept = float(p["variance_kept"])  # type: ignore[arg-type]
        components = kept if kept < 1.0 else None
        if components is not None and solver == "randomized":
            raise InvalidArgument(
                "hyperparameter 'variance_kept' needs svd_solver 'auto' or 'full': "
                "set n_components to use the randomized solver"
            )
    model = PCA(
        n_components=components,
        whiten=p["whiten"],
        svd_solver=solver,
        random_state=random_state(options.seed),
    )
    return PcaLearner(sp.PCA, task, model, **_common(options), weighted=False)


def _common(options: FitOptions) -> dict[str, Any]:
    return {"threads": options.threads, "seed": options.seed}


# ---------------------------------------------------------------------------------------------
# The catalog entries


def _info(
    name: str,
    display_name: str,
    description: str,
    tasks: tuple[Task, ...],
    params: tuple[Param, ...],
    factory: LearnerFactory,
    learner_class: type[Learner],
    **flags: Any,
) -> AlgorithmInfo:
    return AlgorithmInfo(
        name=name,
        display_name=display_name,
        description=description,
        tasks=frozenset(tasks),
        library="sklearn",
        params=params,
        factory=factory,
        learner_class=learner_class,
        formats=(FORMAT_SKOPS,),
        **flags,
    )


_C, _R = Task.CLASSIFICATION, Task.REGRESSION
_TREE_FLAGS = {"scale_by_default": False, "one_hot_by_default": False}

ALGORITHMS: tuple[AlgorithmInfo, ...] = (
    _info(
        sp.LOGISTIC_REGRESSION,
        "Logistic regression",
        "Linear classifier with L2, L1 or elastic-net penalty (lbfgs, or saga with L1).",
        (_C,),
        sp.LOGISTIC_REGRESSION_PARAMS,
        _logistic_regression,
        SklearnLearner,
        supports_sample_weight=True,
    ),
    _info(
        sp.LINEAR_REGRESSION,
        "Linear regression",
        "Ordinary least squares.",
        (_R,),
        sp.LINEAR_REGRESSION_PARAMS,
        _linear_regression,
        SklearnLearner,
        supports_sample_weight=True,
    ),
    _info(
        sp.RIDGE,
        "Ridge regression",
        "Least squares with an L2 penalty.",
        (_R,),
        sp.RIDGE_PARAMS,
        _ridge,
        SklearnLearner,
        supports_sample_weight=True,
    ),
    _info(
        sp.LASSO,
        "Lasso regression",
        "Least squares with an L1 penalty (sparse coefficients), by coordinate descent.",
        (_R,),
        sp.LASSO_PARAMS,
        _lasso,
        SklearnLearner,
        supports_sample_weight=True,
    ),
    _info(
        sp.DECISION_TREE,
        "Decision tree (CART)",
        "CART with minimal cost-complexity pruning; the pruning strength is chosen by "
        "cross-validation over the pruning path unless ccp_alpha is given.",
        (_C, _R),
        sp.DECISION_TREE_PARAMS,
        _decision_tree,
        PrunedTreeLearner,
        supports_sample_weight=True,
        **_TREE_FLAGS,
    ),
    _info(
        sp.RANDOM_FOREST,
        "Random forest",
        "Bagged CART trees with random feature subsets; impurity feature importance.",
        (_C, _R),
        sp.RANDOM_FOREST_PARAMS,
        _random_forest,
        SklearnLearner,
        supports_sample_weight=True,
        **_TREE_FLAGS,
    ),
    _info(
        sp.SVM,
        "Support vector machine",
        "SVC (probabilities by Platt scaling) or SVR with a linear, polynomial, RBF or "
        "sigmoid kernel.",
        (_C, _R),
        sp.SVM_PARAMS,
        _svm,
        SklearnLearner,
        supports_sample_weight=True,
    ),
    _info(
        sp.KNN,
        "k-nearest neighbours",
        "Vote (classification) or mean (regression) of the k nearest training rows.",
        (_C, _R),
        sp.KNN_PARAMS,
        _knn,
        NeighboursLearner,
    ),
    _info(
        sp.KMEANS,
        "KMeans",
        "k-means clustering (Lloyd) with k-means++ initialisation; predict gives the "
        "nearest centroid's cluster.",
        (Task.CLUSTERING,),
        sp.KMEANS_PARAMS,
        _kmeans,
        SklearnLearner,
        supports_sample_weight=True,
    ),
    _info(
        sp.DBSCAN,
        "DBSCAN",
        "Density-based clustering; predict assigns the nearest core sample's cluster "
        "within eps, else noise (-1).",
        (Task.CLUSTERING,),
        sp.DBSCAN_PARAMS,
        _dbscan,
        DbscanLearner,
        supports_sample_weight=True,
    ),
    _info(
        sp.PCA,
        "PCA",
        "Principal component analysis; predict gives the projected rows.",
        (Task.DIMENSIONALITY_REDUCTION,),
        sp.PCA_PARAMS,
        _pca,
        PcaLearner,
    ),
)
