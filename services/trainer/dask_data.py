"""A train job on a Dask cluster: the Dask workers read the dataset version's Parquet parts
themselves, transform and hold their partitions, and xgboost trains on them there
(``xgboost.dask``), so no split is ever loaded whole in the trainer and AIMASS_TRAINER_MAX_ROWS
does not apply.

What the trainer process itself holds: the first ``SAMPLE_ROWS`` training rows (read with
pyarrow, to fit the preprocessing), the distinct values of the target column (computed on the
cluster, for the classes), the booster, and for each evaluated split its predictions,
probabilities and encoded targets (one or a few numbers per row).

The workers read the parts straight from the artifact store, nothing is downloaded: s3:// URIs
opened with the store's fsspec options (endpoint and any credentials, which therefore travel in
the task graph to the scheduler and workers), or on a file:// store the store's own files by their
absolute path (a LocalCluster on the trainer's host, or a store on a file system the workers
share). The workers must import ``services.trainer`` (run the trainer's image) to transform the
partitions with the fitted preprocessor.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
from fsspec.implementations.local import LocalFileSystem
from pyarrow.fs import FSSpecHandler, PyFileSystem

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.data import sample_weights
from services.trainer.library.base import Progress, Task
from services.trainer.library.eval_artifacts import task_artifacts
from services.trainer.library.eval_metrics import Outputs, compute, validate_metrics
from services.trainer.library.evaluation import Evaluation
from services.trainer.library.model import FittedModel, ModelSpec, _classes
from services.trainer.library.preprocessing import (
    Column,
    build_preprocessor,
    feature_columns,
    output_feature_names,
    prepare_frame,
)
from services.trainer.library.xgboost_algorithms import GbdtLearner
from services.trainer.library.xgboost_dask import connect, predict_on_client
from services.trainer.specs import SPLIT_COLUMN

# The preprocessing (category codes, and any imputation or scaling asked for) is fitted on at
# most this many training rows, the first ones of the parts.
SAMPLE_ROWS = 100_000


@dataclass
class ClusterRows:
    """One split's rows on the cluster, block by block as the workers read the parts."""

    x: da.Array  # float32 features, as the preprocessor makes them
    y: da.Array  # class indices (int64) or values (float64)
    weight: da.Array | None


@dataclass(frozen=True)
class PartitionEncoder:
    """What each worker applies to its partitions: the fitted preprocessing and the classes
    (a model without a learner), and the weight column."""

    model: FittedModel
    weight_column: str = ""

    @property
    def width(self) -> int:
        return len(self.model.feature_names)

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if len(frame) == 0:
            empty_y = np.empty(0, np.int64 if self.model.spec.task.classifies else np.float64)
            empty_weight = np.empty(0, np.float64) if self.weight_column else None
            return np.empty((0, self.width), np.float32), empty_y, empty_weight
        x = self.model.matrix(frame)
        y = self.model.encode_target(frame[self.model.spec.target])
        weight = sample_weights(frame[self.weight_column]) if self.weight_column else None
        return x, y, weight


def _encode_partition(
    frame: pd.DataFrame, encoder: PartitionEncoder
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    return encoder.encode(frame)


class DaskJob:
    """The dataset version's parts (paths or URLs the workers can open too, with
    ``storage_options``: fsspec's, for s3:// say) and a client of the cluster; ``fit`` then
    ``evaluate`` each held-out split."""

    def __init__(
        self,
        client: Any,
        paths: Sequence[str],
        data: tpb.DataSpec,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not paths:
            raise FailedPrecondition("the dataset version has no Parquet parts")
        self.client, self.paths, self.data = client, list(paths), data
        self.storage_options = dict(storage_options or {})
        self.dataset = _arrow_dataset(self.paths, self.storage_options)
        self.columns: list[Column] = feature_columns(
            self.dataset.schema, list(data.feature_columns)
        )
        self._encoder: PartitionEncoder | None = None
        self._rows: dict[str, ClusterRows] = {}

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        address: str,
        paths: Sequence[str],
        data: tpb.DataSpec,
        storage_options: Mapping[str, Any] | None = None,
    ) -> Iterator[DaskJob]:
        with connect(address) as client:
            yield cls(client, paths, data, storage_options)

    # -- fitting -------------------------------------------------------------------------------

    def fit(self, spec: ModelSpec, progress: Progress | None) -> FittedModel:
        if not spec.task.supervised or spec.sequence is not None:
            raise InvalidArgument(f"{spec.task.value} does not train on a Dask cluster")
        learner = spec.algorithm.build(spec.task, spec.params, spec.options)
        if not isinstance(learner, GbdtLearner):
            raise InvalidArgument(f"algorithm {spec.algorithm.name!r} cannot train on Dask")
        sample = self._sample(self.data.train_split)
        if sample.empty:
            raise InvalidArgument("no training rows: the training split is empty")
        preprocessor = build_preprocessor(spec.columns, spec.preprocessing)
        preprocessor.fit(prepare_frame(sample, spec.columns))
        classes = self._classes(self.data.train_split) if spec.task.classifies else []
        model = FittedModel(spec, preprocessor, None, classes, output_feature_names(preprocessor))  # type: ignore[arg-type]
        self._encoder = PartitionEncoder(dataclasses.replace(model), self.data.weight_column)
        train = self.rows(self.data.train_split)
        validation = None
        if self.data.validation_split:
            held_out = self.rows(self.data.validation_split)
            validation = (held_out.x, held_out.y)
        learner.fit_on_dask(
            self.client,
            train.x,
            train.y,
            num_class=len(classes),
            sample_weight=train.weight,
            validation=validation,
            progress=progress,
        )
        model.learner = learner
        return model

    def _sample(self, split: str) -> pd.DataFrame:
        table = self.dataset.head(
            SAMPLE_ROWS, columns=list(self.data.feature_columns), filter=_where(split)
        )
        return table.to_pandas(types_mapper=None, date_as_object=False)

    def _classes(self, split: str) -> list[Any]:
        target = self._frame(split, [self.data.target_column])[self.data.target_column]
        # A tree reduction: the distinct values are few (classes), the rows many.
        distinct, missing = self.client.compute(
            [target.unique(split_out=1), target.isna().sum()], sync=True
        )
        if missing:
            raise InvalidArgument(
                f"the target column has {int(missing)} missing values: drop or fill them in the "
                "dataset's recipe"
            )
        return _classes(pd.Series(distinct.tolist(), dtype=object))

    def rows(self, split: str) -> ClusterRows:
        """``split``'s rows (all rows for ""), read, transformed and kept by the workers."""
        if split not in self._rows:
            self._rows[split] = self._read(split)
        return self._rows[split]

    def _read(self, split: str) -> ClusterRows:
        encoder = self._encoder
        if encoder is None:
            raise FailedPrecondition("the preprocessing is not fitted yet")
        names = [*self.data.feature_columns, self.data.target_column, self.data.weight_column]
        frame = self._frame(split, list(dict.fromkeys(n for n in names if n)))
        # One key for the encoder, shared by the partitions' tasks.
        shared = dask.delayed(encoder, traverse=False)
        pieces = [
            dask.delayed(_encode_partition, nout=3, pure=True)(part, shared)
            for part in frame.to_delayed()
        ]
        y_type = np.int64 if encoder.model.spec.task.classifies else np.float64
        arrays = [
            _blocks([p[0] for p in pieces], (np.nan, encoder.width), np.float32),
            _blocks([p[1] for p in pieces], (np.nan,), y_type),
        ]
        if encoder.weight_column:
            arrays.append(_blocks([p[2] for p in pieces], (np.nan,), np.float64))
        # Read and transformed once; the workers keep their blocks for the rounds to come.
        kept = self.client.persist(arrays)
        return ClusterRows(kept[0], kept[1], kept[2] if encoder.weight_column else None)

    def _frame(self, split: str, columns: list[str]) -> dd.DataFrame:
        filters = [(SPLIT_COLUMN, "==", split)] if split else None
        # The storage options go into the task graph: each worker opens the parts itself.
        return dd.read_parquet(
            self.paths, columns=columns, filters=filters, storage_options=self.storage_options
        )

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate(self, model: FittedModel, split: str, metrics: Sequence[str]) -> Evaluation:
        """As ``evaluation.evaluate`` on ``split``'s rows: the booster predicts on the workers;
        only the predictions (and probabilities) and the targets come back."""
        names = validate_metrics(model.spec.task, metrics)
        learner = model.learner
        assert isinstance(learner, GbdtLearner) and learner.booster is not None
        rows = self.rows(split)
        raw = predict_on_client(self.client, learner.booster, rows.x)
        raw_values, y = self.client.compute([raw, rows.y], sync=True)
        if len(y) == 0:
            raise InvalidArgument("no rows to evaluate on: the evaluation split is empty")
        predicted, proba = _predictions(model.spec.task, np.asarray(raw_values, np.float64))
        # The features stay on the cluster: no artifact of these tasks needs them (xgboost has
        # its own feature importance).
        outputs = Outputs(
            model.spec.task,
            np.empty((len(y), 0), np.float32),
            np.asarray(y),
            predicted,
            proba,
            len(model.classes),
            model.spec.options.seed,
        )
        values, warnings = compute(outputs, names)
        result = Evaluation(values, warnings=warnings, rows=len(y))
        result.artifacts = task_artifacts(model, outputs, result.warnings)
        return result


def _predictions(task: Task, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """As ``GbdtLearner.predict``/``predict_proba`` make them of the booster's raw output."""
    if task is not Task.CLASSIFICATION:
        return raw.ravel(), None
    proba = np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
    proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
    return proba.argmax(axis=1).astype(np.int64), proba


def _arrow_dataset(paths: list[str], storage_options: dict[str, Any]) -> ds.Dataset:
    """The parts as one pyarrow dataset, for the trainer's own reads (schema, the sample)."""
    fs, _, stripped = fsspec.core.get_fs_token_paths(paths, storage_options=storage_options)
    if isinstance(fs, LocalFileSystem):
        return ds.dataset(stripped, format="parquet")
    return ds.dataset(stripped, format="parquet", filesystem=PyFileSystem(FSSpecHandler(fs)))


def _where(split: str) -> pc.Expression | None:
    return pc.field(SPLIT_COLUMN) == split if split else None


def _blocks(pieces: list[Any], shape: tuple[float, ...], dtype: Any) -> da.Array:
    """One dask array of the partitions' pieces (their lengths known only once read)."""
    return da.concatenate([da.from_delayed(p, shape=shape, dtype=dtype) for p in pieces])
