"""The Open Inference Protocol's tensor datatypes: the numpy dtype of each numeric one
(little-endian, as raw tensor contents are) and the InferTensorContents field a datatype's typed
values travel in; and the parameters AI Mass adds to the protocol. Shared by the predictor and the
gateway."""

from __future__ import annotations

from typing import Any

import numpy as np

NUMERIC_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("?"),
    "INT8": np.dtype("i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
DATATYPES = (*NUMERIC_DTYPES, "BYTES")
CONTENTS_FIELDS: dict[str, str] = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP16": "fp32_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

# Response parameter: the id of the prediction, for joining ground truth to the prediction log.
PREDICTION_ID = "prediction_id"
# Request parameter: the rows of each request a caller fused into this one (the gateway's
# coalescing), e.g. "1,1,3". Each segment is a request of its own for the prediction log and gets
# its own id; the ids come back, comma-separated and in order, as PREDICTION_IDS instead of
# PREDICTION_ID.
SEGMENTS = "aimass_segments"
PREDICTION_IDS = "prediction_ids"
