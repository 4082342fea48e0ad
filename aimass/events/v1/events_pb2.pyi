import datetime

from aimass.common.v1 import common_pb2 as _common_pb2
from aimass.registry.v1 import registry_pb2 as _registry_pb2
from aimass.trainer.v1 import trainer_pb2 as _trainer_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("event_id", "occurred_at", "producer", "subject", "project_id", "actor", "request_id", "entity_changed", "deployment_changed", "model_version_created", "dataset_version_created", "run_status_changed", "run_metrics_logged", "run_progressed", "alias_moved", "ingest_progressed", "alert_raised")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_CREATED_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_CREATED_FIELD_NUMBER: _ClassVar[int]
    RUN_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    RUN_METRICS_LOGGED_FIELD_NUMBER: _ClassVar[int]
    RUN_PROGRESSED_FIELD_NUMBER: _ClassVar[int]
    ALIAS_MOVED_FIELD_NUMBER: _ClassVar[int]
    INGEST_PROGRESSED_FIELD_NUMBER: _ClassVar[int]
    ALERT_RAISED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    producer: str
    subject: str
    project_id: str
    actor: str
    request_id: str
    entity_changed: EntityChanged
    deployment_changed: DeploymentChanged
    model_version_created: ModelVersionCreated
    dataset_version_created: DatasetVersionCreated
    run_status_changed: RunStatusChanged
    run_metrics_logged: RunMetricsLogged
    run_progressed: RunProgressed
    alias_moved: AliasMoved
    ingest_progressed: IngestProgressed
    alert_raised: AlertRaised
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., producer: _Optional[str] = ..., subject: _Optional[str] = ..., project_id: _Optional[str] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., entity_changed: _Optional[_Union[EntityChanged, _Mapping]] = ..., deployment_changed: _Optional[_Union[DeploymentChanged, _Mapping]] = ..., model_version_created: _Optional[_Union[ModelVersionCreated, _Mapping]] = ..., dataset_version_created: _Optional[_Union[DatasetVersionCreated, _Mapping]] = ..., run_status_changed: _Optional[_Union[RunStatusChanged, _Mapping]] = ..., run_metrics_logged: _Optional[_Union[RunMetricsLogged, _Mapping]] = ..., run_progressed: _Optional[_Union[RunProgressed, _Mapping]] = ..., alias_moved: _Optional[_Union[AliasMoved, _Mapping]] = ..., ingest_progressed: _Optional[_Union[IngestProgressed, _Mapping]] = ..., alert_raised: _Optional[_Union[AlertRaised, _Mapping]] = ...) -> None: ...

class EntityChanged(_message.Message):
    __slots__ = ("entity", "change", "name", "fields")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    entity: _common_pb2.EntityRef
    change: str
    name: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, entity: _Optional[_Union[_common_pb2.EntityRef, _Mapping]] = ..., change: _Optional[str] = ..., name: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class DeploymentChanged(_message.Message):
    __slots__ = ("deployment", "change")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    deployment: _registry_pb2.Deployment
    change: str
    def __init__(self, deployment: _Optional[_Union[_registry_pb2.Deployment, _Mapping]] = ..., change: _Optional[str] = ...) -> None: ...

class ModelVersionCreated(_message.Message):
    __slots__ = ("model_version",)
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_version: _registry_pb2.ModelVersion
    def __init__(self, model_version: _Optional[_Union[_registry_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class DatasetVersionCreated(_message.Message):
    __slots__ = ("dataset_version",)
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    dataset_version: _registry_pb2.DatasetVersion
    def __init__(self, dataset_version: _Optional[_Union[_registry_pb2.DatasetVersion, _Mapping]] = ...) -> None: ...

class RunStatusChanged(_message.Message):
    __slots__ = ("run_id", "from_status", "to_status", "reason", "attempt")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    from_status: _registry_pb2.RunStatus
    to_status: _registry_pb2.RunStatus
    reason: str
    attempt: int
    def __init__(self, run_id: _Optional[str] = ..., from_status: _Optional[_Union[_registry_pb2.RunStatus, str]] = ..., to_status: _Optional[_Union[_registry_pb2.RunStatus, str]] = ..., reason: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class RunMetricsLogged(_message.Message):
    __slots__ = ("run_id", "points", "latest", "max_step")
    class LatestEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    MAX_STEP_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    points: int
    latest: _containers.ScalarMap[str, float]
    max_step: int
    def __init__(self, run_id: _Optional[str] = ..., points: _Optional[int] = ..., latest: _Optional[_Mapping[str, float]] = ..., max_step: _Optional[int] = ...) -> None: ...

class RunProgressed(_message.Message):
    __slots__ = ("run_id", "phase", "step", "total_steps", "metrics", "message", "progress")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    phase: str
    step: int
    total_steps: int
    metrics: _containers.ScalarMap[str, float]
    message: str
    progress: _trainer_pb2.RunProgress
    def __init__(self, run_id: _Optional[str] = ..., phase: _Optional[str] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., message: _Optional[str] = ..., progress: _Optional[_Union[_trainer_pb2.RunProgress, _Mapping]] = ...) -> None: ...

class AliasMoved(_message.Message):
    __slots__ = ("model_id", "model", "move")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MOVE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model: str
    move: _registry_pb2.AliasMove
    def __init__(self, model_id: _Optional[str] = ..., model: _Optional[str] = ..., move: _Optional[_Union[_registry_pb2.AliasMove, _Mapping]] = ...) -> None: ...

class IngestProgressed(_message.Message):
    __slots__ = ("job_id", "phase", "rows", "bytes", "total_bytes", "message")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    phase: str
    rows: int
    bytes: int
    total_bytes: int
    message: str
    def __init__(self, job_id: _Optional[str] = ..., phase: _Optional[str] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ..., total_bytes: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class AlertRaised(_message.Message):
    __slots__ = ("alert_id", "rule", "severity", "deployment_id", "model", "message", "value", "threshold")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    rule: str
    severity: str
    deployment_id: str
    model: str
    message: str
    value: float
    threshold: float
    def __init__(self, alert_id: _Optional[str] = ..., rule: _Optional[str] = ..., severity: _Optional[str] = ..., deployment_id: _Optional[str] = ..., model: _Optional[str] = ..., message: _Optional[str] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ...) -> None: ...

class PredictionRecord(_message.Message):
    __slots__ = ("prediction_id", "occurred_at", "deployment_id", "model", "model_version", "canary", "queue_us", "compute_us", "total_us", "batch_size", "status", "error", "inputs_json", "outputs_json", "predictor_instance", "dropped_since_last")
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_US_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_US_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    PREDICTOR_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SINCE_LAST_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    occurred_at: _timestamp_pb2.Timestamp
    deployment_id: str
    model: str
    model_version: int
    canary: bool
    queue_us: int
    compute_us: int
    total_us: int
    batch_size: int
    status: str
    error: str
    inputs_json: str
    outputs_json: str
    predictor_instance: str
    dropped_since_last: int
    def __init__(self, prediction_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deployment_id: _Optional[str] = ..., model: _Optional[str] = ..., model_version: _Optional[int] = ..., canary: _Optional[bool] = ..., queue_us: _Optional[int] = ..., compute_us: _Optional[int] = ..., total_us: _Optional[int] = ..., batch_size: _Optional[int] = ..., status: _Optional[str] = ..., error: _Optional[str] = ..., inputs_json: _Optional[str] = ..., outputs_json: _Optional[str] = ..., predictor_instance: _Optional[str] = ..., dropped_since_last: _Optional[int] = ...) -> None: ...
