import datetime

from aimass.common.v1 import common_pb2 as _common_pb2
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

class FileFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_FORMAT_UNSPECIFIED: _ClassVar[FileFormat]
    FILE_FORMAT_CSV: _ClassVar[FileFormat]
    FILE_FORMAT_TSV: _ClassVar[FileFormat]
    FILE_FORMAT_JSONL: _ClassVar[FileFormat]
    FILE_FORMAT_PARQUET: _ClassVar[FileFormat]

class HeaderMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEADER_MODE_UNSPECIFIED: _ClassVar[HeaderMode]
    HEADER_MODE_PRESENT: _ClassVar[HeaderMode]
    HEADER_MODE_ABSENT: _ClassVar[HeaderMode]

class MalformedRowPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MALFORMED_ROW_POLICY_UNSPECIFIED: _ClassVar[MalformedRowPolicy]
    MALFORMED_ROW_POLICY_FAIL: _ClassVar[MalformedRowPolicy]
    MALFORMED_ROW_POLICY_SKIP: _ClassVar[MalformedRowPolicy]

class CastErrorPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAST_ERROR_POLICY_UNSPECIFIED: _ClassVar[CastErrorPolicy]
    CAST_ERROR_POLICY_FAIL: _ClassVar[CastErrorPolicy]
    CAST_ERROR_POLICY_NULL: _ClassVar[CastErrorPolicy]
    CAST_ERROR_POLICY_DROP_ROW: _ClassVar[CastErrorPolicy]

class MissingValueStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSING_VALUE_STRATEGY_UNSPECIFIED: _ClassVar[MissingValueStrategy]
    MISSING_VALUE_STRATEGY_DROP_ROW: _ClassVar[MissingValueStrategy]
    MISSING_VALUE_STRATEGY_FILL_CONSTANT: _ClassVar[MissingValueStrategy]
    MISSING_VALUE_STRATEGY_FILL_MEAN: _ClassVar[MissingValueStrategy]
    MISSING_VALUE_STRATEGY_FILL_MEDIAN: _ClassVar[MissingValueStrategy]
    MISSING_VALUE_STRATEGY_FILL_MODE: _ClassVar[MissingValueStrategy]
    MISSING_VALUE_STRATEGY_FORWARD_FILL: _ClassVar[MissingValueStrategy]

class OutlierMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTLIER_METHOD_UNSPECIFIED: _ClassVar[OutlierMethod]
    OUTLIER_METHOD_IQR: _ClassVar[OutlierMethod]
    OUTLIER_METHOD_ZSCORE: _ClassVar[OutlierMethod]

class OutlierAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTLIER_ACTION_UNSPECIFIED: _ClassVar[OutlierAction]
    OUTLIER_ACTION_CLIP: _ClassVar[OutlierAction]
    OUTLIER_ACTION_DROP_ROW: _ClassVar[OutlierAction]
    OUTLIER_ACTION_SET_NULL: _ClassVar[OutlierAction]

class SplitMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPLIT_METHOD_UNSPECIFIED: _ClassVar[SplitMethod]
    SPLIT_METHOD_RANDOM: _ClassVar[SplitMethod]
    SPLIT_METHOD_STRATIFIED: _ClassVar[SplitMethod]
    SPLIT_METHOD_TIME: _ClassVar[SplitMethod]
    SPLIT_METHOD_GROUP: _ClassVar[SplitMethod]

class IngestJobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_JOB_STATE_UNSPECIFIED: _ClassVar[IngestJobState]
    INGEST_JOB_STATE_QUEUED: _ClassVar[IngestJobState]
    INGEST_JOB_STATE_RUNNING: _ClassVar[IngestJobState]
    INGEST_JOB_STATE_CANCELLING: _ClassVar[IngestJobState]
    INGEST_JOB_STATE_SUCCEEDED: _ClassVar[IngestJobState]
    INGEST_JOB_STATE_FAILED: _ClassVar[IngestJobState]
    INGEST_JOB_STATE_CANCELLED: _ClassVar[IngestJobState]

class IngestPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_PHASE_UNSPECIFIED: _ClassVar[IngestPhase]
    INGEST_PHASE_READING: _ClassVar[IngestPhase]
    INGEST_PHASE_TRANSFORMING: _ClassVar[IngestPhase]
    INGEST_PHASE_SPLITTING: _ClassVar[IngestPhase]
    INGEST_PHASE_WRITING: _ClassVar[IngestPhase]
    INGEST_PHASE_PROFILING: _ClassVar[IngestPhase]
    INGEST_PHASE_REGISTERING: _ClassVar[IngestPhase]
FILE_FORMAT_UNSPECIFIED: FileFormat
FILE_FORMAT_CSV: FileFormat
FILE_FORMAT_TSV: FileFormat
FILE_FORMAT_JSONL: FileFormat
FILE_FORMAT_PARQUET: FileFormat
HEADER_MODE_UNSPECIFIED: HeaderMode
HEADER_MODE_PRESENT: HeaderMode
HEADER_MODE_ABSENT: HeaderMode
MALFORMED_ROW_POLICY_UNSPECIFIED: MalformedRowPolicy
MALFORMED_ROW_POLICY_FAIL: MalformedRowPolicy
MALFORMED_ROW_POLICY_SKIP: MalformedRowPolicy
CAST_ERROR_POLICY_UNSPECIFIED: CastErrorPolicy
CAST_ERROR_POLICY_FAIL: CastErrorPolicy
CAST_ERROR_POLICY_NULL: CastErrorPolicy
CAST_ERROR_POLICY_DROP_ROW: CastErrorPolicy
MISSING_VALUE_STRATEGY_UNSPECIFIED: MissingValueStrategy
MISSING_VALUE_STRATEGY_DROP_ROW: MissingValueStrategy
MISSING_VALUE_STRATEGY_FILL_CONSTANT: MissingValueStrategy
MISSING_VALUE_STRATEGY_FILL_MEAN: MissingValueStrategy
MISSING_VALUE_STRATEGY_FILL_MEDIAN: MissingValueStrategy
MISSING_VALUE_STRATEGY_FILL_MODE: MissingValueStrategy
MISSING_VALUE_STRATEGY_FORWARD_FILL: MissingValueStrategy
OUTLIER_METHOD_UNSPECIFIED: OutlierMethod
OUTLIER_METHOD_IQR: OutlierMethod
OUTLIER_METHOD_ZSCORE: OutlierMethod
OUTLIER_ACTION_UNSPECIFIED: OutlierAction
OUTLIER_ACTION_CLIP: OutlierAction
OUTLIER_ACTION_DROP_ROW: OutlierAction
OUTLIER_ACTION_SET_NULL: OutlierAction
SPLIT_METHOD_UNSPECIFIED: SplitMethod
SPLIT_METHOD_RANDOM: SplitMethod
SPLIT_METHOD_STRATIFIED: SplitMethod
SPLIT_METHOD_TIME: SplitMethod
SPLIT_METHOD_GROUP: SplitMethod
INGEST_JOB_STATE_UNSPECIFIED: IngestJobState
INGEST_JOB_STATE_QUEUED: IngestJobState
INGEST_JOB_STATE_RUNNING: IngestJobState
INGEST_JOB_STATE_CANCELLING: IngestJobState
INGEST_JOB_STATE_SUCCEEDED: IngestJobState
INGEST_JOB_STATE_FAILED: IngestJobState
INGEST_JOB_STATE_CANCELLED: IngestJobState
INGEST_PHASE_UNSPECIFIED: IngestPhase
INGEST_PHASE_READING: IngestPhase
INGEST_PHASE_TRANSFORMING: IngestPhase
INGEST_PHASE_SPLITTING: IngestPhase
INGEST_PHASE_WRITING: IngestPhase
INGEST_PHASE_PROFILING: IngestPhase
INGEST_PHASE_REGISTERING: IngestPhase

class CsvOptions(_message.Message):
    __slots__ = ("delimiter", "header", "encoding", "quote", "escape", "comment", "skip_rows", "null_values", "column_names", "column_types", "date_format", "timestamp_format")
    class ColumnTypesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.DataType
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.DataType, str]] = ...) -> None: ...
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    ESCAPE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    SKIP_ROWS_FIELD_NUMBER: _ClassVar[int]
    NULL_VALUES_FIELD_NUMBER: _ClassVar[int]
    COLUMN_NAMES_FIELD_NUMBER: _ClassVar[int]
    COLUMN_TYPES_FIELD_NUMBER: _ClassVar[int]
    DATE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FORMAT_FIELD_NUMBER: _ClassVar[int]
    delimiter: str
    header: HeaderMode
    encoding: str
    quote: str
    escape: str
    comment: str
    skip_rows: int
    null_values: _containers.RepeatedScalarFieldContainer[str]
    column_names: _containers.RepeatedScalarFieldContainer[str]
    column_types: _containers.ScalarMap[str, _common_pb2.DataType]
    date_format: str
    timestamp_format: str
    def __init__(self, delimiter: _Optional[str] = ..., header: _Optional[_Union[HeaderMode, str]] = ..., encoding: _Optional[str] = ..., quote: _Optional[str] = ..., escape: _Optional[str] = ..., comment: _Optional[str] = ..., skip_rows: _Optional[int] = ..., null_values: _Optional[_Iterable[str]] = ..., column_names: _Optional[_Iterable[str]] = ..., column_types: _Optional[_Mapping[str, _common_pb2.DataType]] = ..., date_format: _Optional[str] = ..., timestamp_format: _Optional[str] = ...) -> None: ...

class Credentials(_message.Message):
    __slots__ = ("secret_ref", "secret", "username", "has_secret")
    SECRET_REF_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    HAS_SECRET_FIELD_NUMBER: _ClassVar[int]
    secret_ref: str
    secret: str
    username: str
    has_secret: bool
    def __init__(self, secret_ref: _Optional[str] = ..., secret: _Optional[str] = ..., username: _Optional[str] = ..., has_secret: _Optional[bool] = ...) -> None: ...

class FileSource(_message.Message):
    __slots__ = ("url", "upload_id", "format", "csv", "storage_options", "credentials", "columns")
    class StorageOptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    URL_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    STORAGE_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    url: str
    upload_id: str
    format: FileFormat
    csv: CsvOptions
    storage_options: _containers.ScalarMap[str, str]
    credentials: Credentials
    columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, url: _Optional[str] = ..., upload_id: _Optional[str] = ..., format: _Optional[_Union[FileFormat, str]] = ..., csv: _Optional[_Union[CsvOptions, _Mapping]] = ..., storage_options: _Optional[_Mapping[str, str]] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., columns: _Optional[_Iterable[str]] = ...) -> None: ...

class SqlSource(_message.Message):
    __slots__ = ("url", "credentials", "table", "query", "chunk_rows", "timeout")
    URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ROWS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    url: str
    credentials: Credentials
    table: str
    query: str
    chunk_rows: int
    timeout: _duration_pb2.Duration
    def __init__(self, url: _Optional[str] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., table: _Optional[str] = ..., query: _Optional[str] = ..., chunk_rows: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DatasetSource(_message.Message):
    __slots__ = ("dataset_version_id", "dataset", "version", "splits")
    DATASET_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    dataset_version_id: str
    dataset: str
    version: int
    splits: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset_version_id: _Optional[str] = ..., dataset: _Optional[str] = ..., version: _Optional[int] = ..., splits: _Optional[_Iterable[str]] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("alias", "file", "sql", "dataset", "source_id", "table", "query", "steps")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    alias: str
    file: FileSource
    sql: SqlSource
    dataset: DatasetSource
    source_id: str
    table: str
    query: str
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    def __init__(self, alias: _Optional[str] = ..., file: _Optional[_Union[FileSource, _Mapping]] = ..., sql: _Optional[_Union[SqlSource, _Mapping]] = ..., dataset: _Optional[_Union[DatasetSource, _Mapping]] = ..., source_id: _Optional[str] = ..., table: _Optional[str] = ..., query: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ...) -> None: ...

class SourceDefinition(_message.Message):
    __slots__ = ("id", "project", "name", "description", "file", "sql", "created_by", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    name: str
    description: str
    file: FileSource
    sql: SqlSource
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., file: _Optional[_Union[FileSource, _Mapping]] = ..., sql: _Optional[_Union[SqlSource, _Mapping]] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSourceRequest(_message.Message):
    __slots__ = ("project", "name", "description", "file", "sql", "check_connection")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    CHECK_CONNECTION_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    description: str
    file: FileSource
    sql: SqlSource
    check_connection: bool
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., file: _Optional[_Union[FileSource, _Mapping]] = ..., sql: _Optional[_Union[SqlSource, _Mapping]] = ..., check_connection: _Optional[bool] = ...) -> None: ...

class GetSourceRequest(_message.Message):
    __slots__ = ("project", "source")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    source: str
    def __init__(self, project: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class ListSourcesRequest(_message.Message):
    __slots__ = ("project", "page")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    page: _common_pb2.PageRequest
    def __init__(self, project: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListSourcesResponse(_message.Message):
    __slots__ = ("sources", "page")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[SourceDefinition]
    page: _common_pb2.PageInfo
    def __init__(self, sources: _Optional[_Iterable[_Union[SourceDefinition, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class DeleteSourceRequest(_message.Message):
    __slots__ = ("project", "source")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    source: str
    def __init__(self, project: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class DeleteSourceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UploadFileRequest(_message.Message):
    __slots__ = ("header", "chunk")
    class Header(_message.Message):
        __slots__ = ("project", "file_name", "size_bytes", "sha256")
        PROJECT_FIELD_NUMBER: _ClassVar[int]
        FILE_NAME_FIELD_NUMBER: _ClassVar[int]
        SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
        SHA256_FIELD_NUMBER: _ClassVar[int]
        project: str
        file_name: str
        size_bytes: int
        sha256: str
        def __init__(self, project: _Optional[str] = ..., file_name: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadFileRequest.Header
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadFileRequest.Header, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class Upload(_message.Message):
    __slots__ = ("upload_id", "file_name", "size_bytes", "sha256", "expires_at")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    file_name: str
    size_bytes: int
    sha256: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, upload_id: _Optional[str] = ..., file_name: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Recipe(_message.Message):
    __slots__ = ("sources", "steps", "split", "malformed_rows")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    MALFORMED_ROWS_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[Source]
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    split: SplitSpec
    malformed_rows: MalformedRowPolicy
    def __init__(self, sources: _Optional[_Iterable[_Union[Source, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ..., split: _Optional[_Union[SplitSpec, _Mapping]] = ..., malformed_rows: _Optional[_Union[MalformedRowPolicy, str]] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("description", "select", "rename", "cast", "parse_dates", "drop_duplicates", "missing_values", "outliers", "clean_strings", "filter", "derive", "join", "union")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SELECT_FIELD_NUMBER: _ClassVar[int]
    RENAME_FIELD_NUMBER: _ClassVar[int]
    CAST_FIELD_NUMBER: _ClassVar[int]
    PARSE_DATES_FIELD_NUMBER: _ClassVar[int]
    DROP_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    MISSING_VALUES_FIELD_NUMBER: _ClassVar[int]
    OUTLIERS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_STRINGS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    DERIVE_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    UNION_FIELD_NUMBER: _ClassVar[int]
    description: str
    select: SelectStep
    rename: RenameStep
    cast: CastStep
    parse_dates: ParseDatesStep
    drop_duplicates: DropDuplicatesStep
    missing_values: MissingValuesStep
    outliers: OutliersStep
    clean_strings: StringCleanStep
    filter: FilterStep
    derive: DeriveStep
    join: JoinStep
    union: UnionStep
    def __init__(self, description: _Optional[str] = ..., select: _Optional[_Union[SelectStep, _Mapping]] = ..., rename: _Optional[_Union[RenameStep, _Mapping]] = ..., cast: _Optional[_Union[CastStep, _Mapping]] = ..., parse_dates: _Optional[_Union[ParseDatesStep, _Mapping]] = ..., drop_duplicates: _Optional[_Union[DropDuplicatesStep, _Mapping]] = ..., missing_values: _Optional[_Union[MissingValuesStep, _Mapping]] = ..., outliers: _Optional[_Union[OutliersStep, _Mapping]] = ..., clean_strings: _Optional[_Union[StringCleanStep, _Mapping]] = ..., filter: _Optional[_Union[FilterStep, _Mapping]] = ..., derive: _Optional[_Union[DeriveStep, _Mapping]] = ..., join: _Optional[_Union[JoinStep, _Mapping]] = ..., union: _Optional[_Union[UnionStep, _Mapping]] = ...) -> None: ...

class SelectStep(_message.Message):
    __slots__ = ("columns", "drop")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    drop: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., drop: _Optional[_Iterable[str]] = ...) -> None: ...

class RenameStep(_message.Message):
    __slots__ = ("columns",)
    class ColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.ScalarMap[str, str]
    def __init__(self, columns: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CastStep(_message.Message):
    __slots__ = ("casts", "on_error")
    class Cast(_message.Message):
        __slots__ = ("column", "type")
        COLUMN_FIELD_NUMBER: _ClassVar[int]
        TYPE_FIELD_NUMBER: _ClassVar[int]
        column: str
        type: _common_pb2.DataType
        def __init__(self, column: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.DataType, str]] = ...) -> None: ...
    CASTS_FIELD_NUMBER: _ClassVar[int]
    ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    casts: _containers.RepeatedCompositeFieldContainer[CastStep.Cast]
    on_error: CastErrorPolicy
    def __init__(self, casts: _Optional[_Iterable[_Union[CastStep.Cast, _Mapping]]] = ..., on_error: _Optional[_Union[CastErrorPolicy, str]] = ...) -> None: ...

class ParseDatesStep(_message.Message):
    __slots__ = ("columns", "format", "type", "timezone", "on_error")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    format: str
    type: _common_pb2.DataType
    timezone: str
    on_error: CastErrorPolicy
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., format: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.DataType, str]] = ..., timezone: _Optional[str] = ..., on_error: _Optional[_Union[CastErrorPolicy, str]] = ...) -> None: ...

class DropDuplicatesStep(_message.Message):
    __slots__ = ("subset", "keep")
    class Keep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KEEP_UNSPECIFIED: _ClassVar[DropDuplicatesStep.Keep]
        KEEP_FIRST: _ClassVar[DropDuplicatesStep.Keep]
        KEEP_LAST: _ClassVar[DropDuplicatesStep.Keep]
        KEEP_NONE: _ClassVar[DropDuplicatesStep.Keep]
    KEEP_UNSPECIFIED: DropDuplicatesStep.Keep
    KEEP_FIRST: DropDuplicatesStep.Keep
    KEEP_LAST: DropDuplicatesStep.Keep
    KEEP_NONE: DropDuplicatesStep.Keep
    SUBSET_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    subset: _containers.RepeatedScalarFieldContainer[str]
    keep: DropDuplicatesStep.Keep
    def __init__(self, subset: _Optional[_Iterable[str]] = ..., keep: _Optional[_Union[DropDuplicatesStep.Keep, str]] = ...) -> None: ...

class MissingValuesStep(_message.Message):
    __slots__ = ("columns", "strategy", "fill_value", "order_by", "partition_by")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    FILL_VALUE_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PARTITION_BY_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    strategy: MissingValueStrategy
    fill_value: _struct_pb2.Value
    order_by: _containers.RepeatedCompositeFieldContainer[_common_pb2.OrderBy]
    partition_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., strategy: _Optional[_Union[MissingValueStrategy, str]] = ..., fill_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., order_by: _Optional[_Iterable[_Union[_common_pb2.OrderBy, _Mapping]]] = ..., partition_by: _Optional[_Iterable[str]] = ...) -> None: ...

class OutliersStep(_message.Message):
    __slots__ = ("columns", "method", "threshold", "action")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    method: OutlierMethod
    threshold: float
    action: OutlierAction
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., method: _Optional[_Union[OutlierMethod, str]] = ..., threshold: _Optional[float] = ..., action: _Optional[_Union[OutlierAction, str]] = ...) -> None: ...

class StringCleanStep(_message.Message):
    __slots__ = ("columns", "trim", "collapse_whitespace", "case", "normalize_unicode", "null_tokens")
    class Case(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CASE_UNSPECIFIED: _ClassVar[StringCleanStep.Case]
        CASE_LOWER: _ClassVar[StringCleanStep.Case]
        CASE_UPPER: _ClassVar[StringCleanStep.Case]
    CASE_UNSPECIFIED: StringCleanStep.Case
    CASE_LOWER: StringCleanStep.Case
    CASE_UPPER: StringCleanStep.Case
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    TRIM_FIELD_NUMBER: _ClassVar[int]
    COLLAPSE_WHITESPACE_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    NORMALIZE_UNICODE_FIELD_NUMBER: _ClassVar[int]
    NULL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    trim: bool
    collapse_whitespace: bool
    case: StringCleanStep.Case
    normalize_unicode: bool
    null_tokens: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., trim: _Optional[bool] = ..., collapse_whitespace: _Optional[bool] = ..., case: _Optional[_Union[StringCleanStep.Case, str]] = ..., normalize_unicode: _Optional[bool] = ..., null_tokens: _Optional[_Iterable[str]] = ...) -> None: ...

class Predicate(_message.Message):
    __slots__ = ("comparison", "all_of", "any_of", "negate")
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    ALL_OF_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_FIELD_NUMBER: _ClassVar[int]
    NEGATE_FIELD_NUMBER: _ClassVar[int]
    comparison: Comparison
    all_of: PredicateList
    any_of: PredicateList
    negate: Predicate
    def __init__(self, comparison: _Optional[_Union[Comparison, _Mapping]] = ..., all_of: _Optional[_Union[PredicateList, _Mapping]] = ..., any_of: _Optional[_Union[PredicateList, _Mapping]] = ..., negate: _Optional[_Union[Predicate, _Mapping]] = ...) -> None: ...

class PredicateList(_message.Message):
    __slots__ = ("predicates",)
    PREDICATES_FIELD_NUMBER: _ClassVar[int]
    predicates: _containers.RepeatedCompositeFieldContainer[Predicate]
    def __init__(self, predicates: _Optional[_Iterable[_Union[Predicate, _Mapping]]] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("column", "op", "value", "values", "other_column")
    class Operator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OPERATOR_UNSPECIFIED: _ClassVar[Comparison.Operator]
        OPERATOR_EQ: _ClassVar[Comparison.Operator]
        OPERATOR_NE: _ClassVar[Comparison.Operator]
        OPERATOR_LT: _ClassVar[Comparison.Operator]
        OPERATOR_LE: _ClassVar[Comparison.Operator]
        OPERATOR_GT: _ClassVar[Comparison.Operator]
        OPERATOR_GE: _ClassVar[Comparison.Operator]
        OPERATOR_IN: _ClassVar[Comparison.Operator]
        OPERATOR_NOT_IN: _ClassVar[Comparison.Operator]
        OPERATOR_BETWEEN: _ClassVar[Comparison.Operator]
        OPERATOR_IS_NULL: _ClassVar[Comparison.Operator]
        OPERATOR_IS_NOT_NULL: _ClassVar[Comparison.Operator]
        OPERATOR_CONTAINS: _ClassVar[Comparison.Operator]
        OPERATOR_STARTS_WITH: _ClassVar[Comparison.Operator]
        OPERATOR_ENDS_WITH: _ClassVar[Comparison.Operator]
    OPERATOR_UNSPECIFIED: Comparison.Operator
    OPERATOR_EQ: Comparison.Operator
    OPERATOR_NE: Comparison.Operator
    OPERATOR_LT: Comparison.Operator
    OPERATOR_LE: Comparison.Operator
    OPERATOR_GT: Comparison.Operator
    OPERATOR_GE: Comparison.Operator
    OPERATOR_IN: Comparison.Operator
    OPERATOR_NOT_IN: Comparison.Operator
    OPERATOR_BETWEEN: Comparison.Operator
    OPERATOR_IS_NULL: Comparison.Operator
    OPERATOR_IS_NOT_NULL: Comparison.Operator
    OPERATOR_CONTAINS: Comparison.Operator
    OPERATOR_STARTS_WITH: Comparison.Operator
    OPERATOR_ENDS_WITH: Comparison.Operator
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    OTHER_COLUMN_FIELD_NUMBER: _ClassVar[int]
    column: str
    op: Comparison.Operator
    value: _struct_pb2.Value
    values: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    other_column: str
    def __init__(self, column: _Optional[str] = ..., op: _Optional[_Union[Comparison.Operator, str]] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., values: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., other_column: _Optional[str] = ...) -> None: ...

class FilterStep(_message.Message):
    __slots__ = ("keep",)
    KEEP_FIELD_NUMBER: _ClassVar[int]
    keep: Predicate
    def __init__(self, keep: _Optional[_Union[Predicate, _Mapping]] = ...) -> None: ...

class DeriveStep(_message.Message):
    __slots__ = ("column", "expression", "type")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    column: str
    expression: str
    type: _common_pb2.DataType
    def __init__(self, column: _Optional[str] = ..., expression: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.DataType, str]] = ...) -> None: ...

class JoinStep(_message.Message):
    __slots__ = ("right", "type", "keys", "suffix")
    class JoinType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        JOIN_TYPE_UNSPECIFIED: _ClassVar[JoinStep.JoinType]
        JOIN_TYPE_INNER: _ClassVar[JoinStep.JoinType]
        JOIN_TYPE_LEFT: _ClassVar[JoinStep.JoinType]
        JOIN_TYPE_FULL_OUTER: _ClassVar[JoinStep.JoinType]
    JOIN_TYPE_UNSPECIFIED: JoinStep.JoinType
    JOIN_TYPE_INNER: JoinStep.JoinType
    JOIN_TYPE_LEFT: JoinStep.JoinType
    JOIN_TYPE_FULL_OUTER: JoinStep.JoinType
    class Key(_message.Message):
        __slots__ = ("left", "right")
        LEFT_FIELD_NUMBER: _ClassVar[int]
        RIGHT_FIELD_NUMBER: _ClassVar[int]
        left: str
        right: str
        def __init__(self, left: _Optional[str] = ..., right: _Optional[str] = ...) -> None: ...
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    right: str
    type: JoinStep.JoinType
    keys: _containers.RepeatedCompositeFieldContainer[JoinStep.Key]
    suffix: str
    def __init__(self, right: _Optional[str] = ..., type: _Optional[_Union[JoinStep.JoinType, str]] = ..., keys: _Optional[_Iterable[_Union[JoinStep.Key, _Mapping]]] = ..., suffix: _Optional[str] = ...) -> None: ...

class UnionStep(_message.Message):
    __slots__ = ("sources", "allow_missing_columns", "distinct")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MISSING_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedScalarFieldContainer[str]
    allow_missing_columns: bool
    distinct: bool
    def __init__(self, sources: _Optional[_Iterable[str]] = ..., allow_missing_columns: _Optional[bool] = ..., distinct: _Optional[bool] = ...) -> None: ...

class SplitSpec(_message.Message):
    __slots__ = ("method", "parts", "seed", "column", "time_boundaries")
    class Part(_message.Message):
        __slots__ = ("name", "fraction")
        NAME_FIELD_NUMBER: _ClassVar[int]
        FRACTION_FIELD_NUMBER: _ClassVar[int]
        name: str
        fraction: float
        def __init__(self, name: _Optional[str] = ..., fraction: _Optional[float] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    TIME_BOUNDARIES_FIELD_NUMBER: _ClassVar[int]
    method: SplitMethod
    parts: _containers.RepeatedCompositeFieldContainer[SplitSpec.Part]
    seed: int
    column: str
    time_boundaries: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, method: _Optional[_Union[SplitMethod, str]] = ..., parts: _Optional[_Iterable[_Union[SplitSpec.Part, _Mapping]]] = ..., seed: _Optional[int] = ..., column: _Optional[str] = ..., time_boundaries: _Optional[_Iterable[str]] = ...) -> None: ...

class IngestTarget(_message.Message):
    __slots__ = ("dataset", "create_dataset", "description", "tags", "sharing")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATASET_FIELD_NUMBER: _ClassVar[int]
    CREATE_DATASET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SHARING_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    create_dataset: bool
    description: str
    tags: _containers.ScalarMap[str, str]
    sharing: _common_pb2.Sharing
    def __init__(self, dataset: _Optional[str] = ..., create_dataset: _Optional[bool] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., sharing: _Optional[_Union[_common_pb2.Sharing, _Mapping]] = ...) -> None: ...

class CreateIngestJobRequest(_message.Message):
    __slots__ = ("project", "recipe", "target", "idempotency_key")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    project: str
    recipe: Recipe
    target: IngestTarget
    idempotency_key: str
    def __init__(self, project: _Optional[str] = ..., recipe: _Optional[_Union[Recipe, _Mapping]] = ..., target: _Optional[_Union[IngestTarget, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class IngestTask(_message.Message):
    __slots__ = ("job_id", "project", "request_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    project: str
    request_id: str
    def __init__(self, job_id: _Optional[str] = ..., project: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class IngestProgress(_message.Message):
    __slots__ = ("phase", "rows_read", "bytes_read", "bytes_total", "rows_written", "message", "updated_at")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ROWS_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ROWS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    phase: IngestPhase
    rows_read: int
    bytes_read: int
    bytes_total: int
    rows_written: int
    message: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, phase: _Optional[_Union[IngestPhase, str]] = ..., rows_read: _Optional[int] = ..., bytes_read: _Optional[int] = ..., bytes_total: _Optional[int] = ..., rows_written: _Optional[int] = ..., message: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MalformedRow(_message.Message):
    __slots__ = ("line", "source", "reason")
    LINE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    line: int
    source: str
    reason: str
    def __init__(self, line: _Optional[int] = ..., source: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class IngestResult(_message.Message):
    __slots__ = ("dataset_version_id", "version", "uri", "content_hash", "row_count", "size_bytes", "schema", "statistics", "split_rows", "skipped_rows", "skipped_examples", "resolved_recipe", "warnings")
    class SplitRowsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DATASET_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ROWS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_ROWS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_RECIPE_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    dataset_version_id: str
    version: int
    uri: str
    content_hash: str
    row_count: int
    size_bytes: int
    schema: _common_pb2.Schema
    statistics: _containers.RepeatedCompositeFieldContainer[_common_pb2.ColumnStatistics]
    split_rows: _containers.ScalarMap[str, int]
    skipped_rows: int
    skipped_examples: _containers.RepeatedCompositeFieldContainer[MalformedRow]
    resolved_recipe: Recipe
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset_version_id: _Optional[str] = ..., version: _Optional[int] = ..., uri: _Optional[str] = ..., content_hash: _Optional[str] = ..., row_count: _Optional[int] = ..., size_bytes: _Optional[int] = ..., schema: _Optional[_Union[_common_pb2.Schema, _Mapping]] = ..., statistics: _Optional[_Iterable[_Union[_common_pb2.ColumnStatistics, _Mapping]]] = ..., split_rows: _Optional[_Mapping[str, int]] = ..., skipped_rows: _Optional[int] = ..., skipped_examples: _Optional[_Iterable[_Union[MalformedRow, _Mapping]]] = ..., resolved_recipe: _Optional[_Union[Recipe, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class IngestJob(_message.Message):
    __slots__ = ("id", "project", "state", "recipe", "target", "progress", "result", "error", "attempt", "run_id", "created_by", "created_at", "started_at", "finished_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    state: IngestJobState
    recipe: Recipe
    target: IngestTarget
    progress: IngestProgress
    result: IngestResult
    error: str
    attempt: int
    run_id: str
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., state: _Optional[_Union[IngestJobState, str]] = ..., recipe: _Optional[_Union[Recipe, _Mapping]] = ..., target: _Optional[_Union[IngestTarget, _Mapping]] = ..., progress: _Optional[_Union[IngestProgress, _Mapping]] = ..., result: _Optional[_Union[IngestResult, _Mapping]] = ..., error: _Optional[str] = ..., attempt: _Optional[int] = ..., run_id: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetIngestJobRequest(_message.Message):
    __slots__ = ("project", "job_id", "dataset_version_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    job_id: str
    dataset_version_id: str
    def __init__(self, project: _Optional[str] = ..., job_id: _Optional[str] = ..., dataset_version_id: _Optional[str] = ...) -> None: ...

class ListIngestJobsRequest(_message.Message):
    __slots__ = ("project", "filters", "order_by", "page")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    filters: _containers.RepeatedCompositeFieldContainer[_common_pb2.Filter]
    order_by: _containers.RepeatedCompositeFieldContainer[_common_pb2.OrderBy]
    page: _common_pb2.PageRequest
    def __init__(self, project: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[_common_pb2.Filter, _Mapping]]] = ..., order_by: _Optional[_Iterable[_Union[_common_pb2.OrderBy, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListIngestJobsResponse(_message.Message):
    __slots__ = ("jobs", "page")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[IngestJob]
    page: _common_pb2.PageInfo
    def __init__(self, jobs: _Optional[_Iterable[_Union[IngestJob, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class CancelIngestJobRequest(_message.Message):
    __slots__ = ("project", "job_id", "reason")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    project: str
    job_id: str
    reason: str
    def __init__(self, project: _Optional[str] = ..., job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WatchIngestJobRequest(_message.Message):
    __slots__ = ("project", "job_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    job_id: str
    def __init__(self, project: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class PreviewIngestRequest(_message.Message):
    __slots__ = ("project", "recipe", "sample_rows", "limit")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_ROWS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    project: str
    recipe: Recipe
    sample_rows: int
    limit: int
    def __init__(self, project: _Optional[str] = ..., recipe: _Optional[_Union[Recipe, _Mapping]] = ..., sample_rows: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class PreviewIngestResponse(_message.Message):
    __slots__ = ("schema", "rows", "resolved_recipe", "malformed", "warnings")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_RECIPE_FIELD_NUMBER: _ClassVar[int]
    MALFORMED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    schema: _common_pb2.Schema
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.ListValue]
    resolved_recipe: Recipe
    malformed: _containers.RepeatedCompositeFieldContainer[MalformedRow]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, schema: _Optional[_Union[_common_pb2.Schema, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.ListValue, _Mapping]]] = ..., resolved_recipe: _Optional[_Union[Recipe, _Mapping]] = ..., malformed: _Optional[_Iterable[_Union[MalformedRow, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewDatasetVersionRequest(_message.Message):
    __slots__ = ("project", "dataset_version_id", "split", "columns", "limit")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    project: str
    dataset_version_id: str
    split: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    def __init__(self, project: _Optional[str] = ..., dataset_version_id: _Optional[str] = ..., split: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ...) -> None: ...

class PreviewDatasetVersionResponse(_message.Message):
    __slots__ = ("schema", "rows")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    schema: _common_pb2.Schema
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.ListValue]
    def __init__(self, schema: _Optional[_Union[_common_pb2.Schema, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.ListValue, _Mapping]]] = ...) -> None: ...
