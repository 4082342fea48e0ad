"""The fitted preprocessor as plain numpy: the same matrix as the scikit-learn ColumnTransformer
from a model's raw columns, without a DataFrame or the transformer's per-call checks.

A single-row prediction through ``ColumnTransformer.transform`` costs milliseconds of pandas and
validation for microseconds of arithmetic; serving needs the arithmetic only.
``compile_preprocessor`` reads the fitted parameters (imputation statistics, scaler offsets and
factors, encoder categories) once. It covers what ``preprocessing.build_preprocessor`` builds;
anything else, or a fitted state it cannot reproduce exactly (a column the imputer dropped, say),
gives None and the caller keeps the scikit-learn path. Tests hold both paths to the same output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
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

from services.common.errors import InvalidArgument
from services.trainer.library.preprocessing import Column, ColumnKind

UNKNOWN_CODE = -1.0  # OrdinalEncoder's unknown_value and encoded_missing_value


@dataclass(frozen=True)
class _NumericBlock:
    columns: tuple[Column, ...]
    fill: np.ndarray | None  # per column; None: no imputation
    # x' = (x - offset) / divisor, or x' = x * factor + offset (MinMaxScaler's order)
    offset: np.ndarray | None
    divisor: np.ndarray | None
    factor: np.ndarray | None

    def transform(self, values: Sequence[np.ndarray], rows: int) -> np.ndarray:
        x = np.empty((rows, len(self.columns)), dtype=np.float64)
        for index, (column, array) in enumerate(zip(self.columns, values, strict=True)):
            x[:, index] = _numbers(column, array)
        if self.fill is not None:
            missing = np.isnan(x)
            if missing.any():
                x = np.where(missing, self.fill, x)
        if self.factor is not None:
            x *= self.factor
            if self.offset is not None:
                x += self.offset
        else:
            if self.offset is not None:
                x -= self.offset
            if self.divisor is not None:
                x /= self.divisor
        return x


@dataclass(frozen=True)
class _CategoricalBlock:
    columns: tuple[Column, ...]
    fill: tuple[str, ...] | None  # per column; None: no imputation
    codes: tuple[Mapping[str, int], ...]  # category -> ordinal code or one-hot position
    one_hot: bool
    widths: tuple[int, ...]  # one-hot: columns per feature
    other: tuple[int | None, ...]  # one-hot: position of the infrequent column, if any

    def transform(self, values: Sequence[np.ndarray], rows: int) -> np.ndarray:
        width = sum(self.widths) if self.one_hot else len(self.columns)
        out = np.zeros((rows, width), dtype=np.float64)
        start = 0
        for index, array in enumerate(values):
            codes = self.codes[index]
            fill = None if self.fill is None else self.fill[index]
            texts = [_text(value, fill) for value in array.reshape(-1)]
            if not self.one_hot:
                out[:, index] = [
                    UNKNOWN_CODE if text is None else codes.get(text, UNKNOWN_CODE)
                    for text in texts
                ]
                continue
            other = self.other[index]
            for row, text in enumerate(texts):
                position = other if text is None else codes.get(text, other)
                if position is not None:
                    out[row, start + position] = 1.0
            start += self.widths[index]
        return out


@dataclass(frozen=True)
class CompiledPreprocessor:
    numeric: _NumericBlock | None
    categorical: _CategoricalBlock | None
    names: tuple[str, ...]  # every input column the model takes

    def transform(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The learner's float32 matrix from one 1-D array per input column (all the same
        length). Numbers, booleans and timestamps as numbers (NaN: missing); categories as text,
        None for missing. InvalidArgument names a missing column or a value of the wrong kind."""
        absent = [name for name in self.names if name not in columns]
        if absent:
            raise InvalidArgument(f"the input has no column {', '.join(map(repr, absent))}")
        rows = {len(np.asarray(columns[name]).reshape(-1)) for name in self.names}
        if len(rows) > 1:
            raise InvalidArgument(f"the input columns have different lengths: {sorted(rows)}")
        count = rows.pop() if rows else 0
        blocks = []
        if self.numeric is not None:
            arrays = [np.asarray(columns[c.name]).reshape(-1) for c in self.numeric.columns]
            blocks.append(self.numeric.transform(arrays, count))
        if self.categorical is not None:
            arrays = [np.asarray(columns[c.name]).reshape(-1) for c in self.categorical.columns]
            blocks.append(self.categorical.transform(arrays, count))
        matrix = blocks[0] if len(blocks) == 1 else np.hstack(blocks)
        return np.ascontiguousarray(matrix, dtype=np.float32)


def compile_preprocessor(
    preprocessor: ColumnTransformer, columns: Sequence[Column]
) -> CompiledPreprocessor | None:
    """The numpy form of a fitted ``build_preprocessor`` result, or None when it holds something
    this module does not reproduce exactly."""
    by_name = {c.name: c for c in columns}
    numeric = categorical = None
    for name, pipeline, names in preprocessor.transformers_:
        if name == "remainder":
            if pipeline != "drop" and list(names):
                return None
            continue
        if not isinstance(pipeline, Pipeline) or any(n not in by_name for n in names):
            return None
        block_columns = tuple(by_name[n] for n in names)
        if name == "numeric" and numeric is None:
            numeric = _numeric_block(pipeline, block_columns)
            if numeric is None:
                return None
        elif name == "categorical" and categorical is None:
            categorical = _categorical_block(pipeline, block_columns)
            if categorical is None:
                return None
        else:
            return None
    if numeric is None and categorical is None:
        return None
    names = tuple(c.name for block in (numeric, categorical) if block for c in block.columns)
    return CompiledPreprocessor(numeric, categorical, names)


def _numeric_block(pipeline: Pipeline, columns: tuple[Column, ...]) -> _NumericBlock | None:
    fill = offset = divisor = factor = None
    for _, step in pipeline.steps:
        if step == "passthrough":
            continue
        if isinstance(step, SimpleImputer):
            statistics = np.asarray(step.statistics_, dtype=np.float64)
            if np.isnan(statistics).any() or not _is_nan(step.missing_values):
                return None  # the imputer dropped an all-missing column: keep sklearn's path
            fill = statistics
        elif isinstance(step, StandardScaler):
            offset = None if step.mean_ is None else np.asarray(step.mean_, dtype=np.float64)
            divisor = None if step.scale_ is None else np.asarray(step.scale_, dtype=np.float64)
        elif isinstance(step, RobustScaler):
            offset = None if step.center_ is None else np.asarray(step.center_, dtype=np.float64)
            divisor = None if step.scale_ is None else np.asarray(step.scale_, dtype=np.float64)
        elif isinstance(step, MinMaxScaler):
            if step.clip:
                return None
            factor = np.asarray(step.scale_, dtype=np.float64)
            offset = np.asarray(step.min_, dtype=np.float64)
        else:
            return None
    return _NumericBlock(columns, fill, offset, divisor, factor)


def _categorical_block(pipeline: Pipeline, columns: tuple[Column, ...]) -> _CategoricalBlock | None:
    fill: tuple[str, ...] | None = None
    for _, step in pipeline.steps:
        if isinstance(step, SimpleImputer):
            if step.missing_values is not None:
                return None
            statistics = list(step.statistics_)
            if any(not isinstance(value, str) for value in statistics):
                return None
            fill = tuple(statistics)
        elif isinstance(step, OrdinalEncoder):
            if step.unknown_value != UNKNOWN_CODE or step.encoded_missing_value != UNKNOWN_CODE:
                return None
            categories = _string_categories(step.categories_)
            if categories is None:
                return None
            codes = tuple({c: i for i, c in enumerate(cats)} for cats in categories)
            return _CategoricalBlock(
                columns, fill, codes, False, (1,) * len(columns), (None,) * len(columns)
            )
        elif isinstance(step, OneHotEncoder):
            return _one_hot_block(step, columns, fill)
        else:
            return None
    return None


def _one_hot_block(
    encoder: OneHotEncoder, columns: tuple[Column, ...], fill: tuple[str, ...] | None
) -> _CategoricalBlock | None:
    if encoder.drop is not None or encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        return None
    categories = _string_categories(encoder.categories_)
    if categories is None:
        return None
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * len(categories)
    codes: list[dict[str, int]] = []
    widths: list[int] = []
    others: list[int | None] = []
    for cats, rare in zip(categories, infrequent, strict=True):
        rare_set = set() if rare is None else {str(c) for c in rare}
        frequent = [c for c in cats if c not in rare_set]
        mapping = {c: i for i, c in enumerate(frequent)}
        other = len(frequent) if rare_set else None
        if other is not None:
            mapping.update(dict.fromkeys(rare_set, other))
        codes.append(mapping)
        widths.append(len(frequent) + (1 if rare_set else 0))
        others.append(other)
    if sum(widths) != len(encoder.get_feature_names_out()):
        return None
    return _CategoricalBlock(columns, fill, tuple(codes), True, tuple(widths), tuple(others))


def _string_categories(categories: Sequence[np.ndarray]) -> list[list[str]] | None:
    result = []
    for cats in categories:
        values = list(cats)
        if any(not isinstance(value, str) for value in values):
            return None  # a missing value among the categories: sklearn's path handles it
        result.append(values)
    return result


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _numbers(column: Column, array: np.ndarray) -> np.ndarray:
    try:
        if column.kind is ColumnKind.DATETIME:
            if np.issubdtype(array.dtype, np.number):
                return array.astype(np.float64, copy=False)
            stamps = pd.to_datetime(pd.Series(array), utc=True)
            return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        if array.dtype == object:
            return np.array([np.nan if v is None else v for v in array], dtype=np.float64)
        return array.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            f"column {column.name!r} must hold {column.kind.value} values: {exc}"
        ) from None


def _text(value: object, fill: str | None) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return fill
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
