"""The numpy preprocessor gives the ColumnTransformer's matrix, value for value, for every choice
the trainer offers, with missing values, unseen and rare categories, booleans and timestamps."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from services.common.errors import InvalidArgument
from services.trainer.library.compiled import compile_preprocessor
from services.trainer.library.preprocessing import (
    Column,
    ColumnKind,
    PreprocessingChoice,
    build_preprocessor,
    prepare_frame,
    transformed,
)

COLUMNS = [
    Column("age", ColumnKind.NUMERIC, "double"),
    Column("bmi", ColumnKind.NUMERIC, "double"),
    Column("smoker", ColumnKind.BOOLEAN, "bool"),
    Column("seen", ColumnKind.DATETIME, "timestamp[us, tz=UTC]"),
    Column("region", ColumnKind.CATEGORICAL, "string"),
    Column("plan", ColumnKind.CATEGORICAL, "string"),
]


def _frame(rows: int, seed: int, unseen: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    diabetes = load_diabetes(as_frame=True, scaled=False).frame.sample(
        rows, replace=True, random_state=seed
    )
    age = diabetes["age"].to_numpy(dtype=np.float64, copy=True)
    bmi = diabetes["bmi"].to_numpy(dtype=np.float64)
    age[rng.random(rows) < 0.1] = np.nan
    regions = np.array(["north", "south", "east", "west", "ÿ-ünï", "rare-1", "rare-2"])
    weights = np.array([0.3, 0.3, 0.2, 0.15, 0.04, 0.005, 0.005])
    region = rng.choice(regions, rows, p=weights).astype(object)
    region[rng.random(rows) < 0.08] = None
    if unseen:
        region[rng.random(rows) < 0.1] = "never-seen"
    plan = rng.choice(np.array(["basic", "plus", "premium"]), rows).astype(object)
    seen = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 10**7, rows), unit="s"
    )
    return pd.DataFrame(
        {
            "age": age,
            "bmi": bmi,
            "smoker": rng.random(rows) < 0.3,
            "seen": seen,
            "region": region,
            "plan": plan,
        }
    )


CHOICES = [
    PreprocessingChoice(numeric, categorical, encoding, scaling, max_categories)
    for numeric, categorical, encoding, scaling, max_categories in itertools.product(
        ["median", "mean", "most_frequent", "constant"],
        ["constant", "most_frequent"],
        ["one_hot", "ordinal"],
        [None, "standard", "minmax", "robust"],
        [50, 4],
    )
] + [
    # xgboost's default: missing numbers kept as NaN, ordinal categories
    PreprocessingChoice(None, "constant", "ordinal", None, 50),
    PreprocessingChoice(None, "constant", "one_hot", "standard", 50),
]


@pytest.mark.parametrize("choice", CHOICES, ids=str)
def test_the_same_matrix_as_scikit_learn(choice: PreprocessingChoice) -> None:
    train, test = _frame(400, 1), _frame(120, 2, unseen=True)
    preprocessor = build_preprocessor(COLUMNS, choice)
    preprocessor.fit(prepare_frame(train, COLUMNS))
    compiled = compile_preprocessor(preprocessor, COLUMNS)
    assert compiled is not None
    expected = transformed(preprocessor, prepare_frame(test, COLUMNS))
    columns = {name: test[name].to_numpy() for name in test.columns}
    got = compiled.transform(columns)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    # one row at a time, as a server receives them
    for row in range(5):
        single = {name: values[row : row + 1] for name, values in columns.items()}
        np.testing.assert_array_equal(compiled.transform(single), expected[row : row + 1])


def test_inputs_as_a_server_decodes_them() -> None:
    """Typed arrays from tensors: float32 numbers, bytes for text, epoch seconds for times."""
    train = _frame(300, 3)
    choice = PreprocessingChoice("median", "constant", "one_hot", "standard", 50)
    preprocessor = build_preprocessor(COLUMNS, choice).fit(prepare_frame(train, COLUMNS))
    compiled = compile_preprocessor(preprocessor, COLUMNS)
    assert compiled is not None
    test = _frame(20, 4)
    expected = transformed(preprocessor, prepare_frame(test, COLUMNS))
    seconds = (test["seen"] - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    decoded = {
        "age": test["age"].to_numpy(dtype=np.float64),
        "bmi": test["bmi"].to_numpy(dtype=np.float64),
        "smoker": test["smoker"].to_numpy(),
        "seen": seconds.to_numpy(dtype=np.float64),
        "region": np.array(
            [v.encode() if isinstance(v, str) else None for v in test["region"]], dtype=object
        ),
        "plan": test["plan"].to_numpy(dtype=str),
    }
    np.testing.assert_allclose(compiled.transform(decoded), expected, rtol=1e-6)


def test_bad_inputs_name_the_column() -> None:
    train = _frame(200, 5)
    choice = PreprocessingChoice("median", "constant", "ordinal", None, 50)
    preprocessor = build_preprocessor(COLUMNS, choice).fit(prepare_frame(train, COLUMNS))
    compiled = compile_preprocessor(preprocessor, COLUMNS)
    assert compiled is not None
    columns = {name: train[name].to_numpy()[:3] for name in train.columns}
    with pytest.raises(InvalidArgument, match="no column 'plan'"):
        compiled.transform({k: v for k, v in columns.items() if k != "plan"})
    with pytest.raises(InvalidArgument, match="different lengths"):
        compiled.transform(columns | {"age": np.array([1.0])})
    with pytest.raises(InvalidArgument, match="'bmi' must hold numeric"):
        compiled.transform(columns | {"bmi": np.array(["a", "b", "c"])})


def test_a_column_the_imputer_dropped_keeps_the_scikit_learn_path() -> None:
    train = _frame(100, 6)
    train["bmi"] = np.nan  # all missing: SimpleImputer drops the column
    choice = PreprocessingChoice("median", "constant", "ordinal", None, 50)
    with pytest.warns(UserWarning):
        preprocessor = build_preprocessor(COLUMNS, choice).fit(prepare_frame(train, COLUMNS))
    assert compile_preprocessor(preprocessor, COLUMNS) is None
