"""Coalescing, unit level: which requests may fuse, fusing and cutting the answer back (raw,
typed, BYTES), and the lane's behaviour (a lone request goes at once; requests that wait leave
together; each caller gets its own answer or its own error; a caller that leaves harms no other).
The predictor here is a small function that follows the predictor's contract for
``aimass_segments``; tests/gateway/test_gateway_rows.py fuses over the real predictor."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import grpc
import numpy as np
import pytest

from aimass.inference.v2 import open_inference_pb2 as oip
from services.common.oip_types import PREDICTION_ID, PREDICTION_IDS, SEGMENTS
from services.gateway.predict_coalesce import (
    CannotSplit,
    Coalescer,
    fuse,
    fusion_key,
    split,
)

Tensor = oip.ModelInferRequest.InferInputTensor


def raw_request(values: list[list[float]], model: str = "m") -> oip.ModelInferRequest:
    array = np.asarray(values, dtype="<f4")
    return oip.ModelInferRequest(
        model_name=model,
        id=f"req-{values[0][0]:g}",
        inputs=[Tensor(name="x", datatype="FP32", shape=list(array.shape))],
        raw_input_contents=[array.tobytes()],
    )


def typed_request(values: list[int]) -> oip.ModelInferRequest:
    return oip.ModelInferRequest(
        model_name="m",
        inputs=[
            Tensor(
                name="n",
                datatype="INT64",
                shape=[len(values)],
                contents=oip.InferTensorContents(int64_contents=values),
            )
        ],
    )


def bytes_raw(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


class FakePredictor:
    """Doubles FP32 rows (raw in, raw out: ``y`` FP32 and ``tag`` BYTES per row) or INT64 values
    (typed), answers one prediction id per segment, and can be held or made to fail."""

    def __init__(self) -> None:
        self.calls: list[oip.ModelInferRequest] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail: Callable[[oip.ModelInferRequest], grpc.StatusCode | None] = lambda _: None
        self.ids = 0

    async def send(self, request: oip.ModelInferRequest) -> oip.ModelInferResponse:
        self.calls.append(request)
        await self.release.wait()
        code = self.fail(request)
        if code is not None:
            raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "no")
        tensor = request.inputs[0]
        response = oip.ModelInferResponse(model_name=request.model_name, model_version="3")
        response.id = request.id
        if request.raw_input_contents:
            array = np.frombuffer(request.raw_input_contents[0], dtype="<f4").reshape(
                list(tensor.shape)
            )
            response.outputs.add(name="y", datatype="FP32", shape=list(tensor.shape))
            response.raw_output_contents.append((array * 2).astype("<f4").tobytes())
            tags = [f"row{value:g}".encode() for value in array[:, 0]]
            response.outputs.add(name="tag", datatype="BYTES", shape=[len(tags)])
            response.raw_output_contents.append(bytes_raw(tags))
        else:
            values = list(tensor.contents.int64_contents)
            output = response.outputs.add(name="y", datatype="INT64", shape=[len(values)])
            output.contents.int64_contents.extend(v * 2 for v in values)
        segments = (
            request.parameters[SEGMENTS].string_param if SEGMENTS in request.parameters else ""
        )
        count = len(segments.split(",")) if segments else 1
        ids = [f"p{self.ids + index}" for index in range(count)]
        self.ids += count
        if segments:
            response.parameters[PREDICTION_IDS].string_param = ",".join(ids)
        else:
            response.parameters[PREDICTION_ID].string_param = ids[0]
        return response


def y_of(response: oip.ModelInferResponse) -> list[float]:
    tensor = response.outputs[0]
    if response.raw_output_contents:
        return np.frombuffer(response.raw_output_contents[0], dtype="<f4").tolist()
    return list(tensor.contents.int64_contents)


def test_only_requests_with_one_first_dimension_and_no_parameters_fuse() -> None:
    one, two = raw_request([[1, 2]]), raw_request([[3, 4], [5, 6]])
    assert fusion_key(one) is not None and fusion_key(two) is not None
    assert fusion_key(one)[0] == fusion_key(two)[0]  # type: ignore[index]
    assert fusion_key(two)[1] == 2  # type: ignore[index]
    assert fusion_key(raw_request([[1, 2, 3]]))[0] != fusion_key(one)[0]  # type: ignore[index]
    assert fusion_key(raw_request([[1, 2]], model="other"))[0] != fusion_key(one)[0]  # type: ignore[index]
    assert fusion_key(typed_request([1]))[0] != fusion_key(one)[0]  # type: ignore[index]
    with_parameter = raw_request([[1, 2]])
    with_parameter.parameters["binary_data_output"].bool_param = True
    assert fusion_key(with_parameter) is None
    uneven = raw_request([[1, 2]])
    uneven.inputs.add(name="z", datatype="FP32", shape=[2])
    uneven.raw_input_contents.append(b"\0" * 8)
    assert fusion_key(uneven) is None
    scalar = oip.ModelInferRequest(model_name="m", inputs=[Tensor(name="x", datatype="FP32")])
    assert fusion_key(scalar) is None


async def test_fused_raw_rows_come_back_to_their_callers() -> None:
    predictor = FakePredictor()
    requests = [raw_request([[1, 10]]), raw_request([[2, 20], [3, 30]]), raw_request([[4, 40]])]
    rows = [1, 2, 1]
    fused = fuse(requests, rows)
    assert list(fused.inputs[0].shape) == [4, 2]
    assert fused.parameters[SEGMENTS].string_param == "1,2,1"
    answers = split(await predictor.send(fused), requests, rows)
    assert [y_of(a) for a in answers] == [[2, 20], [4, 40, 6, 60], [8, 80]]
    assert [list(a.outputs[0].shape) for a in answers] == [[1, 2], [2, 2], [1, 2]]
    assert [a.raw_output_contents[1] for a in answers] == [
        bytes_raw([b"row1"]),
        bytes_raw([b"row2", b"row3"]),
        bytes_raw([b"row4"]),
    ]
    assert [a.parameters[PREDICTION_ID].string_param for a in answers] == ["p0", "p1", "p2"]
    assert [a.id for a in answers] == [r.id for r in requests]
    assert all(a.model_version == "3" for a in answers)


async def test_fused_typed_values_come_back_to_their_callers() -> None:
    predictor = FakePredictor()
    requests = [typed_request([1, 2]), typed_request([3])]
    answers = split(await predictor.send(fuse(requests, [2, 1])), requests, [2, 1])
    assert [y_of(a) for a in answers] == [[2, 4], [6]]


async def test_an_answer_without_ids_or_rows_per_request_cannot_be_split() -> None:
    predictor = FakePredictor()
    requests = [raw_request([[1, 1]]), raw_request([[2, 2]])]
    answer = await predictor.send(fuse(requests, [1, 1]))
    del answer.parameters[PREDICTION_IDS]
    with pytest.raises(CannotSplit):
        split(answer, requests, [1, 1])
    answer = await predictor.send(fuse(requests, [1, 1]))
    answer.outputs[0].shape[0] = 3
    with pytest.raises(CannotSplit):
        split(answer, requests, [1, 1])


async def _hold_then_burst(
    coalescer: Coalescer, predictor: FakePredictor, requests: list[oip.ModelInferRequest]
) -> list[asyncio.Task[oip.ModelInferResponse]]:
    """The first request takes the lane's one slot and is held; the rest queue behind it."""
    predictor.release.clear()
    tasks = [asyncio.create_task(coalescer.infer(r, predictor.send, 5)) for r in requests]
    while len(predictor.calls) < 1:
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    return tasks


async def test_a_lone_request_goes_at_once_and_waiting_ones_leave_together() -> None:
    predictor = FakePredictor()
    coalescer = Coalescer(max_rows=256, in_flight=1)
    alone = await coalescer.infer(raw_request([[7, 7]]), predictor.send, 5)
    assert y_of(alone) == [14, 14] and SEGMENTS not in predictor.calls[0].parameters
    requests = [raw_request([[float(i), 0]]) for i in range(1, 7)]
    tasks = await _hold_then_burst(coalescer, predictor, requests)
    assert len(predictor.calls) == 2  # the held one; the other five wait
    predictor.release.set()
    answers = await asyncio.gather(*tasks)
    assert [y_of(a)[0] for a in answers] == [2, 4, 6, 8, 10, 12]
    assert len(predictor.calls) == 3
    assert predictor.calls[2].parameters[SEGMENTS].string_param == "1,1,1,1,1"
    assert len({a.parameters[PREDICTION_ID].string_param for a in answers}) == 6


async def test_max_rows_caps_a_fused_call() -> None:
    predictor = FakePredictor()
    coalescer = Coalescer(max_rows=3, in_flight=1)
    requests = [raw_request([[float(i), 0]]) for i in range(1, 9)]
    tasks = await _hold_then_burst(coalescer, predictor, requests)
    predictor.release.set()
    answers = await asyncio.gather(*tasks)
    assert [y_of(a)[0] for a in answers] == [2 * i for i in range(1, 9)]
    fused_rows = [call.inputs[0].shape[0] for call in predictor.calls[1:]]
    assert max(fused_rows) <= 3 and sum(fused_rows) == 7


async def test_a_bad_request_in_a_fused_call_fails_alone() -> None:
    predictor = FakePredictor()
    coalescer = Coalescer(in_flight=1)

    def reject_negative(request: oip.ModelInferRequest) -> grpc.StatusCode | None:
        values = np.frombuffer(request.raw_input_contents[0], dtype="<f4")
        return grpc.StatusCode.INVALID_ARGUMENT if (values < 0).any() else None

    predictor.fail = reject_negative
    requests = [raw_request([[1, 0]]), raw_request([[2, 0]]), raw_request([[-3, 0]])]
    requests.append(raw_request([[4, 0]]))
    tasks = await _hold_then_burst(coalescer, predictor, requests)
    predictor.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [y_of(r)[0] for r in results if isinstance(r, oip.ModelInferResponse)] == [2, 4, 8]
    (error,) = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert results[2] is error
    # the fused call of three, then each of the three alone
    assert [c.inputs[0].shape[0] for c in predictor.calls[1:]] == [3, 1, 1, 1]


async def test_a_predictor_that_is_down_fails_every_waiting_caller_once() -> None:
    predictor = FakePredictor()
    coalescer = Coalescer(in_flight=1)
    predictor.fail = lambda _: grpc.StatusCode.UNAVAILABLE
    tasks = await _hold_then_burst(coalescer, predictor, [raw_request([[i, 0]]) for i in (1, 2, 3)])
    predictor.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(
        isinstance(r, grpc.aio.AioRpcError) and r.code() == grpc.StatusCode.UNAVAILABLE
        for r in results
    )
    assert len(predictor.calls) == 2  # the held one and one fused call: no resending


async def test_an_old_predictor_without_segments_gets_each_request_alone() -> None:
    predictor = FakePredictor()
    plain_send = predictor.send

    async def ignores_segments(request: oip.ModelInferRequest) -> oip.ModelInferResponse:
        answer = await plain_send(request)
        if PREDICTION_IDS in answer.parameters:
            del answer.parameters[PREDICTION_IDS]
            answer.parameters[PREDICTION_ID].string_param = "shared"
        return answer

    predictor.send = ignores_segments  # type: ignore[method-assign]
    coalescer = Coalescer(in_flight=1)
    tasks = await _hold_then_burst(coalescer, predictor, [raw_request([[i, 0]]) for i in (1, 2, 3)])
    predictor.release.set()
    answers = await asyncio.gather(*tasks)
    assert [y_of(a)[0] for a in answers] == [2, 4, 6]
    assert all(a.parameters[PREDICTION_ID].string_param != "shared" for a in answers)


async def test_a_caller_that_leaves_harms_no_other_and_a_wait_has_a_deadline() -> None:
    predictor = FakePredictor()
    coalescer = Coalescer(in_flight=1)
    tasks = await _hold_then_burst(coalescer, predictor, [raw_request([[i, 0]]) for i in (1, 2, 3)])
    tasks[1].cancel()
    predictor.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert y_of(results[0])[0] == 2 and y_of(results[2])[0] == 6  # type: ignore[arg-type]
    left_alone = predictor.calls[-1]  # the one still waiting went alone, without the other's row
    assert SEGMENTS not in left_alone.parameters and list(left_alone.inputs[0].shape) == [1, 2]
    predictor.release.clear()
    held = asyncio.create_task(coalescer.infer(raw_request([[9, 0]]), predictor.send, 5))
    await asyncio.sleep(0.01)
    with pytest.raises(TimeoutError):
        await coalescer.infer(raw_request([[8, 0]]), predictor.send, 0.05)
    predictor.release.set()
    assert y_of(await held)[0] == 18
