import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoadState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOAD_STATE_UNSPECIFIED: _ClassVar[LoadState]
    LOAD_STATE_LOADING: _ClassVar[LoadState]
    LOAD_STATE_WARMING_UP: _ClassVar[LoadState]
    LOAD_STATE_READY: _ClassVar[LoadState]
    LOAD_STATE_DRAINING: _ClassVar[LoadState]
    LOAD_STATE_FAILED: _ClassVar[LoadState]
LOAD_STATE_UNSPECIFIED: LoadState
LOAD_STATE_LOADING: LoadState
LOAD_STATE_WARMING_UP: LoadState
LOAD_STATE_READY: LoadState
LOAD_STATE_DRAINING: LoadState
LOAD_STATE_FAILED: LoadState

class EffectiveConfig(_message.Message):
    __slots__ = ("max_batch_size", "max_queue_delay_us", "timeout_ms", "threads", "max_queue_size", "sample_rate")
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_DELAY_US_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    max_batch_size: int
    max_queue_delay_us: int
    timeout_ms: int
    threads: int
    max_queue_size: int
    sample_rate: float
    def __init__(self, max_batch_size: _Optional[int] = ..., max_queue_delay_us: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., threads: _Optional[int] = ..., max_queue_size: _Optional[int] = ..., sample_rate: _Optional[float] = ...) -> None: ...

class LoadedModel(_message.Message):
    __slots__ = ("deployment_id", "deployment", "deployment_revision", "project", "model", "version", "model_version_id", "aliases", "runtime", "artifact_uri", "state", "traffic_percent", "config", "loaded_at", "load_time", "error")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_REVISION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    LOAD_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    deployment: str
    deployment_revision: int
    project: str
    model: str
    version: int
    model_version_id: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    runtime: str
    artifact_uri: str
    state: LoadState
    traffic_percent: int
    config: EffectiveConfig
    loaded_at: _timestamp_pb2.Timestamp
    load_time: _duration_pb2.Duration
    error: str
    def __init__(self, deployment_id: _Optional[str] = ..., deployment: _Optional[str] = ..., deployment_revision: _Optional[int] = ..., project: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., model_version_id: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., runtime: _Optional[str] = ..., artifact_uri: _Optional[str] = ..., state: _Optional[_Union[LoadState, str]] = ..., traffic_percent: _Optional[int] = ..., config: _Optional[_Union[EffectiveConfig, _Mapping]] = ..., loaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., load_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class ListLoadedModelsRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class ListLoadedModelsResponse(_message.Message):
    __slots__ = ("models", "instance")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[LoadedModel]
    instance: str
    def __init__(self, models: _Optional[_Iterable[_Union[LoadedModel, _Mapping]]] = ..., instance: _Optional[str] = ...) -> None: ...

class ReloadRequest(_message.Message):
    __slots__ = ("deployment_id", "force")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    force: bool
    def __init__(self, deployment_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class ReloadResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[LoadedModel]
    def __init__(self, models: _Optional[_Iterable[_Union[LoadedModel, _Mapping]]] = ...) -> None: ...

class GetModelStatsRequest(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class LatencySummary(_message.Message):
    __slots__ = ("p50_seconds", "p90_seconds", "p99_seconds", "max_seconds")
    P50_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P90_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P99_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    p50_seconds: float
    p90_seconds: float
    p99_seconds: float
    max_seconds: float
    def __init__(self, p50_seconds: _Optional[float] = ..., p90_seconds: _Optional[float] = ..., p99_seconds: _Optional[float] = ..., max_seconds: _Optional[float] = ...) -> None: ...

class ModelStats(_message.Message):
    __slots__ = ("model", "version", "requests", "rows", "errors", "rejected", "timed_out", "cancelled", "batches", "mean_batch_size", "queue_depth", "queue_latency", "compute_latency", "total_latency", "log_records_dropped", "since")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    MEAN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LATENCY_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_LATENCY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LATENCY_FIELD_NUMBER: _ClassVar[int]
    LOG_RECORDS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    requests: int
    rows: int
    errors: int
    rejected: int
    timed_out: int
    cancelled: int
    batches: int
    mean_batch_size: float
    queue_depth: int
    queue_latency: LatencySummary
    compute_latency: LatencySummary
    total_latency: LatencySummary
    log_records_dropped: int
    since: _timestamp_pb2.Timestamp
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., requests: _Optional[int] = ..., rows: _Optional[int] = ..., errors: _Optional[int] = ..., rejected: _Optional[int] = ..., timed_out: _Optional[int] = ..., cancelled: _Optional[int] = ..., batches: _Optional[int] = ..., mean_batch_size: _Optional[float] = ..., queue_depth: _Optional[int] = ..., queue_latency: _Optional[_Union[LatencySummary, _Mapping]] = ..., compute_latency: _Optional[_Union[LatencySummary, _Mapping]] = ..., total_latency: _Optional[_Union[LatencySummary, _Mapping]] = ..., log_records_dropped: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetModelStatsResponse(_message.Message):
    __slots__ = ("stats", "instance")
    STATS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    stats: _containers.RepeatedCompositeFieldContainer[ModelStats]
    instance: str
    def __init__(self, stats: _Optional[_Iterable[_Union[ModelStats, _Mapping]]] = ..., instance: _Optional[str] = ...) -> None: ...
