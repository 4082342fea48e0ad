"""A dataset version's rows as a job trains on them: downloaded once from the store into the job's
work folder, read with only the columns the job uses, cut into its splits, in time order when the
job names a time column. A job on a Dask cluster downloads nothing: ``store_parts`` names the parts
where the store keeps them, for the cluster's workers to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.store import ArtifactStore
from services.trainer.library.model import TrainingData
from services.trainer.library.preprocessing import Column, feature_columns
from services.trainer.specs import SPLIT_COLUMN


@dataclass
class JobData:
    columns: list[Column]
    train: TrainingData
    validation: TrainingData | None
    test: TrainingData | None
    groups: np.ndarray | None  # per training row, for group cross-validation


@dataclass(frozen=True)
class StoreParts:
    """A dataset version's Parquet parts where the store keeps them: what fsspec opens (local
    paths on a file:// store, s3:// URIs on an S3 one), with the store's fsspec options."""

    urls: list[str]
    storage_options: dict[str, Any] = field(default_factory=dict)


async def download(store: ArtifactStore, version: rpb.DatasetVersion, local_dir: Path) -> Path:
    local_dir.mkdir(parents=True, exist_ok=True)
    names = await store.get_tree(store.key_for(version.uri), local_dir)
    if not any(name.endswith(".parquet") for name in names):
        raise _no_parts(version)
    return local_dir


async def store_parts(store: ArtifactStore, version: rpb.DatasetVersion) -> StoreParts:
    """The version's parts in the store, in a stable order (as ``part_paths`` of a download)."""
    keys = await store.list_keys(store.key_for(version.uri))
    urls = [store.fsspec_url(key) for key in keys if key.endswith(".parquet")]
    if not urls:
        raise _no_parts(version)
    return StoreParts(urls, store.storage_options)


def _no_parts(version: rpb.DatasetVersion) -> FailedPrecondition:
    return FailedPrecondition(
        f"dataset version {version.dataset}@{version.version} has no Parquet parts in the "
        "store: it was deleted or garbage-collected"
    )


def load(local_dir: Path, data: tpb.DataSpec, sequence: tpb.SequenceSpec, max_rows: int) -> JobData:
    """The job's rows (blocking: call from a worker thread)."""
    dataset = ds.dataset(part_paths(local_dir), format="parquet")
    schema = dataset.schema
    roles = [data.target_column, data.weight_column, data.group_column, data.time_column]
    wanted = [*data.feature_columns, *roles, sequence.series_id_column]
    names = list(dict.fromkeys(n for n in wanted if n))
    has_split = SPLIT_COLUMN in schema.names
    columns = feature_columns(schema, list(data.feature_columns))
    # Sequence windows need each series' rows together, in time order.
    order = [n for n in (sequence.series_id_column, data.time_column) if n]

    def rows_of(split: str) -> pd.DataFrame | None:
        if not split:
            return None
        if not has_split:
            raise FailedPrecondition("the dataset version holds no split column")
        return _read(dataset, names, pc.field(SPLIT_COLUMN) == split, order, max_rows)

    if data.train_split:
        train_frame = rows_of(data.train_split)
    else:
        train_frame = _read(dataset, names, None, order, max_rows)
    assert train_frame is not None
    validation = rows_of(data.validation_split)
    test = rows_of(data.test_split)
    groups = None
    if data.group_column:
        groups = train_frame[data.group_column].to_numpy()
    return JobData(
        columns=columns,
        train=_training_data(train_frame, data, sequence),
        validation=None if validation is None else _training_data(validation, data, sequence),
        test=None if test is None else _training_data(test, data, sequence),
        groups=groups,
    )


def _read(
    dataset: ds.Dataset,
    names: list[str],
    where: pc.Expression | None,
    order: list[str],
    max_rows: int,
) -> pd.DataFrame:
    rows = dataset.count_rows(filter=where)
    if rows > max_rows:
        raise FailedPrecondition(
            f"the split holds {rows:,} rows; one trainer worker loads at most {max_rows:,} "
            "(AIMASS_TRAINER_MAX_ROWS): sample the dataset in its recipe, or train xgboost on a "
            "Dask cluster (resources.dask_scheduler_address)"
        )
    table: pa.Table = dataset.to_table(columns=names, filter=where)
    frame = table.to_pandas(types_mapper=None, date_as_object=False)
    for name in order:
        if frame[name].isna().any():
            raise InvalidArgument(
                f"column {name!r} orders the rows but has missing values: drop or fill them in "
                "the dataset's recipe"
            )
    if order:
        frame = frame.sort_values(order, kind="stable", ignore_index=True)
    return frame


def _training_data(
    frame: pd.DataFrame, data: tpb.DataSpec, sequence: tpb.SequenceSpec
) -> TrainingData:
    weight = None
    if data.weight_column:
        weight = sample_weights(frame[data.weight_column])
    return TrainingData(
        features=frame[list(data.feature_columns)],
        target=frame[data.target_column] if data.target_column else None,
        sample_weight=weight,
        series=frame[sequence.series_id_column] if sequence.series_id_column else None,
    )


def sample_weights(values: pd.Series) -> np.ndarray:
    """A weight column's values as float64; InvalidArgument unless all finite and >= 0."""
    weight = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise InvalidArgument(
            f"weight column {values.name!r} must hold finite, non-negative numbers"
        )
    return weight


def part_paths(local_dir: Path) -> list[str]:
    """The dataset version's Parquet parts under ``local_dir``, in a stable order."""
    return sorted(str(p) for p in local_dir.rglob("*.parquet"))
