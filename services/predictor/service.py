"""The predictor's operations behind the gRPC servicers: Open Inference (live, ready, metadata,
infer) and administration (loaded models, reload, stats)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from aimass.events.v1 import events_pb2
from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.predictor.v1 import predictor_pb2 as ppb
from services.common.errors import AimassError, InvalidArgument, Unavailable
from services.common.oip_types import PREDICTION_ID, PREDICTION_IDS, SEGMENTS
from services.predictor.metrics import PredictorMetrics
from services.predictor.predlog import PredictionLog, new_prediction_id, rows_json, sampled
from services.predictor.serving import (
    Inputs,
    LoadedVersion,
    ModelRepository,
    Outputs,
    rows_of,
)
from services.predictor.tensors import decode_inputs, encode_outputs

logger = logging.getLogger(__name__)

SERVER_NAME = "aimass-predictor"
MAX_SEGMENTS = 4096


class Predictor:
    def __init__(
        self,
        repository: ModelRepository,
        log: PredictionLog,
        metrics: PredictorMetrics,
        instance: str,
        version: str,
    ) -> None:
        self.repository = repository
        self.log = log
        self.metrics = metrics
        self.instance = instance
        self.version = version
        self._random = random.Random()

    # -- Open Inference ------------------------------------------------------------------------

    def server_ready(self) -> bool:
        return self.repository.ready

    def model_ready(self, name: str, version: str) -> bool:
        try:
            loaded, _ = self.repository.route(name, version)
        except AimassError:
            return False
        return loaded.state == ppb.LOAD_STATE_READY

    def server_metadata(self) -> oip.ServerMetadataResponse:
        return oip.ServerMetadataResponse(name=SERVER_NAME, version=self.version, extensions=[])

    def model_metadata(self, name: str, version: str) -> oip.ModelMetadataResponse:
        loaded, _ = self.repository.route(name, version)
        state = self.repository.deployments[name]
        tensor = oip.ModelMetadataResponse.TensorMetadata
        return oip.ModelMetadataResponse(
            name=name,
            versions=[str(v.version) for v in state.versions()],
            platform=loaded.runtime.platform,
            inputs=[
                tensor(name=s.name, datatype=s.datatype, shape=s.shape)
                for s in loaded.runtime.inputs
            ],
            outputs=[
                tensor(name=s.name, datatype=s.datatype, shape=s.shape)
                for s in loaded.runtime.outputs
            ],
        )

    async def infer(
        self, request: oip.ModelInferRequest, time_remaining: float | None
    ) -> oip.ModelInferResponse:
        started = time.perf_counter()
        prediction_id = new_prediction_id()
        segments: list[int] = []
        ids = [prediction_id]
        loaded: LoadedVersion | None = None
        canary = False
        inputs: Inputs = {}
        outputs: Outputs = {}
        queue_s = compute_s = 0.0
        code = grpc.StatusCode.OK
        error = ""
        try:
            loaded, canary = self.repository.route(request.model_name, request.model_version)
            inputs = decode_inputs(request)
            rows = rows_of(inputs)
            segments = segments_of(request, rows)
            if segments:
                ids += [new_prediction_id() for _ in segments[1:]]
            deadline = None if time_remaining is None else time.monotonic() + time_remaining
            try:
                outputs, done = await loaded.infer(inputs, rows, deadline)
            except Unavailable:
                if loaded.state != ppb.LOAD_STATE_DRAINING:
                    raise
                # Switched away while this request was on its way in: the new version answers.
                loaded, canary = self.repository.route(request.model_name, request.model_version)
                outputs, done = await loaded.infer(inputs, rows, deadline)
            queue_s, compute_s = done.queue_seconds, done.compute_seconds
            chosen = _requested(outputs, request.outputs)
            tensors, raw = encode_outputs(chosen, raw=bool(request.raw_input_contents))
            response = oip.ModelInferResponse(
                model_name=request.model_name,
                model_version=str(loaded.version),
                id=request.id,
                outputs=tensors,
                raw_output_contents=raw,
            )
            if segments:
                response.parameters[PREDICTION_IDS].string_param = ",".join(ids)
            else:
                response.parameters[PREDICTION_ID].string_param = prediction_id
            return response
        except AimassError as exc:
            code, error = exc.code, exc.message
            raise
        except Exception as exc:
            code, error = grpc.StatusCode.INTERNAL, str(exc)
            raise
        finally:
            total = time.perf_counter() - started
            if loaded is not None:
                self._account(loaded, code, total, queue_s, compute_s, inputs, len(segments) or 1)
                outcome = (code, error, (queue_s, compute_s, total))
                self._record_each(ids, segments, loaded, canary, inputs, outputs, outcome)

    def _record_each(
        self,
        ids: Sequence[str],
        segments: Sequence[int],
        loaded: LoadedVersion,
        canary: bool,
        inputs: Inputs,
        outputs: Outputs,
        outcome: tuple[grpc.StatusCode, str, tuple[float, float, float]],
    ) -> None:
        """The request sampled and logged, or, when it fused several (``segments``), each of
        them on its own under the id it was given, with its rows."""
        code, error, seconds = outcome
        if not segments:
            if sampled(loaded.config.sample_rate, self._random):
                self._record(ids[0], loaded, canary, code, error, inputs, outputs, seconds)
            return
        start = 0
        for prediction_id, count in zip(ids, segments, strict=True):
            end = start + count
            if sampled(loaded.config.sample_rate, self._random):
                self._record(
                    prediction_id,
                    loaded,
                    canary,
                    code,
                    error,
                    {name: array[start:end] for name, array in inputs.items()},
                    {name: array[start:end] for name, array in outputs.items()},
                    seconds,
                )
            start = end

    def _account(
        self,
        loaded: LoadedVersion,
        code: grpc.StatusCode,
        total: float,
        queue_s: float,
        compute_s: float,
        inputs: Inputs,
        requests: int,
    ) -> None:
        stats = loaded.stats
        stats.requests += requests
        stats.rows += rows_of(inputs)
        if code == grpc.StatusCode.OK:
            stats.total.append(total)
            stats.queue.append(queue_s)
            stats.compute.append(compute_s)
        elif code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            stats.rejected += 1
        elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
            stats.timed_out += 1
        elif code == grpc.StatusCode.CANCELLED:
            stats.cancelled += 1
        else:
            stats.errors += 1
        for _ in range(requests):
            self.metrics.observe_request(
                loaded.deployment.name, str(loaded.version), code.name, total
            )

    def _record(
        self,
        prediction_id: str,
        loaded: LoadedVersion,
        canary: bool,
        code: grpc.StatusCode,
        error: str,
        inputs: Inputs,
        outputs: Outputs,
        seconds: tuple[float, float, float],
    ) -> None:
        queue_s, compute_s, total = seconds
        occurred = Timestamp()
        occurred.GetCurrentTime()
        record = events_pb2.PredictionRecord(
            prediction_id=prediction_id,
            occurred_at=occurred,
            deployment_id=loaded.deployment.id,
            model=loaded.model_version.model,
            model_version=loaded.version,
            canary=canary,
            queue_us=int(queue_s * 1e6),
            compute_us=int(compute_s * 1e6),
            total_us=int(total * 1e6),
            batch_size=rows_of(inputs),
            status=code.name,
            error=error,
            inputs_json=rows_json(inputs) if inputs else "",
            outputs_json=rows_json(outputs) if outputs else "",
            predictor_instance=self.instance,
        )
        self.log.offer(record)

    # -- administration ------------------------------------------------------------------------

    def loaded_models(self, model: str) -> ppb.ListLoadedModelsResponse:
        response = ppb.ListLoadedModelsResponse()
        for name, state in sorted(self.repository.deployments.items()):
            if model and model not in (name, state.deployment.model):
                continue
            for loaded in state.versions():
                percent = 100
                if state.canary is not None:
                    canary = loaded is state.canary
                    percent = state.canary_percent if canary else 100 - state.canary_percent
                response.models.append(_loaded_model(loaded, percent))
        for name, failure in sorted(self.repository.failures.items()):
            if model and model not in (name, failure.deployment.model):
                continue
            response.models.append(
                ppb.LoadedModel(
                    deployment_id=failure.deployment.id,
                    deployment=name,
                    deployment_revision=failure.deployment.revision,
                    project=failure.deployment.project_id,
                    model=name,
                    version=failure.version,
                    state=ppb.LOAD_STATE_FAILED,
                    error=failure.error,
                )
            )
        return response

    async def reload(self) -> ppb.ReloadResponse:
        await self.repository.sync()
        return ppb.ReloadResponse()

    def model_stats(self, model: str, version: int) -> ppb.GetModelStatsResponse:
        response = ppb.GetModelStatsResponse(instance=self.instance)
        for name, state in sorted(self.repository.deployments.items()):
            if model and name != model:
                continue
            for loaded in state.versions():
                if version and loaded.version != version:
                    continue
                response.stats.append(_stats(name, loaded))
        return response


def _requested(
    outputs: Outputs,
    wanted: Sequence[oip.ModelInferRequest.InferRequestedOutputTensor],
) -> Outputs:
    if not wanted:
        return outputs
    unknown = [w.name for w in wanted if w.name not in outputs]
    if unknown:
        raise InvalidArgument(
            f"the model has no output {', '.join(map(repr, unknown))}; it has "
            f"{', '.join(map(repr, outputs))}"
        )
    return {w.name: outputs[w.name] for w in wanted}


def _loaded_model(loaded: LoadedVersion, percent: int) -> ppb.LoadedModel:
    result = ppb.LoadedModel(
        deployment_id=loaded.deployment.id,
        deployment=loaded.deployment.name,
        deployment_revision=loaded.deployment.revision,
        project=loaded.deployment.project_id,
        model=loaded.deployment.name,
        version=loaded.version,
        model_version_id=loaded.model_version.id,
        aliases=list(loaded.model_version.aliases),
        runtime=loaded.runtime.platform,
        artifact_uri=loaded.model_version.artifact_uri,
        state=loaded.state,
        traffic_percent=percent,
        config=loaded.config,
    )
    result.loaded_at.FromSeconds(int(loaded.loaded_at))
    result.load_time.FromNanoseconds(int(loaded.load_seconds * 1e9))
    return result


def _stats(name: str, loaded: LoadedVersion) -> ppb.ModelStats:
    stats = loaded.stats
    result = ppb.ModelStats(
        model=name,
        version=loaded.version,
        requests=stats.requests,
        rows=stats.rows,
        errors=stats.errors,
        rejected=stats.rejected,
        timed_out=stats.timed_out,
        cancelled=stats.cancelled,
        batches=stats.batches,
        mean_batch_size=stats.batch_rows / stats.batches if stats.batches else 0.0,
        queue_depth=loaded.batcher.queued_rows,
        queue_latency=_summary(stats.queue),
        compute_latency=_summary(stats.compute),
        total_latency=_summary(stats.total),
    )
    result.since.FromSeconds(int(stats.since))
    return result


def _summary(values: Sequence[float]) -> ppb.LatencySummary:
    if not values:
        return ppb.LatencySummary()
    p50, p90, p99 = np.quantile(np.fromiter(values, dtype=np.float64), [0.5, 0.9, 0.99])
    return ppb.LatencySummary(
        p50_seconds=float(p50), p90_seconds=float(p90), p99_seconds=float(p99),
        max_seconds=float(max(values)),
    )  # fmt: skip


def segments_of(request: oip.ModelInferRequest, rows: int) -> list[int]:
    """The rows of each request fused into this one (SEGMENTS); [] when it fuses none."""
    if SEGMENTS not in request.parameters:
        return []
    text = request.parameters[SEGMENTS].string_param
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or len(counts) > MAX_SEGMENTS or min(counts) < 1 or sum(counts) != rows:
        raise InvalidArgument(
            f"parameter {SEGMENTS} must give the rows of each fused request (at most "
            f"{MAX_SEGMENTS}) as positive whole numbers adding up to the {rows} rows sent, "
            f"e.g. '1,2'; got {text[:100]!r}"
        )
    return counts
