"""What a Submit asks for, checked before any work starts and resolved to what the job runs:
the algorithm and its hyperparameters with defaults filled in, the dataset version, the columns
and splits, the metrics, the seed. Every refusal is an InvalidArgument (or NotFound for a dataset
version the project cannot see) that says what to fix.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from aimass.common.v1 import common_pb2 as cpb
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.common.validation import (
    MAX_DESCRIPTION,
    MAX_TAG_VALUE,
    validate_mapping,
    validate_name,
    validate_text,
)
from services.trainer.library import evaluation, tuning
from services.trainer.library.base import FORMAT_OF_PROTO, AlgorithmInfo, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.params import from_param_value, params_from_proto, to_param_value
from services.trainer.library.preprocessing import ColumnKind, resolve_choice

SPLIT_COLUMN = "_split"  # written by ingest: the split each row belongs to
DEFAULT_SPLITS = {"train": "train", "validation": "validation", "test": "test"}
MAX_PARALLEL_TRIALS = 32

_NUMERIC = {
    cpb.DATA_TYPE_INT8,
    cpb.DATA_TYPE_INT16,
    cpb.DATA_TYPE_INT32,
    cpb.DATA_TYPE_INT64,
    cpb.DATA_TYPE_UINT8,
    cpb.DATA_TYPE_UINT16,
    cpb.DATA_TYPE_UINT32,
    cpb.DATA_TYPE_UINT64,
    cpb.DATA_TYPE_FP16,
    cpb.DATA_TYPE_FP32,
    cpb.DATA_TYPE_FP64,
    cpb.DATA_TYPE_DECIMAL,
}
_FLOAT = {cpb.DATA_TYPE_FP16, cpb.DATA_TYPE_FP32, cpb.DATA_TYPE_FP64, cpb.DATA_TYPE_DECIMAL}
_KIND_OF_TYPE = {
    **dict.fromkeys(_NUMERIC, ColumnKind.NUMERIC),
    cpb.DATA_TYPE_BOOL: ColumnKind.BOOLEAN,
    cpb.DATA_TYPE_DATE: ColumnKind.DATETIME,
    cpb.DATA_TYPE_TIMESTAMP: ColumnKind.DATETIME,
    cpb.DATA_TYPE_STRING: ColumnKind.CATEGORICAL,
}


@dataclass
class ResolvedTrain:
    spec: tpb.TrainSpec  # defaults filled in, dataset resolved, seed chosen
    algorithm: AlgorithmInfo
    task: Task
    dataset_version: rpb.DatasetVersion
    train_rows: int


@dataclass
class ResolvedJob:
    request: tpb.SubmitRequest  # the resolved request, as Submit answers it
    train: ResolvedTrain

    @property
    def kind(self) -> str:
        return "tune" if self.request.HasField("tune") else "train"


def type_name(field: cpb.Field) -> str:
    return cpb.DataType.Name(field.type).removeprefix("DATA_TYPE_").lower()


def resolve_train(
    spec: tpb.TrainSpec, version: rpb.DatasetVersion, *, what: str = "train"
) -> ResolvedTrain:
    """``spec`` checked against the algorithm library and ``version``'s schema and splits."""
    resolved = tpb.TrainSpec()
    resolved.CopyFrom(spec)
    if not spec.algorithm:
        raise InvalidArgument(f"{what}.algorithm is required: call ListAlgorithms for the names")
    algorithm = get_algorithm(spec.algorithm)
    task = Task.from_proto(spec.task)
    algorithm.check_task(task)
    params = algorithm.resolve_params(params_from_proto(spec.params))
    resolved.params.clear()
    for name, value in params.items():
        resolved.params[name].CopyFrom(to_param_value(value))
    resolve_choice(
        spec.preprocessing,
        scale_by_default=algorithm.scale_by_default,
        one_hot_by_default=algorithm.one_hot_by_default,
        handles_missing=algorithm.handles_missing,
    )
    _resolve_data(resolved.data, version, algorithm, task)
    train_rows = _split_rows(version, resolved.data.train_split)
    if train_rows == 0:
        raise InvalidArgument(
            f"dataset version {version.dataset}@{version.version} has no rows in the training "
            f"split {resolved.data.train_split or '(all rows)'!r}"
        )
    resolved.metrics[:] = evaluation.validate_metrics(task, list(spec.metrics))
    if spec.HasField("cv"):
        if task.sequential and spec.cv.method not in (
            tpb.CV_METHOD_UNSPECIFIED,
            tpb.CV_METHOD_TIME_SERIES,
        ):
            raise InvalidArgument(
                f"{task.value} takes only time-series cross-validation: set cv.method TIME_SERIES"
            )
        if spec.cv.method == tpb.CV_METHOD_GROUP_KFOLD and not resolved.data.group_column:
            raise InvalidArgument("group cross-validation needs data.group_column")
        evaluation.check_folds(spec.cv, task, train_rows)
    _resolve_sequence(resolved, task, version)
    if resolved.seed == 0:
        resolved.seed = secrets.randbits(31) + 1
    _resolve_output(resolved.output, algorithm)
    _resolve_resources(resolved.resources, algorithm)
    return ResolvedTrain(resolved, algorithm, task, version, train_rows)


def _resolve_data(
    data: tpb.DataSpec, version: rpb.DatasetVersion, algorithm: AlgorithmInfo, task: Task
) -> None:
    data.dataset_version_id = version.id
    data.dataset, data.version = version.dataset, version.version
    fields = {f.name: f for f in version.schema.fields if f.name != SPLIT_COLUMN}
    label = f"dataset version {version.dataset}@{version.version}"

    def field_of(name: str, what: str) -> cpb.Field:
        if name not in fields:
            shown = ", ".join(sorted(fields)[:30])
            raise InvalidArgument(f"{what} {name!r} is not a column of {label}; it has: {shown}")
        return fields[name]

    if task.supervised:
        if not data.target_column:
            raise InvalidArgument(f"{task.value} needs data.target_column")
        _check_target(field_of(data.target_column, "target column"), task)
    elif data.target_column:
        raise InvalidArgument(f"{task.value} takes no target column: leave target_column empty")
    roles = {
        "weight_column": data.weight_column,
        "group_column": data.group_column,
        "time_column": data.time_column,
    }
    for role, name in roles.items():
        if name:
            field_of(name, role.replace("_", " "))
    if data.weight_column:
        if not algorithm.supports_sample_weight:
            raise InvalidArgument(
                f"algorithm {algorithm.name!r} takes no sample weights: drop data.weight_column"
            )
        if fields[data.weight_column].type not in _NUMERIC:
            raise InvalidArgument(f"weight column {data.weight_column!r} must hold numbers")
    for name in data.exclude_columns:
        field_of(name, "excluded column")
    features = list(data.feature_columns)
    if not features:
        reserved = {data.target_column, *roles.values()} - {""}
        if task is Task.FORECASTING:
            reserved.discard(data.target_column)  # past values of the series are features
        features = [n for n in fields if n not in reserved and n not in set(data.exclude_columns)]
    if len(set(features)) != len(features):
        raise InvalidArgument("data.feature_columns names a column twice")
    for name in features:
        field = field_of(name, "feature column")
        if field.type not in _KIND_OF_TYPE:
            raise InvalidArgument(
                f"feature column {name!r} has type {type_name(field)}, which no model takes: "
                "exclude it (data.exclude_columns)"
            )
        if name == data.target_column and task is not Task.FORECASTING:
            raise InvalidArgument(f"the target column {name!r} cannot also be a feature")
    if not features:
        raise InvalidArgument(f"no feature columns are left in {label}")
    data.feature_columns[:] = features
    splits = dict(version.split_rows)
    for role, default in DEFAULT_SPLITS.items():
        attribute = f"{role}_split"
        chosen = getattr(data, attribute)
        if chosen:
            if chosen not in splits:
                known = ", ".join(sorted(splits)) or "none: the version is not split"
                raise InvalidArgument(
                    f"data.{attribute} {chosen!r} is not a split of {label}; its splits: {known}"
                )
        elif default in splits:
            setattr(data, attribute, default)
    if data.validation_split and data.validation_split == data.train_split:
        raise InvalidArgument("data.validation_split must differ from data.train_split")


def _check_target(field: cpb.Field, task: Task) -> None:
    name = field.name
    if task.classifies:
        if field.type in _FLOAT:
            raise InvalidArgument(
                f"target column {name!r} holds {type_name(field)} numbers; classification needs "
                "labels (integers, booleans or text): cast it in the dataset's recipe, or use "
                "regression"
            )
        if field.type not in _KIND_OF_TYPE or field.type in (
            cpb.DATA_TYPE_DATE,
            cpb.DATA_TYPE_TIMESTAMP,
        ):
            raise InvalidArgument(
                f"target column {name!r} has type {type_name(field)}; classification needs "
                "integers, booleans or text"
            )
    elif field.type not in _NUMERIC:
        raise InvalidArgument(
            f"target column {name!r} has type {type_name(field)}; {task.value} needs numbers"
        )


def _split_rows(version: rpb.DatasetVersion, split: str) -> int:
    return int(version.split_rows[split]) if split else int(version.row_count)


def _resolve_sequence(spec: tpb.TrainSpec, task: Task, version: rpb.DatasetVersion) -> None:
    if not task.sequential:
        if spec.HasField("sequence"):
            raise InvalidArgument(f"{task.value} takes no sequence settings: drop `sequence`")
        return
    sequence = spec.sequence
    if sequence.window < 1:
        raise InvalidArgument(f"{task.value} needs sequence.window >= 1 (past steps per window)")
    if task is Task.FORECASTING and sequence.horizon < 1:
        sequence.horizon = 1
    if task is Task.SEQUENCE_CLASSIFICATION and sequence.horizon > 1:
        raise InvalidArgument("sequence classification takes no horizon: leave it 0")
    if sequence.stride < 0:
        raise InvalidArgument("sequence.stride must be >= 1 (0: 1)")
    sequence.stride = sequence.stride or 1
    names = {f.name for f in version.schema.fields}
    if sequence.series_id_column and sequence.series_id_column not in names:
        raise InvalidArgument(
            f"sequence.series_id_column {sequence.series_id_column!r} is not a column of the "
            "dataset version"
        )
    if sequence.series_id_column:
        spec.data.feature_columns[:] = [
            c for c in spec.data.feature_columns if c != sequence.series_id_column
        ]


def _resolve_output(output: tpb.ModelOutput, algorithm: AlgorithmInfo) -> None:
    if output.model:
        validate_name(output.model, "output.model")
    validate_text(output.description, "output.description", MAX_DESCRIPTION)
    validate_mapping(output.tags, "output tag", MAX_TAG_VALUE)
    for alias in output.aliases:
        validate_name(alias, "output alias")
        if alias.lower() == "latest":
            raise InvalidArgument("alias 'latest' is reserved: the newest version is always latest")
    if output.format != tpb.MODEL_FORMAT_UNSPECIFIED:
        chosen = FORMAT_OF_PROTO.get(output.format)
        if chosen not in algorithm.formats:
            raise InvalidArgument(
                f"algorithm {algorithm.name!r} saves as {', '.join(algorithm.formats)}; "
                f"not {tpb.ModelFormat.Name(output.format)}"
            )
    if output.aliases and not output.model:
        raise InvalidArgument("output.aliases need output.model")


def _resolve_resources(resources: tpb.Resources, algorithm: AlgorithmInfo) -> None:
    if resources.threads < 0:
        raise InvalidArgument("resources.threads must be >= 0 (0: the worker's share)")
    if resources.timeout.seconds < 0 or resources.timeout.nanos < 0:
        raise InvalidArgument("resources.timeout must not be negative")
    if resources.dask_scheduler_address and not algorithm.supports_dask:
        raise InvalidArgument(
            f"algorithm {algorithm.name!r} cannot train on Dask: drop dask_scheduler_address"
        )


def _check_dask_train(train: ResolvedTrain) -> None:
    """A train job on Dask reads its rows on the cluster's workers (never whole in the trainer),
    where the in-process cross-validation cannot run."""
    if train.spec.resources.dask_scheduler_address and train.spec.HasField("cv"):
        raise InvalidArgument(
            "cross-validation does not run on a Dask cluster: drop `cv` (the job is evaluated "
            "on its validation and test splits) or drop resources.dask_scheduler_address"
        )


def resolve_tune(
    spec: tpb.TuneSpec, version: rpb.DatasetVersion
) -> tuple[tpb.TuneSpec, ResolvedTrain]:
    resolved = tpb.TuneSpec()
    resolved.CopyFrom(spec)
    train = resolve_train(spec.base, version, what="tune.base")
    resolved.base.CopyFrom(train.spec)
    if not spec.search_space.params:
        raise InvalidArgument("tune.search_space is empty: name at least one hyperparameter")
    tuning.resolve_search_space(spec.search_space, train.algorithm, train.task)
    if not spec.objective.metric:
        resolved.objective.metric = train.spec.metrics[0]
    evaluation.validate_metrics(train.task, [resolved.objective.metric])
    if resolved.objective.metric not in train.spec.metrics:
        resolved.base.metrics.append(resolved.objective.metric)
    if resolved.objective.direction == tpb.DIRECTION_UNSPECIFIED:
        natural = evaluation.direction(resolved.objective.metric)
        resolved.objective.direction = (
            tpb.DIRECTION_MAXIMIZE if natural == "maximize" else tpb.DIRECTION_MINIMIZE
        )
    budget = resolved.budget
    if budget.max_trials < 0 or budget.parallelism < 0 or budget.max_failed_trials < 0:
        raise InvalidArgument("tune.budget values must not be negative")
    if budget.max_trials == 0 and budget.timeout.seconds <= 0:
        raise InvalidArgument("tune.budget needs max_trials or a timeout")
    budget.parallelism = budget.parallelism or 1
    if budget.parallelism > MAX_PARALLEL_TRIALS:
        raise InvalidArgument(f"tune.budget.parallelism is at most {MAX_PARALLEL_TRIALS}")
    space = tuning.resolve_search_space(spec.search_space, train.algorithm, train.task)
    tuning.make_sampler(resolved.sampler, space, train.spec.seed)
    if not train.spec.HasField("cv") and not train.spec.data.validation_split:
        raise InvalidArgument(
            "tuning needs somewhere to score trials: set tune.base.cv, or a validation split "
            "(tune.base.data.validation_split)"
        )
    return resolved, train


def resolve_submit(request: tpb.SubmitRequest, version: rpb.DatasetVersion) -> ResolvedJob:
    resolved = tpb.SubmitRequest()
    resolved.CopyFrom(request)
    validate_mapping(request.tags, "run tag", MAX_TAG_VALUE)
    kind = request.WhichOneof("job")
    if kind == "train":
        train = resolve_train(request.train, version)
        _check_dask_train(train)
        resolved.train.CopyFrom(train.spec)
    elif kind == "tune":
        tune, train = resolve_tune(request.tune, version)
        resolved.tune.CopyFrom(tune)
    else:
        raise InvalidArgument("set the job: `train` or `tune`")
    return ResolvedJob(resolved, train)


def data_spec(request: tpb.SubmitRequest) -> tpb.DataSpec:
    job = request.train if request.HasField("train") else request.tune.base
    return job.data


def run_params(job: ResolvedJob) -> dict[str, str]:
    """What the run records as its parameters (write-once strings)."""
    spec = job.train.spec
    params: dict[str, str] = {
        "algorithm": spec.algorithm,
        "task": job.train.task.value,
        "dataset_version_id": spec.data.dataset_version_id,
        "seed": str(spec.seed),
    }
    if spec.data.target_column:
        params["target_column"] = spec.data.target_column
    searched = (
        {p.name for p in job.request.tune.search_space.params}
        if job.request.HasField("tune")
        else set()
    )
    for name, value in spec.params.items():
        if name not in searched:  # a tune run records its best values at the end (best.<name>)
            params[name] = json.dumps(from_param_value(value))
    return params
