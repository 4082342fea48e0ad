"""Preprocessing fitted with the model: imputation, categorical encoding and scaling, built from the
dataset's column types and saved inside the model, so the predictor takes raw feature rows.

Raw rows are first coerced by ``prepare_frame`` (our code, driven by the column kinds recorded in
the model's manifest): numbers and booleans become float64, timestamps seconds since the epoch,
everything else text. The fitted scikit-learn ``ColumnTransformer`` then makes the float32
matrix the learner sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument

MISSING_CATEGORY = "__missing__"
DEFAULT_MAX_CATEGORIES = 50


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    # The Arrow type of the dataset column, for the model's signature.
    arrow_type: str


def column_kind(data_type: pa.DataType) -> ColumnKind | None:
    """How a dataset column of this type enters a model; None: it cannot (lists, structs...)."""
    if pa.types.is_boolean(data_type):
        return ColumnKind.BOOLEAN
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return ColumnKind.NUMERIC
    if pa.types.is_decimal(data_type):
        return ColumnKind.NUMERIC
    if pa.types.is_timestamp(data_type) or pa.types.is_date(data_type):
        return ColumnKind.DATETIME
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return ColumnKind.CATEGORICAL
    if pa.types.is_dictionary(data_type):
        return ColumnKind.CATEGORICAL
    return None


def feature_columns(schema: pa.Schema, names: Sequence[str]) -> list[Column]:
    columns = []
    for name in names:
        data_type = schema.field(name).type
        kind = column_kind(data_type)
        if kind is None:
            raise InvalidArgument(
                f"feature column {name!r} has type {data_type}, which no model takes: "
                "exclude it (exclude_columns) or derive a number or text from it in the recipe"
            )
        columns.append(Column(name, kind, str(data_type)))
    return columns


def prepare_frame(frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """``frame``'s feature columns, coerced by kind; a missing column is an InvalidArgument."""
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise InvalidArgument(f"the input has no column {', '.join(map(repr, missing))}")
    prepared: dict[str, pd.Series] = {}
    for column in columns:
        values = frame[column.name]
        try:
            prepared[column.name] = _coerce(values, column.kind)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(
                f"column {column.name!r} must hold {column.kind.value} values: {exc}"
            ) from None
    return pd.DataFrame(prepared, index=frame.index)


def _coerce(values: pd.Series, kind: ColumnKind) -> pd.Series:
    if kind is ColumnKind.CATEGORICAL:
        text = values.map(str, na_action="ignore").astype(object)
        return text.where(text.notna(), None)
    if kind is ColumnKind.DATETIME:
        stamps = pd.to_datetime(values, utc=True)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return seconds.astype("float64")
    if kind is ColumnKind.BOOLEAN:
        return values.astype("float64") if values.dtype != object else values.map(_bool_number)
    return pd.to_numeric(values, errors="raise").astype("float64")


def _bool_number(value: object) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return float("nan")
    if isinstance(value, bool | np.bool_ | int | float):
        return float(bool(value))
    raise ValueError(f"{value!r} is not a boolean")


@dataclass(frozen=True)
class PreprocessingChoice:
    numeric_imputation: str | None  # "mean", "median", "most_frequent", "constant", None
    categorical_imputation: str | None
    encoding: str  # "one_hot", "ordinal"
    scaling: str | None  # "standard", "minmax", "robust", None
    max_categories: int


_IMPUTATION = {
    tpb.IMPUTATION_NONE: None,
    tpb.IMPUTATION_MEAN: "mean",
    tpb.IMPUTATION_MEDIAN: "median",
    tpb.IMPUTATION_MOST_FREQUENT: "most_frequent",
    tpb.IMPUTATION_CONSTANT: "constant",
}
_SCALING = {
    tpb.SCALING_NONE: None,
    tpb.SCALING_STANDARD: "standard",
    tpb.SCALING_MINMAX: "minmax",
    tpb.SCALING_ROBUST: "robust",
}


def resolve_choice(
    spec: tpb.Preprocessing,
    *,
    scale_by_default: bool,
    one_hot_by_default: bool,
    handles_missing: bool,
) -> PreprocessingChoice:
    """The request's choices with the algorithm's defaults where it left them unspecified."""
    if spec.numeric_imputation == tpb.IMPUTATION_UNSPECIFIED:
        numeric = None if handles_missing else "median"
    else:
        numeric = _IMPUTATION[spec.numeric_imputation]
    if spec.categorical_imputation in (tpb.IMPUTATION_MEAN, tpb.IMPUTATION_MEDIAN):
        raise InvalidArgument(
            "categorical_imputation cannot be mean or median: use most_frequent or constant"
        )
    categorical: str | None
    if spec.categorical_imputation == tpb.IMPUTATION_UNSPECIFIED:
        categorical = "constant"
    else:
        categorical = _IMPUTATION[spec.categorical_imputation]
    if spec.encoding == tpb.CATEGORICAL_ENCODING_NATIVE:
        raise InvalidArgument(
            "categorical encoding NATIVE is not supported yet: use ONE_HOT or ORDINAL"
        )
    if spec.encoding == tpb.CATEGORICAL_ENCODING_UNSPECIFIED:
        encoding = "one_hot" if one_hot_by_default else "ordinal"
    else:
        encoding = "one_hot" if spec.encoding == tpb.CATEGORICAL_ENCODING_ONE_HOT else "ordinal"
    if spec.scaling == tpb.SCALING_UNSPECIFIED:
        scaling = "standard" if scale_by_default else None
    else:
        scaling = _SCALING[spec.scaling]
    if spec.max_categories < 0 or spec.max_categories == 1:
        raise InvalidArgument("max_categories must be 0 (default 50) or at least 2")
    return PreprocessingChoice(
        numeric_imputation=numeric,
        categorical_imputation=categorical,
        encoding=encoding,
        scaling=scaling,
        max_categories=spec.max_categories or DEFAULT_MAX_CATEGORIES,
    )


def build_preprocessor(columns: Sequence[Column], choice: PreprocessingChoice) -> ColumnTransformer:
    numeric = [c.name for c in columns if c.kind is not ColumnKind.CATEGORICAL]
    categorical = [c.name for c in columns if c.kind is ColumnKind.CATEGORICAL]
    transformers: list[tuple[str, Pipeline, list[str]]] = []
    if numeric:
        steps: list[tuple[str, object]] = []
        if choice.numeric_imputation is not None:
            steps.append(
                ("impute", SimpleImputer(strategy=choice.numeric_imputation, fill_value=0.0))
            )
        scaler = _scaler(choice.scaling)
        if scaler is not None:
            steps.append(("scale", scaler))
        if not steps:
            steps.append(("keep", "passthrough"))
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        steps = []
        if choice.categorical_imputation is not None:
            steps.append(
                (
                    "impute",
                    SimpleImputer(
                        strategy=choice.categorical_imputation,
                        fill_value=MISSING_CATEGORY,
                        missing_values=None,
                    ),
                )
            )
        if choice.encoding == "one_hot":
            encoder: object = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=choice.max_categories,
                sparse_output=False,
                dtype=np.float32,
            )
        else:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                encoded_missing_value=-1,
                dtype=np.float32,
            )
        steps.append(("encode", encoder))
        transformers.append(("categorical", Pipeline(steps), categorical))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def _scaler(scaling: str | None) -> object | None:
    return {
        None: None,
        "standard": StandardScaler(),
        "minmax": MinMaxScaler(),
        "robust": RobustScaler(),
    }[scaling]


def transformed(preprocessor: ColumnTransformer, frame: pd.DataFrame) -> np.ndarray:
    return np.ascontiguousarray(preprocessor.transform(frame), dtype=np.float32)


def output_feature_names(preprocessor: ColumnTransformer) -> list[str]:
    return [str(name) for name in preprocessor.get_feature_names_out()]


def kinds_by_name(columns: Sequence[Column]) -> Mapping[str, ColumnKind]:
    return {c.name: c.kind for c in columns}
