"""The hyperparameters of the scikit-learn algorithms: type, default, range and the range a tune
job searches by default. Documented in docs/algorithms.md (a test keeps the two in step)."""

from __future__ import annotations

from services.trainer.library.params import Condition, Param, ParamType, SuggestedSearch

LOGISTIC_REGRESSION = "sklearn.logistic_regression"
LINEAR_REGRESSION = "sklearn.linear_regression"
RIDGE = "sklearn.ridge"
LASSO = "sklearn.lasso"
DECISION_TREE = "sklearn.decision_tree"
RANDOM_FOREST = "sklearn.random_forest"
SVM = "sklearn.svm"
KNN = "sklearn.knn"
KMEANS = "sklearn.kmeans"
DBSCAN = "sklearn.dbscan"
PCA = "sklearn.pca"

_I, _F, _B, _CAT = ParamType.INT, ParamType.FLOAT, ParamType.BOOL, ParamType.CATEGORICAL

FIT_INTERCEPT = Param(
    "fit_intercept", _B, True, "Fit an intercept (false: the model passes through the origin)."
)
CLASS_WEIGHT = Param(
    "class_weight",
    _CAT,
    "none",
    "'balanced' weighs each class inversely to its frequency (classification only).",
    choices=("none", "balanced"),
)
MAX_DEPTH = Param(
    "max_depth",
    _I,
    None,
    "Deepest level of a tree; none grows until leaves are pure or min_samples_* stop it.",
    minimum=1,
    maximum=1000,
    nullable=True,
    search=SuggestedSearch(low=2, high=20),
)
MIN_SAMPLES_SPLIT = Param(
    "min_samples_split",
    _I,
    2,
    "Fewest rows a node needs to be split.",
    minimum=2,
    maximum=1_000_000,
    search=SuggestedSearch(low=2, high=40, log=True),
)
MIN_SAMPLES_LEAF = Param(
    "min_samples_leaf",
    _I,
    1,
    "Fewest rows in a leaf.",
    minimum=1,
    maximum=1_000_000,
    search=SuggestedSearch(low=1, high=60, log=True),
)

LOGISTIC_REGRESSION_PARAMS = (
    Param(
        "C",
        _F,
        1.0,
        "Inverse regularisation strength: smaller is a stronger penalty.",
        minimum=0.0,
        maximum=1e6,
        exclusive_minimum=True,
        search=SuggestedSearch(low=1e-3, high=1e3, log=True),
    ),
    Param(
        "l1_ratio",
        _F,
        0.0,
        "Penalty mix: 0 is L2 (lbfgs solver), 1 is L1, in between elastic net (saga solver).",
        minimum=0.0,
        maximum=1.0,
        search=SuggestedSearch(low=0.0, high=1.0),
    ),
    Param("max_iter", _I, 1000, "Most solver iterations.", minimum=10, maximum=1_000_000),
    CLASS_WEIGHT,
    FIT_INTERCEPT,
)

LINEAR_REGRESSION_PARAMS = (
    FIT_INTERCEPT,
    Param("positive", _B, False, "Force the coefficients to be non-negative."),
)

RIDGE_PARAMS = (
    Param(
        "alpha",
        _F,
        1.0,
        "L2 penalty strength (0: ordinary least squares).",
        minimum=0.0,
        maximum=1e8,
        search=SuggestedSearch(low=1e-3, high=1e3, log=True),
    ),
    FIT_INTERCEPT,
    Param("positive", _B, False, "Force the coefficients to be non-negative."),
)

LASSO_PARAMS = (
    Param(
        "alpha",
        _F,
        1.0,
        "L1 penalty strength, in the target's units; larger zeroes more coefficients.",
        minimum=0.0,
        maximum=1e8,
        exclusive_minimum=True,
        search=SuggestedSearch(low=1e-4, high=1e2, log=True),
    ),
    Param("max_iter", _I, 10_000, "Most coordinate-descent passes.", minimum=10, maximum=10**7),
    Param(
        "selection",
        _CAT,
        "cyclic",
        "Coordinate order: 'cyclic', or 'random' (seeded; often faster on many features).",
        choices=("cyclic", "random"),
    ),
    FIT_INTERCEPT,
)

DECISION_TREE_PARAMS = (
    MAX_DEPTH,
    MIN_SAMPLES_SPLIT,
    MIN_SAMPLES_LEAF,
    Param(
        "ccp_alpha",
        _F,
        None,
        "Cost-complexity pruning strength; none chooses it by cross-validation over the "
        "pruning path of the training rows (the chosen value is saved with the model).",
        minimum=0.0,
        maximum=1e12,
        nullable=True,
    ),
    Param(
        "cv_folds",
        _I,
        5,
        "Folds of the cross-validation that chooses ccp_alpha (used when ccp_alpha is none).",
        minimum=2,
        maximum=20,
    ),
    CLASS_WEIGHT,
)

RANDOM_FOREST_PARAMS = (
    Param(
        "n_estimators",
        _I,
        100,
        "Number of trees.",
        minimum=1,
        maximum=10_000,
        search=SuggestedSearch(low=50, high=500, log=True),
    ),
    MAX_DEPTH,
    MIN_SAMPLES_SPLIT,
    MIN_SAMPLES_LEAF,
    Param(
        "max_features",
        _CAT,
        "auto",
        "Features tried at each split: 'auto' is sqrt for classification and all for "
        "regression; 'sqrt', 'log2' or 'all'.",
        choices=("auto", "sqrt", "log2", "all"),
    ),
    Param("bootstrap", _B, True, "Grow each tree on a bootstrap sample of the rows."),
    Param(
        "max_samples",
        _F,
        None,
        "Fraction of the rows in each bootstrap sample; none: as many as there are rows.",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        nullable=True,
        search=SuggestedSearch(low=0.3, high=1.0),
    ),
    CLASS_WEIGHT,
)

_GAMMA_KERNELS = ("rbf", "poly", "sigmoid")
SVM_PARAMS = (
    Param(
        "kernel",
        _CAT,
        "rbf",
        "Kernel: 'rbf', 'linear', 'poly' or 'sigmoid'.",
        choices=("rbf", "linear", "poly", "sigmoid"),
    ),
    Param(
        "C",
        _F,
        1.0,
        "Inverse regularisation strength: smaller is a smoother decision function.",
        minimum=0.0,
        maximum=1e6,
        exclusive_minimum=True,
        search=SuggestedSearch(low=1e-2, high=1e3, log=True),
    ),
    Param(
        "gamma",
        _F,
        None,
        "Kernel coefficient of rbf, poly and sigmoid; none is 'scale', 1 / (features x "
        "variance of the input).",
        minimum=0.0,
        maximum=1e6,
        exclusive_minimum=True,
        nullable=True,
        search=SuggestedSearch(low=1e-4, high=10.0, log=True),
        condition=Condition("kernel", _GAMMA_KERNELS),
    ),
    Param(
        "degree",
        _I,
        3,
        "Degree of the polynomial kernel.",
        minimum=1,
        maximum=10,
        search=SuggestedSearch(low=2, high=5),
        condition=Condition("kernel", ("poly",)),
    ),
    Param(
        "coef0",
        _F,
        0.0,
        "Independent term of the poly and sigmoid kernels.",
        minimum=-1e6,
        maximum=1e6,
        condition=Condition("kernel", ("poly", "sigmoid")),
    ),
    Param(
        "epsilon",
        _F,
        0.1,
        "Regression only: errors smaller than this (in the target's units) cost nothing.",
        minimum=0.0,
        maximum=1e12,
    ),
    Param(
        "probability",
        _B,
        True,
        "Classification only: calibrate probabilities (Platt scaling over 5 folds; slower).",
    ),
    CLASS_WEIGHT,
)

_METRICS = ("euclidean", "manhattan", "chebyshev", "cosine")
KNN_PARAMS = (
    Param(
        "n_neighbors",
        _I,
        5,
        "Neighbours that vote (classification) or are averaged (regression).",
        minimum=1,
        maximum=100_000,
        search=SuggestedSearch(low=1, high=50, log=True),
    ),
    Param(
        "weights",
        _CAT,
        "uniform",
        "'uniform', or 'distance' (closer neighbours count more).",
        choices=("uniform", "distance"),
    ),
    Param("metric", _CAT, "euclidean", "Distance between rows.", choices=_METRICS),
)

KMEANS_PARAMS = (
    Param(
        "n_clusters",
        _I,
        8,
        "Number of clusters.",
        minimum=2,
        maximum=100_000,
        search=SuggestedSearch(low=2, high=20),
    ),
    Param(
        "init",
        _CAT,
        "k-means++",
        "Initial centroids: 'k-means++' or 'random' rows.",
        choices=("k-means++", "random"),
    ),
    Param(
        "n_init",
        _I,
        10,
        "Runs from different (seeded) initial centroids; the best is kept.",
        minimum=1,
        maximum=1000,
    ),
    Param("max_iter", _I, 300, "Most iterations of one run.", minimum=1, maximum=1_000_000),
)

DBSCAN_PARAMS = (
    Param(
        "eps",
        _F,
        0.5,
        "Neighbourhood radius (in the preprocessed, by default standardised, feature space).",
        minimum=0.0,
        maximum=1e12,
        exclusive_minimum=True,
        search=SuggestedSearch(low=0.05, high=5.0, log=True),
    ),
    Param(
        "min_samples",
        _I,
        5,
        "Rows (itself included) within eps that make a row a core sample.",
        minimum=1,
        maximum=1_000_000,
        search=SuggestedSearch(low=2, high=50, log=True),
    ),
    Param("metric", _CAT, "euclidean", "Distance between rows.", choices=_METRICS),
)

PCA_PARAMS = (
    Param(
        "n_components",
        _I,
        None,
        "Components to keep; none keeps enough to explain variance_kept of the variance.",
        minimum=1,
        maximum=100_000,
        nullable=True,
        search=SuggestedSearch(low=1, high=20),
    ),
    Param(
        "variance_kept",
        _F,
        0.95,
        "With n_components none: the fraction of the variance the components explain "
        "(1: keep them all).",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
    ),
    Param("whiten", _B, False, "Scale the components to unit variance."),
    Param(
        "svd_solver",
        _CAT,
        "auto",
        "'auto', 'full' (exact) or 'randomized' (seeded; fast for few components).",
        choices=("auto", "full", "randomized"),
    ),
)
