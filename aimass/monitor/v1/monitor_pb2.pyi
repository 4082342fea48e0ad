import datetime

from aimass.common.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LatencyStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LATENCY_STAGE_UNSPECIFIED: _ClassVar[LatencyStage]
    LATENCY_STAGE_QUEUE: _ClassVar[LatencyStage]
    LATENCY_STAGE_COMPUTE: _ClassVar[LatencyStage]
    LATENCY_STAGE_TOTAL: _ClassVar[LatencyStage]

class DriftMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DRIFT_METHOD_UNSPECIFIED: _ClassVar[DriftMethod]
    DRIFT_METHOD_PSI: _ClassVar[DriftMethod]
    DRIFT_METHOD_KS: _ClassVar[DriftMethod]
    DRIFT_METHOD_CHI_SQUARED: _ClassVar[DriftMethod]
    DRIFT_METHOD_JENSEN_SHANNON: _ClassVar[DriftMethod]

class AlertMetric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_METRIC_UNSPECIFIED: _ClassVar[AlertMetric]
    ALERT_METRIC_ERROR_RATE: _ClassVar[AlertMetric]
    ALERT_METRIC_LATENCY_P50: _ClassVar[AlertMetric]
    ALERT_METRIC_LATENCY_P99: _ClassVar[AlertMetric]
    ALERT_METRIC_REQUESTS_PER_SECOND: _ClassVar[AlertMetric]
    ALERT_METRIC_DRIFTED_COLUMNS: _ClassVar[AlertMetric]
    ALERT_METRIC_DROPPED_LOG_RECORDS: _ClassVar[AlertMetric]

class Comparator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPARATOR_UNSPECIFIED: _ClassVar[Comparator]
    COMPARATOR_GT: _ClassVar[Comparator]
    COMPARATOR_LT: _ClassVar[Comparator]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_FIRING: _ClassVar[AlertState]
    ALERT_STATE_RESOLVED: _ClassVar[AlertState]
LATENCY_STAGE_UNSPECIFIED: LatencyStage
LATENCY_STAGE_QUEUE: LatencyStage
LATENCY_STAGE_COMPUTE: LatencyStage
LATENCY_STAGE_TOTAL: LatencyStage
DRIFT_METHOD_UNSPECIFIED: DriftMethod
DRIFT_METHOD_PSI: DriftMethod
DRIFT_METHOD_KS: DriftMethod
DRIFT_METHOD_CHI_SQUARED: DriftMethod
DRIFT_METHOD_JENSEN_SHANNON: DriftMethod
ALERT_METRIC_UNSPECIFIED: AlertMetric
ALERT_METRIC_ERROR_RATE: AlertMetric
ALERT_METRIC_LATENCY_P50: AlertMetric
ALERT_METRIC_LATENCY_P99: AlertMetric
ALERT_METRIC_REQUESTS_PER_SECOND: AlertMetric
ALERT_METRIC_DRIFTED_COLUMNS: AlertMetric
ALERT_METRIC_DROPPED_LOG_RECORDS: AlertMetric
COMPARATOR_UNSPECIFIED: Comparator
COMPARATOR_GT: Comparator
COMPARATOR_LT: Comparator
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_WARNING: Severity
SEVERITY_CRITICAL: Severity
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_FIRING: AlertState
ALERT_STATE_RESOLVED: AlertState

class ModelSelector(_message.Message):
    __slots__ = ("model", "version", "deployment_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    deployment_id: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., deployment_id: _Optional[str] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LatencyQuantiles(_message.Message):
    __slots__ = ("p50_seconds", "p90_seconds", "p95_seconds", "p99_seconds", "mean_seconds", "max_seconds")
    P50_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P90_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P95_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P99_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    p50_seconds: float
    p90_seconds: float
    p95_seconds: float
    p99_seconds: float
    mean_seconds: float
    max_seconds: float
    def __init__(self, p50_seconds: _Optional[float] = ..., p90_seconds: _Optional[float] = ..., p95_seconds: _Optional[float] = ..., p99_seconds: _Optional[float] = ..., mean_seconds: _Optional[float] = ..., max_seconds: _Optional[float] = ...) -> None: ...

class GetOverviewRequest(_message.Message):
    __slots__ = ("project", "window")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    project: str
    window: _duration_pb2.Duration
    def __init__(self, project: _Optional[str] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ModelSummary(_message.Message):
    __slots__ = ("model", "version", "deployment_id", "canary", "requests_per_second", "error_rate", "p99_seconds", "open_alerts", "drifted", "last_request_at")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CANARY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    P99_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OPEN_ALERTS_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    LAST_REQUEST_AT_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    deployment_id: str
    canary: bool
    requests_per_second: float
    error_rate: float
    p99_seconds: float
    open_alerts: int
    drifted: bool
    last_request_at: _timestamp_pb2.Timestamp
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., deployment_id: _Optional[str] = ..., canary: _Optional[bool] = ..., requests_per_second: _Optional[float] = ..., error_rate: _Optional[float] = ..., p99_seconds: _Optional[float] = ..., open_alerts: _Optional[int] = ..., drifted: _Optional[bool] = ..., last_request_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetOverviewResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelSummary]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelSummary, _Mapping]]] = ...) -> None: ...

class GetTrafficRequest(_message.Message):
    __slots__ = ("project", "selector", "range", "bucket", "by_version")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    BY_VERSION_FIELD_NUMBER: _ClassVar[int]
    project: str
    selector: ModelSelector
    range: TimeRange
    bucket: _duration_pb2.Duration
    by_version: bool
    def __init__(self, project: _Optional[str] = ..., selector: _Optional[_Union[ModelSelector, _Mapping]] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., by_version: _Optional[bool] = ...) -> None: ...

class TrafficBucket(_message.Message):
    __slots__ = ("start", "requests", "rows", "errors", "requests_per_second", "error_rate", "latency")
    START_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    requests: int
    rows: int
    errors: int
    requests_per_second: float
    error_rate: float
    latency: LatencyQuantiles
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requests: _Optional[int] = ..., rows: _Optional[int] = ..., errors: _Optional[int] = ..., requests_per_second: _Optional[float] = ..., error_rate: _Optional[float] = ..., latency: _Optional[_Union[LatencyQuantiles, _Mapping]] = ...) -> None: ...

class TrafficSeries(_message.Message):
    __slots__ = ("model", "version", "buckets")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    buckets: _containers.RepeatedCompositeFieldContainer[TrafficBucket]
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., buckets: _Optional[_Iterable[_Union[TrafficBucket, _Mapping]]] = ...) -> None: ...

class GetTrafficResponse(_message.Message):
    __slots__ = ("series", "bucket")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[TrafficSeries]
    bucket: _duration_pb2.Duration
    def __init__(self, series: _Optional[_Iterable[_Union[TrafficSeries, _Mapping]]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetLatencyDistributionRequest(_message.Message):
    __slots__ = ("project", "selector", "range", "stage")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    selector: ModelSelector
    range: TimeRange
    stage: LatencyStage
    def __init__(self, project: _Optional[str] = ..., selector: _Optional[_Union[ModelSelector, _Mapping]] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., stage: _Optional[_Union[LatencyStage, str]] = ...) -> None: ...

class GetLatencyDistributionResponse(_message.Message):
    __slots__ = ("upper_bounds_seconds", "counts", "quantiles", "total")
    UPPER_BOUNDS_SECONDS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    upper_bounds_seconds: _containers.RepeatedScalarFieldContainer[float]
    counts: _containers.RepeatedScalarFieldContainer[int]
    quantiles: LatencyQuantiles
    total: int
    def __init__(self, upper_bounds_seconds: _Optional[_Iterable[float]] = ..., counts: _Optional[_Iterable[int]] = ..., quantiles: _Optional[_Union[LatencyQuantiles, _Mapping]] = ..., total: _Optional[int] = ...) -> None: ...

class ErrorRecord(_message.Message):
    __slots__ = ("at", "model", "version", "deployment_id", "prediction_id", "code", "message")
    AT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    model: str
    version: int
    deployment_id: str
    prediction_id: str
    code: str
    message: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., deployment_id: _Optional[str] = ..., prediction_id: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ListErrorsRequest(_message.Message):
    __slots__ = ("project", "selector", "range", "filters", "page")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    selector: ModelSelector
    range: TimeRange
    filters: _containers.RepeatedCompositeFieldContainer[_common_pb2.Filter]
    page: _common_pb2.PageRequest
    def __init__(self, project: _Optional[str] = ..., selector: _Optional[_Union[ModelSelector, _Mapping]] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., filters: _Optional[_Iterable[_Union[_common_pb2.Filter, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListErrorsResponse(_message.Message):
    __slots__ = ("errors", "page", "counts_by_code")
    class CountsByCodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_BY_CODE_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[ErrorRecord]
    page: _common_pb2.PageInfo
    counts_by_code: _containers.ScalarMap[str, int]
    def __init__(self, errors: _Optional[_Iterable[_Union[ErrorRecord, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ..., counts_by_code: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ComputeDriftRequest(_message.Message):
    __slots__ = ("project", "model", "version", "range", "reference_dataset_version_id", "columns", "method", "threshold")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_DATASET_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    project: str
    model: str
    version: int
    range: TimeRange
    reference_dataset_version_id: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    method: DriftMethod
    threshold: float
    def __init__(self, project: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., reference_dataset_version_id: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., method: _Optional[_Union[DriftMethod, str]] = ..., threshold: _Optional[float] = ...) -> None: ...

class ColumnDrift(_message.Message):
    __slots__ = ("column", "method", "statistic", "p_value", "threshold", "drifted", "reference", "current")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    column: str
    method: DriftMethod
    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    reference: _common_pb2.ColumnStatistics
    current: _common_pb2.ColumnStatistics
    def __init__(self, column: _Optional[str] = ..., method: _Optional[_Union[DriftMethod, str]] = ..., statistic: _Optional[float] = ..., p_value: _Optional[float] = ..., threshold: _Optional[float] = ..., drifted: _Optional[bool] = ..., reference: _Optional[_Union[_common_pb2.ColumnStatistics, _Mapping]] = ..., current: _Optional[_Union[_common_pb2.ColumnStatistics, _Mapping]] = ...) -> None: ...

class DriftReport(_message.Message):
    __slots__ = ("id", "project", "model", "version", "reference_dataset_version_id", "range", "sample_count", "columns", "outputs", "drifted", "created_at", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_DATASET_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    model: str
    version: int
    reference_dataset_version_id: str
    range: TimeRange
    sample_count: int
    columns: _containers.RepeatedCompositeFieldContainer[ColumnDrift]
    outputs: _containers.RepeatedCompositeFieldContainer[ColumnDrift]
    drifted: bool
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., reference_dataset_version_id: _Optional[str] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., sample_count: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[ColumnDrift, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[ColumnDrift, _Mapping]]] = ..., drifted: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class GetDriftReportRequest(_message.Message):
    __slots__ = ("project", "id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    id: str
    def __init__(self, project: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ListDriftReportsRequest(_message.Message):
    __slots__ = ("project", "selector", "range", "drifted_only", "page")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    selector: ModelSelector
    range: TimeRange
    drifted_only: bool
    page: _common_pb2.PageRequest
    def __init__(self, project: _Optional[str] = ..., selector: _Optional[_Union[ModelSelector, _Mapping]] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., drifted_only: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListDriftReportsResponse(_message.Message):
    __slots__ = ("reports", "page")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[DriftReport]
    page: _common_pb2.PageInfo
    def __init__(self, reports: _Optional[_Iterable[_Union[DriftReport, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class AlertRule(_message.Message):
    __slots__ = ("id", "project", "name", "selector", "metric", "comparator", "threshold", "window", "pending_for", "severity", "enabled", "description", "created_by", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    COMPARATOR_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    PENDING_FOR_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    name: str
    selector: ModelSelector
    metric: AlertMetric
    comparator: Comparator
    threshold: float
    window: _duration_pb2.Duration
    pending_for: _duration_pb2.Duration
    severity: Severity
    enabled: bool
    description: str
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., selector: _Optional[_Union[ModelSelector, _Mapping]] = ..., metric: _Optional[_Union[AlertMetric, str]] = ..., comparator: _Optional[_Union[Comparator, str]] = ..., threshold: _Optional[float] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., pending_for: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., severity: _Optional[_Union[Severity, str]] = ..., enabled: _Optional[bool] = ..., description: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAlertRuleRequest(_message.Message):
    __slots__ = ("project", "rule")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    project: str
    rule: AlertRule
    def __init__(self, project: _Optional[str] = ..., rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class UpdateAlertRuleRequest(_message.Message):
    __slots__ = ("project", "rule", "update_mask")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    project: str
    rule: AlertRule
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., rule: _Optional[_Union[AlertRule, _Mapping]] = ..., update_mask: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAlertRulesRequest(_message.Message):
    __slots__ = ("project", "page")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    page: _common_pb2.PageRequest
    def __init__(self, project: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListAlertRulesResponse(_message.Message):
    __slots__ = ("rules", "page")
    RULES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[AlertRule]
    page: _common_pb2.PageInfo
    def __init__(self, rules: _Optional[_Iterable[_Union[AlertRule, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class DeleteAlertRuleRequest(_message.Message):
    __slots__ = ("project", "id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    id: str
    def __init__(self, project: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class DeleteAlertRuleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "rule_id", "rule", "project", "model", "version", "deployment_id", "state", "severity", "value", "threshold", "message", "started_at", "resolved_at", "acknowledged_by", "acknowledged_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    rule_id: str
    rule: str
    project: str
    model: str
    version: int
    deployment_id: str
    state: AlertState
    severity: Severity
    value: float
    threshold: float
    message: str
    started_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    acknowledged_by: str
    acknowledged_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., rule_id: _Optional[str] = ..., rule: _Optional[str] = ..., project: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., deployment_id: _Optional[str] = ..., state: _Optional[_Union[AlertState, str]] = ..., severity: _Optional[_Union[Severity, str]] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., message: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged_by: _Optional[str] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("project", "selector", "range", "states", "page")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    selector: ModelSelector
    range: TimeRange
    states: _containers.RepeatedScalarFieldContainer[AlertState]
    page: _common_pb2.PageRequest
    def __init__(self, project: _Optional[str] = ..., selector: _Optional[_Union[ModelSelector, _Mapping]] = ..., range: _Optional[_Union[TimeRange, _Mapping]] = ..., states: _Optional[_Iterable[_Union[AlertState, str]]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "page")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    page: _common_pb2.PageInfo
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class AcknowledgeAlertRequest(_message.Message):
    __slots__ = ("project", "id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    id: str
    def __init__(self, project: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...
