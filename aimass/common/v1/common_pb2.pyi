import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTITY_KIND_UNSPECIFIED: _ClassVar[EntityKind]
    ENTITY_KIND_PROJECT: _ClassVar[EntityKind]
    ENTITY_KIND_DATASET: _ClassVar[EntityKind]
    ENTITY_KIND_DATASET_VERSION: _ClassVar[EntityKind]
    ENTITY_KIND_RUN: _ClassVar[EntityKind]
    ENTITY_KIND_MODEL: _ClassVar[EntityKind]
    ENTITY_KIND_MODEL_VERSION: _ClassVar[EntityKind]
    ENTITY_KIND_DEPLOYMENT: _ClassVar[EntityKind]
    ENTITY_KIND_SOURCE: _ClassVar[EntityKind]

class DataType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_TYPE_UNSPECIFIED: _ClassVar[DataType]
    DATA_TYPE_BOOL: _ClassVar[DataType]
    DATA_TYPE_INT8: _ClassVar[DataType]
    DATA_TYPE_INT16: _ClassVar[DataType]
    DATA_TYPE_INT32: _ClassVar[DataType]
    DATA_TYPE_INT64: _ClassVar[DataType]
    DATA_TYPE_UINT8: _ClassVar[DataType]
    DATA_TYPE_UINT16: _ClassVar[DataType]
    DATA_TYPE_UINT32: _ClassVar[DataType]
    DATA_TYPE_UINT64: _ClassVar[DataType]
    DATA_TYPE_FP16: _ClassVar[DataType]
    DATA_TYPE_FP32: _ClassVar[DataType]
    DATA_TYPE_FP64: _ClassVar[DataType]
    DATA_TYPE_BYTES: _ClassVar[DataType]
    DATA_TYPE_STRING: _ClassVar[DataType]
    DATA_TYPE_DATE: _ClassVar[DataType]
    DATA_TYPE_TIMESTAMP: _ClassVar[DataType]
    DATA_TYPE_DECIMAL: _ClassVar[DataType]

class Visibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VISIBILITY_UNSPECIFIED: _ClassVar[Visibility]
    VISIBILITY_PRIVATE: _ClassVar[Visibility]
    VISIBILITY_SHARED: _ClassVar[Visibility]
    VISIBILITY_PUBLIC: _ClassVar[Visibility]
ENTITY_KIND_UNSPECIFIED: EntityKind
ENTITY_KIND_PROJECT: EntityKind
ENTITY_KIND_DATASET: EntityKind
ENTITY_KIND_DATASET_VERSION: EntityKind
ENTITY_KIND_RUN: EntityKind
ENTITY_KIND_MODEL: EntityKind
ENTITY_KIND_MODEL_VERSION: EntityKind
ENTITY_KIND_DEPLOYMENT: EntityKind
ENTITY_KIND_SOURCE: EntityKind
DATA_TYPE_UNSPECIFIED: DataType
DATA_TYPE_BOOL: DataType
DATA_TYPE_INT8: DataType
DATA_TYPE_INT16: DataType
DATA_TYPE_INT32: DataType
DATA_TYPE_INT64: DataType
DATA_TYPE_UINT8: DataType
DATA_TYPE_UINT16: DataType
DATA_TYPE_UINT32: DataType
DATA_TYPE_UINT64: DataType
DATA_TYPE_FP16: DataType
DATA_TYPE_FP32: DataType
DATA_TYPE_FP64: DataType
DATA_TYPE_BYTES: DataType
DATA_TYPE_STRING: DataType
DATA_TYPE_DATE: DataType
DATA_TYPE_TIMESTAMP: DataType
DATA_TYPE_DECIMAL: DataType
VISIBILITY_UNSPECIFIED: Visibility
VISIBILITY_PRIVATE: Visibility
VISIBILITY_SHARED: Visibility
VISIBILITY_PUBLIC: Visibility

class EntityRef(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: EntityKind
    id: str
    def __init__(self, kind: _Optional[_Union[EntityKind, str]] = ..., id: _Optional[str] = ...) -> None: ...

class Field(_message.Message):
    __slots__ = ("name", "type", "nullable", "shape", "logical_type", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: DataType
    nullable: bool
    shape: _containers.RepeatedScalarFieldContainer[int]
    logical_type: str
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[DataType, str]] = ..., nullable: _Optional[bool] = ..., shape: _Optional[_Iterable[int]] = ..., logical_type: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("fields",)
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    def __init__(self, fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ...) -> None: ...

class HistogramBin(_message.Message):
    __slots__ = ("lower", "upper", "count")
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    lower: float
    upper: float
    count: int
    def __init__(self, lower: _Optional[float] = ..., upper: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class ValueCount(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: str
    count: int
    def __init__(self, value: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class Quantile(_message.Message):
    __slots__ = ("q", "value")
    Q_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    q: float
    value: float
    def __init__(self, q: _Optional[float] = ..., value: _Optional[float] = ...) -> None: ...

class ColumnStatistics(_message.Message):
    __slots__ = ("name", "count", "null_count", "distinct_estimate", "min", "max", "mean", "std", "quantiles", "histogram", "top_values", "min_text", "max_text")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NULL_COUNT_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    TOP_VALUES_FIELD_NUMBER: _ClassVar[int]
    MIN_TEXT_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    null_count: int
    distinct_estimate: int
    min: float
    max: float
    mean: float
    std: float
    quantiles: _containers.RepeatedCompositeFieldContainer[Quantile]
    histogram: _containers.RepeatedCompositeFieldContainer[HistogramBin]
    top_values: _containers.RepeatedCompositeFieldContainer[ValueCount]
    min_text: str
    max_text: str
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ..., null_count: _Optional[int] = ..., distinct_estimate: _Optional[int] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., mean: _Optional[float] = ..., std: _Optional[float] = ..., quantiles: _Optional[_Iterable[_Union[Quantile, _Mapping]]] = ..., histogram: _Optional[_Iterable[_Union[HistogramBin, _Mapping]]] = ..., top_values: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ..., min_text: _Optional[str] = ..., max_text: _Optional[str] = ...) -> None: ...

class Sharing(_message.Message):
    __slots__ = ("visibility", "shared_with")
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    visibility: Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, visibility: _Optional[_Union[Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("field", "op", "values")
    class Operator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OPERATOR_UNSPECIFIED: _ClassVar[Filter.Operator]
        OPERATOR_EQ: _ClassVar[Filter.Operator]
        OPERATOR_NE: _ClassVar[Filter.Operator]
        OPERATOR_LT: _ClassVar[Filter.Operator]
        OPERATOR_LE: _ClassVar[Filter.Operator]
        OPERATOR_GT: _ClassVar[Filter.Operator]
        OPERATOR_GE: _ClassVar[Filter.Operator]
        OPERATOR_IN: _ClassVar[Filter.Operator]
        OPERATOR_CONTAINS: _ClassVar[Filter.Operator]
        OPERATOR_EXISTS: _ClassVar[Filter.Operator]
    OPERATOR_UNSPECIFIED: Filter.Operator
    OPERATOR_EQ: Filter.Operator
    OPERATOR_NE: Filter.Operator
    OPERATOR_LT: Filter.Operator
    OPERATOR_LE: Filter.Operator
    OPERATOR_GT: Filter.Operator
    OPERATOR_GE: Filter.Operator
    OPERATOR_IN: Filter.Operator
    OPERATOR_CONTAINS: Filter.Operator
    OPERATOR_EXISTS: Filter.Operator
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    op: Filter.Operator
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, field: _Optional[str] = ..., op: _Optional[_Union[Filter.Operator, str]] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class OrderBy(_message.Message):
    __slots__ = ("field", "descending")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    field: str
    descending: bool
    def __init__(self, field: _Optional[str] = ..., descending: _Optional[bool] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class PageInfo(_message.Message):
    __slots__ = ("next_page_token",)
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    def __init__(self, next_page_token: _Optional[str] = ...) -> None: ...

class Audit(_message.Message):
    __slots__ = ("actor", "at")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    actor: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
