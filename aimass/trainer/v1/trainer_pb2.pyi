import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_TYPE_UNSPECIFIED: _ClassVar[TaskType]
    TASK_TYPE_CLASSIFICATION: _ClassVar[TaskType]
    TASK_TYPE_REGRESSION: _ClassVar[TaskType]
    TASK_TYPE_CLUSTERING: _ClassVar[TaskType]
    TASK_TYPE_DIMENSIONALITY_REDUCTION: _ClassVar[TaskType]
    TASK_TYPE_FORECASTING: _ClassVar[TaskType]
    TASK_TYPE_SEQUENCE_CLASSIFICATION: _ClassVar[TaskType]

class Imputation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPUTATION_UNSPECIFIED: _ClassVar[Imputation]
    IMPUTATION_NONE: _ClassVar[Imputation]
    IMPUTATION_MEAN: _ClassVar[Imputation]
    IMPUTATION_MEDIAN: _ClassVar[Imputation]
    IMPUTATION_MOST_FREQUENT: _ClassVar[Imputation]
    IMPUTATION_CONSTANT: _ClassVar[Imputation]

class CategoricalEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATEGORICAL_ENCODING_UNSPECIFIED: _ClassVar[CategoricalEncoding]
    CATEGORICAL_ENCODING_ONE_HOT: _ClassVar[CategoricalEncoding]
    CATEGORICAL_ENCODING_ORDINAL: _ClassVar[CategoricalEncoding]
    CATEGORICAL_ENCODING_NATIVE: _ClassVar[CategoricalEncoding]

class Scaling(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCALING_UNSPECIFIED: _ClassVar[Scaling]
    SCALING_NONE: _ClassVar[Scaling]
    SCALING_STANDARD: _ClassVar[Scaling]
    SCALING_MINMAX: _ClassVar[Scaling]
    SCALING_ROBUST: _ClassVar[Scaling]

class CvMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CV_METHOD_UNSPECIFIED: _ClassVar[CvMethod]
    CV_METHOD_KFOLD: _ClassVar[CvMethod]
    CV_METHOD_STRATIFIED_KFOLD: _ClassVar[CvMethod]
    CV_METHOD_GROUP_KFOLD: _ClassVar[CvMethod]
    CV_METHOD_TIME_SERIES: _ClassVar[CvMethod]

class ModelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_FORMAT_UNSPECIFIED: _ClassVar[ModelFormat]
    MODEL_FORMAT_XGBOOST_JSON: _ClassVar[ModelFormat]
    MODEL_FORMAT_XGBOOST_UBJ: _ClassVar[ModelFormat]
    MODEL_FORMAT_SKOPS: _ClassVar[ModelFormat]
    MODEL_FORMAT_SAFETENSORS: _ClassVar[ModelFormat]
    MODEL_FORMAT_TORCHSCRIPT: _ClassVar[ModelFormat]
    MODEL_FORMAT_ONNX: _ClassVar[ModelFormat]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_MINIMIZE: _ClassVar[Direction]
    DIRECTION_MAXIMIZE: _ClassVar[Direction]

class SamplerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLER_KIND_UNSPECIFIED: _ClassVar[SamplerKind]
    SAMPLER_KIND_TPE: _ClassVar[SamplerKind]
    SAMPLER_KIND_RANDOM: _ClassVar[SamplerKind]
    SAMPLER_KIND_GRID: _ClassVar[SamplerKind]
    SAMPLER_KIND_CMA_ES: _ClassVar[SamplerKind]

class PrunerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRUNER_KIND_UNSPECIFIED: _ClassVar[PrunerKind]
    PRUNER_KIND_NONE: _ClassVar[PrunerKind]
    PRUNER_KIND_MEDIAN: _ClassVar[PrunerKind]
    PRUNER_KIND_SUCCESSIVE_HALVING: _ClassVar[PrunerKind]
    PRUNER_KIND_HYPERBAND: _ClassVar[PrunerKind]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_QUEUED: _ClassVar[RunState]
    RUN_STATE_RUNNING: _ClassVar[RunState]
    RUN_STATE_FINISHED: _ClassVar[RunState]
    RUN_STATE_FAILED: _ClassVar[RunState]
    RUN_STATE_CANCELLED: _ClassVar[RunState]

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    PHASE_QUEUED: _ClassVar[Phase]
    PHASE_LOADING_DATA: _ClassVar[Phase]
    PHASE_PREPROCESSING: _ClassVar[Phase]
    PHASE_CROSS_VALIDATING: _ClassVar[Phase]
    PHASE_FITTING: _ClassVar[Phase]
    PHASE_TUNING: _ClassVar[Phase]
    PHASE_RETRAINING_BEST: _ClassVar[Phase]
    PHASE_EVALUATING: _ClassVar[Phase]
    PHASE_SAVING: _ClassVar[Phase]
    PHASE_REGISTERING: _ClassVar[Phase]
    PHASE_DONE: _ClassVar[Phase]

class TrialState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIAL_STATE_UNSPECIFIED: _ClassVar[TrialState]
    TRIAL_STATE_RUNNING: _ClassVar[TrialState]
    TRIAL_STATE_COMPLETE: _ClassVar[TrialState]
    TRIAL_STATE_PRUNED: _ClassVar[TrialState]
    TRIAL_STATE_FAILED: _ClassVar[TrialState]

class ParamType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAM_TYPE_UNSPECIFIED: _ClassVar[ParamType]
    PARAM_TYPE_BOOL: _ClassVar[ParamType]
    PARAM_TYPE_INT: _ClassVar[ParamType]
    PARAM_TYPE_FLOAT: _ClassVar[ParamType]
    PARAM_TYPE_STRING: _ClassVar[ParamType]
    PARAM_TYPE_CATEGORICAL: _ClassVar[ParamType]
    PARAM_TYPE_INT_LIST: _ClassVar[ParamType]
    PARAM_TYPE_FLOAT_LIST: _ClassVar[ParamType]
TASK_TYPE_UNSPECIFIED: TaskType
TASK_TYPE_CLASSIFICATION: TaskType
TASK_TYPE_REGRESSION: TaskType
TASK_TYPE_CLUSTERING: TaskType
TASK_TYPE_DIMENSIONALITY_REDUCTION: TaskType
TASK_TYPE_FORECASTING: TaskType
TASK_TYPE_SEQUENCE_CLASSIFICATION: TaskType
IMPUTATION_UNSPECIFIED: Imputation
IMPUTATION_NONE: Imputation
IMPUTATION_MEAN: Imputation
IMPUTATION_MEDIAN: Imputation
IMPUTATION_MOST_FREQUENT: Imputation
IMPUTATION_CONSTANT: Imputation
CATEGORICAL_ENCODING_UNSPECIFIED: CategoricalEncoding
CATEGORICAL_ENCODING_ONE_HOT: CategoricalEncoding
CATEGORICAL_ENCODING_ORDINAL: CategoricalEncoding
CATEGORICAL_ENCODING_NATIVE: CategoricalEncoding
SCALING_UNSPECIFIED: Scaling
SCALING_NONE: Scaling
SCALING_STANDARD: Scaling
SCALING_MINMAX: Scaling
SCALING_ROBUST: Scaling
CV_METHOD_UNSPECIFIED: CvMethod
CV_METHOD_KFOLD: CvMethod
CV_METHOD_STRATIFIED_KFOLD: CvMethod
CV_METHOD_GROUP_KFOLD: CvMethod
CV_METHOD_TIME_SERIES: CvMethod
MODEL_FORMAT_UNSPECIFIED: ModelFormat
MODEL_FORMAT_XGBOOST_JSON: ModelFormat
MODEL_FORMAT_XGBOOST_UBJ: ModelFormat
MODEL_FORMAT_SKOPS: ModelFormat
MODEL_FORMAT_SAFETENSORS: ModelFormat
MODEL_FORMAT_TORCHSCRIPT: ModelFormat
MODEL_FORMAT_ONNX: ModelFormat
DIRECTION_UNSPECIFIED: Direction
DIRECTION_MINIMIZE: Direction
DIRECTION_MAXIMIZE: Direction
SAMPLER_KIND_UNSPECIFIED: SamplerKind
SAMPLER_KIND_TPE: SamplerKind
SAMPLER_KIND_RANDOM: SamplerKind
SAMPLER_KIND_GRID: SamplerKind
SAMPLER_KIND_CMA_ES: SamplerKind
PRUNER_KIND_UNSPECIFIED: PrunerKind
PRUNER_KIND_NONE: PrunerKind
PRUNER_KIND_MEDIAN: PrunerKind
PRUNER_KIND_SUCCESSIVE_HALVING: PrunerKind
PRUNER_KIND_HYPERBAND: PrunerKind
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_QUEUED: RunState
RUN_STATE_RUNNING: RunState
RUN_STATE_FINISHED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_CANCELLED: RunState
PHASE_UNSPECIFIED: Phase
PHASE_QUEUED: Phase
PHASE_LOADING_DATA: Phase
PHASE_PREPROCESSING: Phase
PHASE_CROSS_VALIDATING: Phase
PHASE_FITTING: Phase
PHASE_TUNING: Phase
PHASE_RETRAINING_BEST: Phase
PHASE_EVALUATING: Phase
PHASE_SAVING: Phase
PHASE_REGISTERING: Phase
PHASE_DONE: Phase
TRIAL_STATE_UNSPECIFIED: TrialState
TRIAL_STATE_RUNNING: TrialState
TRIAL_STATE_COMPLETE: TrialState
TRIAL_STATE_PRUNED: TrialState
TRIAL_STATE_FAILED: TrialState
PARAM_TYPE_UNSPECIFIED: ParamType
PARAM_TYPE_BOOL: ParamType
PARAM_TYPE_INT: ParamType
PARAM_TYPE_FLOAT: ParamType
PARAM_TYPE_STRING: ParamType
PARAM_TYPE_CATEGORICAL: ParamType
PARAM_TYPE_INT_LIST: ParamType
PARAM_TYPE_FLOAT_LIST: ParamType

class ParamValue(_message.Message):
    __slots__ = ("bool_value", "int_value", "float_value", "string_value", "list_value", "null_value")
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    NULL_VALUE_FIELD_NUMBER: _ClassVar[int]
    bool_value: bool
    int_value: int
    float_value: float
    string_value: str
    list_value: ParamList
    null_value: _struct_pb2.NullValue
    def __init__(self, bool_value: _Optional[bool] = ..., int_value: _Optional[int] = ..., float_value: _Optional[float] = ..., string_value: _Optional[str] = ..., list_value: _Optional[_Union[ParamList, _Mapping]] = ..., null_value: _Optional[_Union[_struct_pb2.NullValue, str]] = ...) -> None: ...

class ParamList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[ParamValue]
    def __init__(self, values: _Optional[_Iterable[_Union[ParamValue, _Mapping]]] = ...) -> None: ...

class DataSpec(_message.Message):
    __slots__ = ("dataset_version_id", "dataset", "version", "target_column", "feature_columns", "exclude_columns", "train_split", "validation_split", "test_split", "weight_column", "group_column", "time_column")
    DATASET_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_COLUMN_FIELD_NUMBER: _ClassVar[int]
    FEATURE_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SPLIT_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_SPLIT_FIELD_NUMBER: _ClassVar[int]
    TEST_SPLIT_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_COLUMN_FIELD_NUMBER: _ClassVar[int]
    GROUP_COLUMN_FIELD_NUMBER: _ClassVar[int]
    TIME_COLUMN_FIELD_NUMBER: _ClassVar[int]
    dataset_version_id: str
    dataset: str
    version: int
    target_column: str
    feature_columns: _containers.RepeatedScalarFieldContainer[str]
    exclude_columns: _containers.RepeatedScalarFieldContainer[str]
    train_split: str
    validation_split: str
    test_split: str
    weight_column: str
    group_column: str
    time_column: str
    def __init__(self, dataset_version_id: _Optional[str] = ..., dataset: _Optional[str] = ..., version: _Optional[int] = ..., target_column: _Optional[str] = ..., feature_columns: _Optional[_Iterable[str]] = ..., exclude_columns: _Optional[_Iterable[str]] = ..., train_split: _Optional[str] = ..., validation_split: _Optional[str] = ..., test_split: _Optional[str] = ..., weight_column: _Optional[str] = ..., group_column: _Optional[str] = ..., time_column: _Optional[str] = ...) -> None: ...

class SequenceSpec(_message.Message):
    __slots__ = ("window", "horizon", "stride", "series_id_column")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    STRIDE_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    window: int
    horizon: int
    stride: int
    series_id_column: str
    def __init__(self, window: _Optional[int] = ..., horizon: _Optional[int] = ..., stride: _Optional[int] = ..., series_id_column: _Optional[str] = ...) -> None: ...

class Preprocessing(_message.Message):
    __slots__ = ("numeric_imputation", "categorical_imputation", "encoding", "scaling", "max_categories")
    NUMERIC_IMPUTATION_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_IMPUTATION_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SCALING_FIELD_NUMBER: _ClassVar[int]
    MAX_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    numeric_imputation: Imputation
    categorical_imputation: Imputation
    encoding: CategoricalEncoding
    scaling: Scaling
    max_categories: int
    def __init__(self, numeric_imputation: _Optional[_Union[Imputation, str]] = ..., categorical_imputation: _Optional[_Union[Imputation, str]] = ..., encoding: _Optional[_Union[CategoricalEncoding, str]] = ..., scaling: _Optional[_Union[Scaling, str]] = ..., max_categories: _Optional[int] = ...) -> None: ...

class CrossValidation(_message.Message):
    __slots__ = ("method", "folds", "shuffle", "gap")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    SHUFFLE_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    method: CvMethod
    folds: int
    shuffle: bool
    gap: int
    def __init__(self, method: _Optional[_Union[CvMethod, str]] = ..., folds: _Optional[int] = ..., shuffle: _Optional[bool] = ..., gap: _Optional[int] = ...) -> None: ...

class ModelOutput(_message.Message):
    __slots__ = ("model", "description", "tags", "format", "aliases")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    model: str
    description: str
    tags: _containers.ScalarMap[str, str]
    format: ModelFormat
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., format: _Optional[_Union[ModelFormat, str]] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("threads", "timeout", "dask_scheduler_address")
    THREADS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DASK_SCHEDULER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    threads: int
    timeout: _duration_pb2.Duration
    dask_scheduler_address: str
    def __init__(self, threads: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., dask_scheduler_address: _Optional[str] = ...) -> None: ...

class TrainSpec(_message.Message):
    __slots__ = ("algorithm", "task", "params", "data", "preprocessing", "cv", "metrics", "sequence", "seed", "output", "resources")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ParamValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ParamValue, _Mapping]] = ...) -> None: ...
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_FIELD_NUMBER: _ClassVar[int]
    CV_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    task: TaskType
    params: _containers.MessageMap[str, ParamValue]
    data: DataSpec
    preprocessing: Preprocessing
    cv: CrossValidation
    metrics: _containers.RepeatedScalarFieldContainer[str]
    sequence: SequenceSpec
    seed: int
    output: ModelOutput
    resources: Resources
    def __init__(self, algorithm: _Optional[str] = ..., task: _Optional[_Union[TaskType, str]] = ..., params: _Optional[_Mapping[str, ParamValue]] = ..., data: _Optional[_Union[DataSpec, _Mapping]] = ..., preprocessing: _Optional[_Union[Preprocessing, _Mapping]] = ..., cv: _Optional[_Union[CrossValidation, _Mapping]] = ..., metrics: _Optional[_Iterable[str]] = ..., sequence: _Optional[_Union[SequenceSpec, _Mapping]] = ..., seed: _Optional[int] = ..., output: _Optional[_Union[ModelOutput, _Mapping]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ...) -> None: ...

class IntRange(_message.Message):
    __slots__ = ("low", "high", "step", "log")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    low: int
    high: int
    step: int
    log: bool
    def __init__(self, low: _Optional[int] = ..., high: _Optional[int] = ..., step: _Optional[int] = ..., log: _Optional[bool] = ...) -> None: ...

class FloatRange(_message.Message):
    __slots__ = ("low", "high", "step", "log")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    step: float
    log: bool
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., step: _Optional[float] = ..., log: _Optional[bool] = ...) -> None: ...

class Categorical(_message.Message):
    __slots__ = ("choices",)
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedCompositeFieldContainer[ParamValue]
    def __init__(self, choices: _Optional[_Iterable[_Union[ParamValue, _Mapping]]] = ...) -> None: ...

class ParamDistribution(_message.Message):
    __slots__ = ("name", "int_range", "float_range", "categorical", "condition")
    class Condition(_message.Message):
        __slots__ = ("parent", "values")
        PARENT_FIELD_NUMBER: _ClassVar[int]
        VALUES_FIELD_NUMBER: _ClassVar[int]
        parent: str
        values: _containers.RepeatedCompositeFieldContainer[ParamValue]
        def __init__(self, parent: _Optional[str] = ..., values: _Optional[_Iterable[_Union[ParamValue, _Mapping]]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    INT_RANGE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_RANGE_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    int_range: IntRange
    float_range: FloatRange
    categorical: Categorical
    condition: ParamDistribution.Condition
    def __init__(self, name: _Optional[str] = ..., int_range: _Optional[_Union[IntRange, _Mapping]] = ..., float_range: _Optional[_Union[FloatRange, _Mapping]] = ..., categorical: _Optional[_Union[Categorical, _Mapping]] = ..., condition: _Optional[_Union[ParamDistribution.Condition, _Mapping]] = ...) -> None: ...

class SearchSpace(_message.Message):
    __slots__ = ("params",)
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    params: _containers.RepeatedCompositeFieldContainer[ParamDistribution]
    def __init__(self, params: _Optional[_Iterable[_Union[ParamDistribution, _Mapping]]] = ...) -> None: ...

class Objective(_message.Message):
    __slots__ = ("metric", "direction")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    metric: str
    direction: Direction
    def __init__(self, metric: _Optional[str] = ..., direction: _Optional[_Union[Direction, str]] = ...) -> None: ...

class Sampler(_message.Message):
    __slots__ = ("kind", "startup_trials")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TRIALS_FIELD_NUMBER: _ClassVar[int]
    kind: SamplerKind
    startup_trials: int
    def __init__(self, kind: _Optional[_Union[SamplerKind, str]] = ..., startup_trials: _Optional[int] = ...) -> None: ...

class Pruner(_message.Message):
    __slots__ = ("kind", "startup_trials", "warmup_steps")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TRIALS_FIELD_NUMBER: _ClassVar[int]
    WARMUP_STEPS_FIELD_NUMBER: _ClassVar[int]
    kind: PrunerKind
    startup_trials: int
    warmup_steps: int
    def __init__(self, kind: _Optional[_Union[PrunerKind, str]] = ..., startup_trials: _Optional[int] = ..., warmup_steps: _Optional[int] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("max_trials", "timeout", "parallelism", "max_failed_trials")
    MAX_TRIALS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    MAX_FAILED_TRIALS_FIELD_NUMBER: _ClassVar[int]
    max_trials: int
    timeout: _duration_pb2.Duration
    parallelism: int
    max_failed_trials: int
    def __init__(self, max_trials: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., parallelism: _Optional[int] = ..., max_failed_trials: _Optional[int] = ...) -> None: ...

class TuneSpec(_message.Message):
    __slots__ = ("base", "search_space", "objective", "sampler", "pruner", "budget", "skip_retrain_best")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SEARCH_SPACE_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    SAMPLER_FIELD_NUMBER: _ClassVar[int]
    PRUNER_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    SKIP_RETRAIN_BEST_FIELD_NUMBER: _ClassVar[int]
    base: TrainSpec
    search_space: SearchSpace
    objective: Objective
    sampler: Sampler
    pruner: Pruner
    budget: Budget
    skip_retrain_best: bool
    def __init__(self, base: _Optional[_Union[TrainSpec, _Mapping]] = ..., search_space: _Optional[_Union[SearchSpace, _Mapping]] = ..., objective: _Optional[_Union[Objective, _Mapping]] = ..., sampler: _Optional[_Union[Sampler, _Mapping]] = ..., pruner: _Optional[_Union[Pruner, _Mapping]] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., skip_retrain_best: _Optional[bool] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("project", "train", "tune", "run_name", "tags", "validate_only", "idempotency_key")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    TUNE_FIELD_NUMBER: _ClassVar[int]
    RUN_NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    project: str
    train: TrainSpec
    tune: TuneSpec
    run_name: str
    tags: _containers.ScalarMap[str, str]
    validate_only: bool
    idempotency_key: str
    def __init__(self, project: _Optional[str] = ..., train: _Optional[_Union[TrainSpec, _Mapping]] = ..., tune: _Optional[_Union[TuneSpec, _Mapping]] = ..., run_name: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., validate_only: _Optional[bool] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("run_id", "resolved")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    resolved: SubmitRequest
    def __init__(self, run_id: _Optional[str] = ..., resolved: _Optional[_Union[SubmitRequest, _Mapping]] = ...) -> None: ...

class TrainerTask(_message.Message):
    __slots__ = ("run_id", "project", "train", "tune", "worker_index", "request_id", "submitted_by", "submitted_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    TUNE_FIELD_NUMBER: _ClassVar[int]
    WORKER_INDEX_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    project: str
    train: TrainSpec
    tune: TuneSpec
    worker_index: int
    request_id: str
    submitted_by: str
    submitted_at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., project: _Optional[str] = ..., train: _Optional[_Union[TrainSpec, _Mapping]] = ..., tune: _Optional[_Union[TuneSpec, _Mapping]] = ..., worker_index: _Optional[int] = ..., request_id: _Optional[str] = ..., submitted_by: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("project", "run_id", "reason")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    project: str
    run_id: str
    reason: str
    def __init__(self, project: _Optional[str] = ..., run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: RunState
    def __init__(self, state: _Optional[_Union[RunState, str]] = ...) -> None: ...

class Trial(_message.Message):
    __slots__ = ("number", "run_id", "state", "params", "value")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ParamValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ParamValue, _Mapping]] = ...) -> None: ...
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    number: int
    run_id: str
    state: TrialState
    params: _containers.MessageMap[str, ParamValue]
    value: float
    def __init__(self, number: _Optional[int] = ..., run_id: _Optional[str] = ..., state: _Optional[_Union[TrialState, str]] = ..., params: _Optional[_Mapping[str, ParamValue]] = ..., value: _Optional[float] = ...) -> None: ...

class RunProgress(_message.Message):
    __slots__ = ("run_id", "state", "phase", "step", "total_steps", "step_unit", "metrics", "trial", "best_trial", "attempt", "message", "error", "model_version_id", "model_version", "at")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    STEP_UNIT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    BEST_TRIAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    state: RunState
    phase: Phase
    step: int
    total_steps: int
    step_unit: str
    metrics: _containers.ScalarMap[str, float]
    trial: Trial
    best_trial: Trial
    attempt: int
    message: str
    error: str
    model_version_id: str
    model_version: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., phase: _Optional[_Union[Phase, str]] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ..., step_unit: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., trial: _Optional[_Union[Trial, _Mapping]] = ..., best_trial: _Optional[_Union[Trial, _Mapping]] = ..., attempt: _Optional[int] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., model_version_id: _Optional[str] = ..., model_version: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("project", "run_id", "include_trials")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TRIALS_FIELD_NUMBER: _ClassVar[int]
    project: str
    run_id: str
    include_trials: bool
    def __init__(self, project: _Optional[str] = ..., run_id: _Optional[str] = ..., include_trials: _Optional[bool] = ...) -> None: ...

class Hyperparameter(_message.Message):
    __slots__ = ("name", "type", "description", "default", "minimum", "maximum", "choices", "nullable", "suggested_search", "condition")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_SEARCH_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: ParamType
    description: str
    default: ParamValue
    minimum: float
    maximum: float
    choices: _containers.RepeatedCompositeFieldContainer[ParamValue]
    nullable: bool
    suggested_search: ParamDistribution
    condition: ParamDistribution.Condition
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[ParamType, str]] = ..., description: _Optional[str] = ..., default: _Optional[_Union[ParamValue, _Mapping]] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., choices: _Optional[_Iterable[_Union[ParamValue, _Mapping]]] = ..., nullable: _Optional[bool] = ..., suggested_search: _Optional[_Union[ParamDistribution, _Mapping]] = ..., condition: _Optional[_Union[ParamDistribution.Condition, _Mapping]] = ...) -> None: ...

class Algorithm(_message.Message):
    __slots__ = ("name", "display_name", "description", "tasks", "library", "plugin", "hyperparameters", "iterative", "supports_sample_weight", "supports_dask", "formats")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    ITERATIVE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_SAMPLE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_DASK_FIELD_NUMBER: _ClassVar[int]
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    tasks: _containers.RepeatedScalarFieldContainer[TaskType]
    library: str
    plugin: bool
    hyperparameters: _containers.RepeatedCompositeFieldContainer[Hyperparameter]
    iterative: bool
    supports_sample_weight: bool
    supports_dask: bool
    formats: _containers.RepeatedScalarFieldContainer[ModelFormat]
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[TaskType, str]]] = ..., library: _Optional[str] = ..., plugin: _Optional[bool] = ..., hyperparameters: _Optional[_Iterable[_Union[Hyperparameter, _Mapping]]] = ..., iterative: _Optional[bool] = ..., supports_sample_weight: _Optional[bool] = ..., supports_dask: _Optional[bool] = ..., formats: _Optional[_Iterable[_Union[ModelFormat, str]]] = ...) -> None: ...

class ListAlgorithmsRequest(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: TaskType
    def __init__(self, task: _Optional[_Union[TaskType, str]] = ...) -> None: ...

class ListAlgorithmsResponse(_message.Message):
    __slots__ = ("algorithms",)
    ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    algorithms: _containers.RepeatedCompositeFieldContainer[Algorithm]
    def __init__(self, algorithms: _Optional[_Iterable[_Union[Algorithm, _Mapping]]] = ...) -> None: ...

class GetAlgorithmRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
