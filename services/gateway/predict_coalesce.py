"""Coalescing: concurrent predictions of one deployment sent to the predictor as one call.

Under load most of a predictor's time goes to handling calls, not to the model (a 64-row xgboost
batch costs little more than one row). So the gateway fuses the requests that wait for the same
deployment, version and input signature into one ``ModelInfer``: their rows are stacked along
the first dimension, the parameter ``aimass_segments`` tells the predictor where each request's
rows start, and the answer is cut back into one response per caller, each with its own
prediction id (the predictor logs each request on its own, as if it had come alone).

A lane (one key) has at most ``in_flight`` calls out at a time. A request that finds a free slot
goes out at once and alone, so a lone caller waits for nothing; requests arriving while the slots
are busy queue and leave together, up to ``max_rows`` rows, when a call comes back. When a fused
call fails in a way that may be one request's fault (bad input, say), each request is sent again
alone, so every caller gets its own answer or its own error. Requests with parameters of their
own, or whose tensors do not have one first dimension, always go alone.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
from prometheus_client import Counter, Histogram

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.oip_types import (
    CONTENTS_FIELDS,
    NUMERIC_DTYPES,
    PREDICTION_ID,
    PREDICTION_IDS,
    SEGMENTS,
)
from services.gateway.predict_tensors import bytes_ends

# Failures that concern the whole call, not one request in it: every caller gets the same.
SHARED_FAILURES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.NOT_FOUND,
    }
)

FUSED_REQUESTS = Histogram(
    "aimass_gateway_predictor_call_requests",
    "Prediction requests per call to the predictor (more than one: coalesced).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
RESENT = Counter(
    "aimass_gateway_coalesced_resent_total",
    "Requests sent again alone after the fused call that carried them failed.",
)

Send = Callable[[oip.ModelInferRequest], Awaitable[oip.ModelInferResponse]]
Key = tuple[object, ...]


class CannotSplit(Exception):
    """The predictor's answer to a fused call cannot be cut per request (an older predictor, or
    an output without one row per input row): each request is sent again alone."""


def fusion_key(request: oip.ModelInferRequest) -> tuple[Key, int] | None:
    """The lane of a request and its rows; None when it must go alone."""
    if request.parameters or not request.inputs:
        return None
    raw = bool(request.raw_input_contents)
    if raw and len(request.raw_input_contents) != len(request.inputs):
        return None
    rows = -1
    signature: list[object] = [request.model_name, request.model_version, raw]
    for tensor in request.inputs:
        if tensor.parameters or tensor.datatype not in CONTENTS_FIELDS or not tensor.shape:
            return None
        if rows >= 0 and tensor.shape[0] != rows:
            return None
        rows = tensor.shape[0]
        if raw and tensor.HasField("contents"):
            return None
        signature.append((tensor.name, tensor.datatype, tuple(tensor.shape[1:])))
    if rows < 1:
        return None
    for output in request.outputs:
        if output.parameters:
            return None
        signature.append(output.name)
    return tuple(signature), rows


def fuse(requests: Sequence[oip.ModelInferRequest], rows: Sequence[int]) -> oip.ModelInferRequest:
    """One request with the rows of all (of one lane), in order, and their segments."""
    first = requests[0]
    total = sum(rows)
    fused = oip.ModelInferRequest(model_name=first.model_name, model_version=first.model_version)
    fused.outputs.extend(first.outputs)
    for index, tensor in enumerate(first.inputs):
        stacked = fused.inputs.add(name=tensor.name, datatype=tensor.datatype)
        stacked.shape.extend([total, *tensor.shape[1:]])
        if first.raw_input_contents:
            continue
        field_name = CONTENTS_FIELDS[tensor.datatype]
        values = getattr(stacked.contents, field_name)
        for request in requests:
            values.extend(getattr(request.inputs[index].contents, field_name))
    if first.raw_input_contents:
        fused.raw_input_contents.extend(
            b"".join(request.raw_input_contents[index] for request in requests)
            for index in range(len(first.inputs))
        )
    fused.parameters[SEGMENTS].string_param = ",".join(str(count) for count in rows)
    return fused


def split(
    response: oip.ModelInferResponse,
    requests: Sequence[oip.ModelInferRequest],
    rows: Sequence[int],
) -> list[oip.ModelInferResponse]:
    """The fused answer cut into one response per request, with its own prediction id."""
    if PREDICTION_IDS not in response.parameters:
        raise CannotSplit("the predictor gave no prediction id per fused request")
    ids = response.parameters[PREDICTION_IDS].string_param.split(",")
    if len(ids) != len(requests):
        raise CannotSplit("the predictor gave no prediction id per fused request")
    total = sum(rows)
    answers = [
        oip.ModelInferResponse(
            model_name=response.model_name, model_version=response.model_version, id=request.id
        )
        for request in requests
    ]
    for answer, prediction_id in zip(answers, ids, strict=True):
        answer.parameters[PREDICTION_ID].string_param = prediction_id
    raw = bool(response.raw_output_contents)
    for index, tensor in enumerate(response.outputs):
        if not tensor.shape or tensor.shape[0] != total or tensor.parameters:
            raise CannotSplit(f"output {tensor.name!r} does not have one row per input row")
        if tensor.datatype not in CONTENTS_FIELDS:
            raise CannotSplit(f"output {tensor.name!r} has an unknown datatype")
        per_row = math.prod(tensor.shape[1:])
        if raw:
            pieces = _raw_rows(response.raw_output_contents[index], tensor.datatype, per_row, rows)
        start = 0
        for position, (answer, count) in enumerate(zip(answers, rows, strict=True)):
            part = answer.outputs.add(name=tensor.name, datatype=tensor.datatype)
            part.shape.extend([count, *tensor.shape[1:]])
            if raw:
                answer.raw_output_contents.append(pieces[position])
            else:
                field_name = CONTENTS_FIELDS[tensor.datatype]
                values = getattr(tensor.contents, field_name)
                first = start * per_row
                getattr(part.contents, field_name).extend(values[first : first + count * per_row])
            start += count
    return answers


def _raw_rows(buffer: bytes, datatype: str, per_row: int, rows: Sequence[int]) -> list[bytes]:
    """``buffer`` cut after each request's rows: fixed-size elements by arithmetic, BYTES by
    walking their 4-byte little-endian length prefixes."""
    elements = list(itertools.accumulate((count * per_row for count in rows), initial=0))
    if datatype in NUMERIC_DTYPES:
        size = NUMERIC_DTYPES[datatype].itemsize
        cuts = [element * size for element in elements]
    else:
        try:
            ends = [0, *bytes_ends(buffer)]
        except struct.error:
            raise CannotSplit("a BYTES output is shorter than its shape") from None
        if len(ends) - 1 != elements[-1]:
            raise CannotSplit("a BYTES output does not hold one element per value of its shape")
        cuts = [ends[element] for element in elements]
    if cuts[-1] != len(buffer):
        raise CannotSplit("an output's bytes do not match its shape")
    return [buffer[start:end] for start, end in zip(cuts, cuts[1:], strict=False)]


@dataclass
class _Waiting:
    request: oip.ModelInferRequest
    rows: int
    answer: asyncio.Future[oip.ModelInferResponse]


@dataclass
class _Lane:
    queue: list[_Waiting] = field(default_factory=list)
    in_flight: int = 0


class Coalescer:
    """Per-process lanes of waiting requests, one per (deployment, version, signature)."""

    def __init__(self, max_rows: int = 256, in_flight: int = 2) -> None:
        self.max_rows = max_rows
        self.in_flight = in_flight
        self._lanes: dict[Key, _Lane] = {}
        self._calls: set[asyncio.Task[None]] = set()

    async def infer(
        self, request: oip.ModelInferRequest, send: Send, timeout: float
    ) -> oip.ModelInferResponse:
        """The predictor's answer to ``request``, alone or fused with others. ``send`` calls the
        predictor (any caller's ``send`` may carry a fused call); a request that has waited
        ``timeout`` seconds in all raises TimeoutError."""
        found = fusion_key(request)
        if found is None or self.max_rows <= 1:
            FUSED_REQUESTS.observe(1)
            return await send(request)
        key, rows = found
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        if lane.in_flight < self.in_flight and not lane.queue:
            lane.in_flight += 1  # a free slot: this request goes now, alone
            try:
                FUSED_REQUESTS.observe(1)
                return await send(request)
            finally:
                self._done(key, lane, send)
        waiting = _Waiting(request, rows, asyncio.get_running_loop().create_future())
        lane.queue.append(waiting)
        if lane.in_flight < self.in_flight:
            self._launch(key, lane, send)
        return await asyncio.wait_for(waiting.answer, timeout)

    def _done(self, key: Key, lane: _Lane, send: Send) -> None:
        lane.in_flight -= 1
        if lane.queue:
            self._launch(key, lane, send)
        elif lane.in_flight == 0:
            self._lanes.pop(key, None)

    def _launch(self, key: Key, lane: _Lane, send: Send) -> None:
        batch: list[_Waiting] = []
        rows = 0
        while lane.queue and (not batch or rows + lane.queue[0].rows <= self.max_rows):
            waiting = lane.queue.pop(0)
            if not waiting.answer.done():  # a caller that left takes no room
                batch.append(waiting)
                rows += waiting.rows
        if not batch:
            if lane.in_flight == 0:
                self._lanes.pop(key, None)
            return
        lane.in_flight += 1
        task = asyncio.create_task(self._call(key, lane, batch, send))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call(self, key: Key, lane: _Lane, batch: list[_Waiting], send: Send) -> None:
        try:
            FUSED_REQUESTS.observe(len(batch))
            if len(batch) == 1:
                await _settle(batch[0], send(batch[0].request))
                return
            requests = [waiting.request for waiting in batch]
            rows = [waiting.rows for waiting in batch]
            try:
                answers = split(await send(fuse(requests, rows)), requests, rows)
            except grpc.aio.AioRpcError as error:
                if error.code() in SHARED_FAILURES:
                    for waiting in batch:
                        _fail(waiting, error)
                    return
            except CannotSplit:
                pass
            except Exception as error:  # noqa: BLE001 - every caller must hear of it
                for waiting in batch:
                    _fail(waiting, error)
                return
            else:
                for waiting, answer in zip(batch, answers, strict=True):
                    if not waiting.answer.done():
                        waiting.answer.set_result(answer)
                return
            RESENT.inc(len(batch))
            await asyncio.gather(*(_settle(waiting, send(waiting.request)) for waiting in batch))
        finally:
            self._done(key, lane, send)


async def _settle(waiting: _Waiting, call: Awaitable[oip.ModelInferResponse]) -> None:
    try:
        answer = await call
    except Exception as error:  # noqa: BLE001 - handed to the caller that waits for it
        _fail(waiting, error)
    else:
        if not waiting.answer.done():
            waiting.answer.set_result(answer)


def _fail(waiting: _Waiting, error: BaseException) -> None:
    if not waiting.answer.done():
        waiting.answer.set_exception(error)
