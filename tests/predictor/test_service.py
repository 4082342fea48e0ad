"""The predictor through a real gRPC channel: a real registry holds the deployments, models trained
with the trainer's library sit in a real artifact store, events and prediction records go over
real NATS. Every OIP RPC, raw and typed tensors, batching, hot swap under load, canary
proportions, the prediction log and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.datasets import load_breast_cancer

from aimass.events.v1 import events_pb2
from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.inference.v2 import open_inference_pb2_grpc
from aimass.predictor.v1 import predictor_pb2 as ppb
from aimass.predictor.v1 import predictor_pb2_grpc
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.registry.v1 import registry_pb2_grpc
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.bus import Bus, connect
from services.common.oip_types import PREDICTION_IDS, SEGMENTS
from services.common.store import ArtifactStore
from services.predictor.config import PredictorSettings
from services.predictor.predlog import prediction_subject
from services.predictor.server import PredictorServer, build_server
from services.trainer.library.base import FitOptions, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import FittedModel, ModelSpec, TrainingData, fit_model
from services.trainer.library.preprocessing import feature_columns, resolve_choice
from tests.conftest import delete_streams, nats_url
from tests.helpers import refused, registry_settings, serve_registry

pytestmark = pytest.mark.integration

META = (("x-aimass-actor", "tester"),)
MODEL = "cancer"


@dataclass
class Stack:
    registry: registry_pb2_grpc.RegistryServiceStub
    oip: open_inference_pb2_grpc.GRPCInferenceServiceStub
    admin: predictor_pb2_grpc.PredictorAdminServiceStub
    server: PredictorServer
    bus: Bus
    project: str
    rows: np.ndarray  # test rows, float32 [n, 30]
    columns: list[str]
    # version -> the fitted model that went into the store
    models: dict[int, FittedModel]


def _train(frame: pd.DataFrame, target: pd.Series, rounds: int) -> FittedModel:
    algorithm = get_algorithm("xgboost.gbdt")
    columns = feature_columns(pa.Schema.from_pandas(frame, preserve_index=False), list(frame))
    spec = ModelSpec(
        algorithm=algorithm,
        task=Task.CLASSIFICATION,
        params=algorithm.resolve_params(
            {"n_estimators": rounds, "max_depth": 3, "early_stopping_rounds": None}
        ),
        columns=columns,
        preprocessing=resolve_choice(
            tpb.Preprocessing(),
            scale_by_default=algorithm.scale_by_default,
            one_hot_by_default=algorithm.one_hot_by_default,
            handles_missing=algorithm.handles_missing,
        ),
        options=FitOptions(seed=1, threads=1),
    )
    return fit_model(spec, TrainingData(frame, target))


async def _register(
    stub: registry_pb2_grpc.RegistryServiceStub,
    store: ArtifactStore,
    project: str,
    model: FittedModel,
    folder: Path,
) -> rpb.ModelVersion:
    model.save(folder)
    stored = await store.put_tree(f"models/{MODEL}/{folder.name}", folder)
    return await stub.CreateModelVersion(
        rpb.CreateModelVersionRequest(
            project=project,
            model=MODEL,
            create_model=True,
            framework="xgboost",
            artifact_format=model.artifact_format,
            artifact_uri=stored.uri,
            content_hash=stored.digest,
            task="classification",
        ),
        metadata=META,
    )


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("predictor")
    namespace = f"p{uuid.uuid4().hex[:10]}"
    store_url = (home / "store").as_uri()
    cancer = load_breast_cancer(as_frame=True)
    frame = cancer.data.astype("float32")
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    train, test = frame.iloc[:400], frame.iloc[400:]
    async with contextlib.AsyncExitStack() as exit_stack:
        settings = registry_settings(
            home, f"sqlite+aiosqlite:///{home / 'registry.db'}", namespace, store_url=store_url
        )
        running, _, registry = await serve_registry(exit_stack, settings)
        store = ArtifactStore(store_url)
        project = f"p-{uuid.uuid4().hex[:8]}"
        await registry.CreateProject(rpb.CreateProjectRequest(name=project), metadata=META)
        models = {
            1: _train(train, cancer.target.iloc[:400], 10),
            2: _train(train, cancer.target.iloc[:400], 60),
        }
        for version, model in models.items():
            await _register(registry, store, project, model, home / f"v{version}")
        await registry.CreateDeployment(
            rpb.CreateDeploymentRequest(
                project=project,
                name="bc",
                model=MODEL,
                version=1,
                config=rpb.ServingConfig(max_batch_size=32, max_queue_delay_us=2000),
            ),
            metadata=META,
        )
        predictor_settings = PredictorSettings(
            home=home,
            predictor_port=0,
            store_url=store_url,
            nats_url=nats_url(),
            bus_namespace=namespace,
            metrics_enabled=False,
            grpc_host="127.0.0.1",
            shutdown_grace_seconds=2,
            registry_address=running.address,
            predictor_drain_seconds=5,
        )
        server = await build_server(predictor_settings, exit_stack)
        channel = grpc.aio.insecure_channel(server.running.address)
        exit_stack.push_async_callback(channel.close)
        bus = await connect(predictor_settings, name="test-listener")
        exit_stack.push_async_callback(bus.close)
        yield Stack(
            registry,
            open_inference_pb2_grpc.GRPCInferenceServiceStub(channel),
            predictor_pb2_grpc.PredictorAdminServiceStub(channel),
            server,
            bus,
            project,
            test.to_numpy(dtype=np.float32),
            list(frame.columns),
            models,
        )
    await delete_streams(nats_url(), f"{namespace}_")


async def _eventually(check: Any, timeout: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < end, "timed out waiting"
        await asyncio.sleep(0.05)


async def _ready(stack: Stack, name: str = "bc", version: str = "") -> bool:
    answer = await stack.oip.ModelReady(oip.ModelReadyRequest(name=name, version=version))
    return bool(answer.ready)


def _raw_request(rows: np.ndarray, model: str = "bc", version: str = "") -> oip.ModelInferRequest:
    return oip.ModelInferRequest(
        model_name=model,
        model_version=version,
        id="req-1",
        inputs=[
            oip.ModelInferRequest.InferInputTensor(
                name="input", datatype="FP32", shape=list(rows.shape)
            )
        ],
        raw_input_contents=[rows.astype("<f4").tobytes()],
    )


def _raw_outputs(response: oip.ModelInferResponse) -> dict[str, np.ndarray]:
    found = {}
    for tensor, raw in zip(response.outputs, response.raw_output_contents, strict=True):
        dtype = {"INT64": "<i8", "FP64": "<f8", "FP32": "<f4"}[tensor.datatype]
        found[tensor.name] = np.frombuffer(raw, dtype=dtype).reshape(list(tensor.shape))
    return found


def _expected(stack: Stack, version: int, rows: np.ndarray) -> np.ndarray:
    model = stack.models[version]
    frame = pd.DataFrame(rows, columns=stack.columns)
    return np.asarray(model.predict(frame).probabilities)


async def test_live_ready_and_metadata(stack: Stack) -> None:
    assert (await stack.oip.ServerLive(oip.ServerLiveRequest())).live
    await _eventually(lambda: _ready(stack))
    assert (await stack.oip.ServerReady(oip.ServerReadyRequest())).ready
    server = await stack.oip.ServerMetadata(oip.ServerMetadataRequest())
    assert server.name == "aimass-predictor" and server.version
    meta = await stack.oip.ModelMetadata(oip.ModelMetadataRequest(name="bc"))
    assert meta.platform == "xgboost" and "1" in meta.versions
    assert [i.name for i in meta.inputs] == stack.columns
    assert {o.name for o in meta.outputs} == {"predictions", "probabilities"}
    assert not await _ready(stack, "nope")
    await refused(
        stack.oip.ModelMetadata(oip.ModelMetadataRequest(name="nope")),
        grpc.StatusCode.NOT_FOUND,
        "'nope'",
    )


async def test_raw_and_typed_infer_match_the_model(stack: Stack) -> None:
    await _eventually(lambda: _ready(stack))
    rows = stack.rows[:5]
    response = await stack.oip.ModelInfer(_raw_request(rows, version="1"))
    assert response.model_name == "bc" and response.model_version == "1"
    assert response.id == "req-1" and response.parameters["prediction_id"].string_param
    outputs = _raw_outputs(response)
    np.testing.assert_allclose(outputs["probabilities"], _expected(stack, 1, rows), rtol=1e-6)
    # typed contents, one tensor per column, only the predictions asked for
    typed = oip.ModelInferRequest(
        model_name="bc",
        model_version="1",
        inputs=[
            oip.ModelInferRequest.InferInputTensor(
                name=name,
                datatype="FP64",
                shape=[len(rows)],
                contents=oip.InferTensorContents(fp64_contents=rows[:, i].astype(float).tolist()),
            )
            for i, name in enumerate(stack.columns)
        ],
        outputs=[oip.ModelInferRequest.InferRequestedOutputTensor(name="predictions")],
    )
    answer = await stack.oip.ModelInfer(typed)
    assert [o.name for o in answer.outputs] == ["predictions"] and not answer.raw_output_contents
    labels = np.asarray(answer.outputs[0].contents.int64_contents)
    assert labels.tolist() == outputs["predictions"].tolist()


@pytest.mark.parametrize(
    ("request_of", "code", "fragment"),
    [
        (lambda rows: _raw_request(rows, model="missing"), grpc.StatusCode.NOT_FOUND, "'missing'"),
        (lambda rows: _raw_request(rows, version="9"), grpc.StatusCode.NOT_FOUND, "'9'"),
        (lambda rows: _raw_request(rows[:, :29]), grpc.StatusCode.INVALID_ARGUMENT, "input"),
        (
            lambda rows: oip.ModelInferRequest(
                model_name="bc",
                inputs=[
                    oip.ModelInferRequest.InferInputTensor(
                        name="input", datatype="FP32", shape=[1, 30]
                    )
                ],
                raw_input_contents=[b"\x00" * 7],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "'input'",
        ),
        (
            lambda rows: _raw_request(np.full((1, 30), np.inf, dtype=np.float32)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "inf",
        ),
    ],
)
async def test_bad_requests_are_refused_and_the_server_stays_up(
    stack: Stack, request_of: Any, code: grpc.StatusCode, fragment: str
) -> None:
    await _eventually(lambda: _ready(stack))
    await refused(stack.oip.ModelInfer(request_of(stack.rows[:2])), code, fragment)
    assert (await stack.oip.ModelInfer(_raw_request(stack.rows[:1]))).outputs


async def test_concurrent_requests_fuse_and_each_caller_gets_its_rows(stack: Stack) -> None:
    await _eventually(lambda: _ready(stack))
    before = (await stack.admin.GetModelStats(ppb.GetModelStatsRequest(model="bc"))).stats
    batches_before = sum(s.batches for s in before)
    count = 64
    responses = await asyncio.gather(
        *(
            stack.oip.ModelInfer(_raw_request(stack.rows[i : i + 1], version="1"))
            for i in range(count)
        )
    )
    expected = _expected(stack, 1, stack.rows[:count])
    for i, response in enumerate(responses):
        np.testing.assert_allclose(
            _raw_outputs(response)["probabilities"][0], expected[i], rtol=1e-6
        )
    after = (await stack.admin.GetModelStats(ppb.GetModelStatsRequest(model="bc"))).stats
    batches = sum(s.batches for s in after) - batches_before
    assert batches < count / 2, f"{count} concurrent requests ran as {batches} batches"


async def test_hot_swap_under_load_fails_no_request(stack: Stack) -> None:
    await _eventually(lambda: _ready(stack))
    stop = asyncio.Event()
    answered: list[str] = []
    failures: list[BaseException] = []

    async def client() -> None:
        while not stop.is_set():
            try:
                response = await stack.oip.ModelInfer(_raw_request(stack.rows[:2]), timeout=10)
                answered.append(response.model_version)
            except grpc.aio.AioRpcError as exc:
                failures.append(exc)

    clients = [asyncio.create_task(client()) for _ in range(8)]
    await asyncio.sleep(0.3)
    await stack.registry.UpdateDeployment(
        rpb.UpdateDeploymentRequest(
            project=stack.project, deployment="bc", version=2, update_mask=["target"]
        ),
        metadata=META,
    )

    async def switched() -> bool:
        return bool(answered) and answered[-1] == "2"

    await _eventually(switched)
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.gather(*clients)
    assert not failures, failures[:3]
    assert "1" in answered and answered[-1] == "2"
    first_two = answered.index("2")
    assert set(answered[first_two:]) <= {"1", "2"}

    # the old version drains and unloads
    async def unloaded() -> bool:
        listed = await stack.admin.ListLoadedModels(ppb.ListLoadedModelsRequest(model="bc"))
        return [m.version for m in listed.models] == [2]

    await _eventually(unloaded)
    response = await stack.oip.ModelInfer(_raw_request(stack.rows[:3]))
    np.testing.assert_allclose(
        _raw_outputs(response)["probabilities"], _expected(stack, 2, stack.rows[:3]), rtol=1e-6
    )


async def test_canary_takes_its_share_and_rolls_back(stack: Stack) -> None:
    await stack.registry.UpdateDeployment(
        rpb.UpdateDeploymentRequest(
            project=stack.project,
            deployment="bc",
            version=2,
            config=rpb.ServingConfig(max_batch_size=32, canary_version=1, canary_percent=30),
            update_mask=["target", "config"],
        ),
        metadata=META,
    )

    async def both() -> bool:
        listed = await stack.admin.ListLoadedModels(ppb.ListLoadedModelsRequest(model="bc"))
        return sorted((m.version, m.traffic_percent) for m in listed.models) == [(1, 30), (2, 70)]

    await _eventually(both)
    versions = [
        (await stack.oip.ModelInfer(_raw_request(stack.rows[:1]))).model_version for _ in range(600)
    ]
    share = versions.count("1") / len(versions)
    assert 0.22 < share < 0.38, share  # 30% +- about 4.5 standard deviations
    # a version asked for by number is that version, whatever the split
    assert (
        await stack.oip.ModelInfer(_raw_request(stack.rows[:1], version="1"))
    ).model_version == "1"
    await stack.registry.UpdateDeployment(
        rpb.UpdateDeploymentRequest(
            project=stack.project,
            deployment="bc",
            config=rpb.ServingConfig(max_batch_size=32),
            update_mask=["config"],
        ),
        metadata=META,
    )

    async def only_stable() -> bool:
        listed = await stack.admin.ListLoadedModels(ppb.ListLoadedModelsRequest(model="bc"))
        return [(m.version, m.traffic_percent) for m in listed.models] == [(2, 100)]

    await _eventually(only_stable)


@contextlib.asynccontextmanager
async def _every_prediction_logged(
    stack: Stack,
) -> AsyncIterator[list[events_pb2.PredictionRecord]]:
    """Deployment bc sampling every request, and the records seen on the bus meanwhile."""
    await stack.registry.UpdateDeployment(
        rpb.UpdateDeploymentRequest(
            project=stack.project,
            deployment="bc",
            config=rpb.ServingConfig(max_batch_size=32, sample_rate=1.0),
            update_mask=["config"],
        ),
        metadata=META,
    )

    async def sampled_config() -> bool:
        listed = await stack.admin.ListLoadedModels(ppb.ListLoadedModelsRequest(model="bc"))
        return any(m.config.sample_rate == 1.0 for m in listed.models)

    await _eventually(sampled_config)
    seen: list[events_pb2.PredictionRecord] = []

    async def record(message: events_pb2.PredictionRecord) -> None:
        seen.append(message)

    subscription = await stack.bus.listen(
        prediction_subject(MODEL), events_pb2.PredictionRecord, record
    )
    try:
        yield seen
    finally:
        await subscription.unsubscribe()


async def test_sampled_predictions_are_logged_with_the_returned_id(stack: Stack) -> None:
    async with _every_prediction_logged(stack) as seen:
        response = await stack.oip.ModelInfer(_raw_request(stack.rows[:2]))
        prediction_id = response.parameters["prediction_id"].string_param

        async def logged() -> bool:
            return any(r.prediction_id == prediction_id for r in seen)

        await _eventually(logged)
    found = next(r for r in seen if r.prediction_id == prediction_id)
    assert found.model == MODEL and found.model_version == int(response.model_version)
    assert found.status == "OK" and found.total_us >= found.compute_us > 0
    assert '"probabilities"' in found.outputs_json and found.inputs_json


async def test_fused_requests_get_an_id_and_a_log_record_each(stack: Stack) -> None:
    """The gateway's coalescing: one call carrying several callers' rows (SEGMENTS) answers one
    prediction id per caller, and each caller's rows are logged as a request of its own."""
    async with _every_prediction_logged(stack) as seen:
        request = _raw_request(stack.rows[:3])
        request.parameters[SEGMENTS].string_param = "1,2"
        response = await stack.oip.ModelInfer(request)
        ids = response.parameters[PREDICTION_IDS].string_param.split(",")
        assert len(set(ids)) == 2 and "prediction_id" not in response.parameters

        async def logged() -> bool:
            return {r.prediction_id for r in seen} >= set(ids)

        await _eventually(logged)
    records = {r.prediction_id: r for r in seen}
    first, second = records[ids[0]], records[ids[1]]
    assert (first.batch_size, second.batch_size) == (1, 2)
    probabilities = _raw_outputs(response)["probabilities"]
    assert json.loads(first.outputs_json)["probabilities"] == probabilities[:1].tolist()
    assert json.loads(second.outputs_json)["probabilities"] == probabilities[1:].tolist()
    assert len(json.loads(second.inputs_json)["input"]) == 2


@pytest.mark.parametrize("segments", ["1,1", "0,3", "3,x", "", "-1,4"])
async def test_segments_that_do_not_add_up_are_refused(stack: Stack, segments: str) -> None:
    await _eventually(lambda: _ready(stack))
    request = _raw_request(stack.rows[:3])
    request.parameters[SEGMENTS].string_param = segments
    await refused(stack.oip.ModelInfer(request), grpc.StatusCode.INVALID_ARGUMENT, SEGMENTS)
    assert (await stack.oip.ModelInfer(_raw_request(stack.rows[:1]))).outputs


NUMERIC_DATATYPES = [
    ("INT8", "int8_t"),
    ("INT16", "int16"),
    ("INT32", "int32"),
    ("INT64", "int64"),
    ("UINT8", "uint8"),
    ("UINT16", "uint16"),
    ("UINT32", "uint32"),
    ("UINT64", "uint64"),
    ("FP16", "float16"),
    ("FP32", "float32"),
    ("FP64", "float64"),
]


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
async def test_every_numeric_datatype_feeds_a_column(stack: Stack, raw: bool) -> None:
    """One tensor per column, each column in another datatype; the model sees the same numbers."""
    await _eventually(lambda: _ready(stack))
    rows = np.abs(stack.rows[:4]).round()
    request = oip.ModelInferRequest(model_name="bc", model_version="2")
    sent = np.empty_like(rows, dtype=np.float64)
    for index, name in enumerate(stack.columns):
        datatype, dtype_name = NUMERIC_DATATYPES[index % len(NUMERIC_DATATYPES)]
        dtype = np.dtype("int8" if dtype_name == "int8_t" else dtype_name)
        values = np.clip(rows[:, index], 0, 100).astype(dtype)
        sent[:, index] = values.astype(np.float64)
        tensor = oip.ModelInferRequest.InferInputTensor(
            name=name, datatype=datatype, shape=[len(values)]
        )
        if raw:
            request.raw_input_contents.append(values.astype(dtype.newbyteorder("<")).tobytes())
        else:
            field = {
                "INT64": "int64_contents",
                "UINT64": "uint64_contents",
                "FP16": "fp32_contents",
                "FP32": "fp32_contents",
                "FP64": "fp64_contents",
            }.get(datatype, "uint_contents" if datatype.startswith("UINT") else "int_contents")
            getattr(tensor.contents, field).extend(values.tolist())
        request.inputs.append(tensor)
    response = await stack.oip.ModelInfer(request)
    probabilities = next(o for o in response.outputs if o.name == "probabilities")
    got = (
        _raw_outputs(response)["probabilities"]
        if raw
        else np.asarray(probabilities.contents.fp64_contents).reshape(list(probabilities.shape))
    )
    np.testing.assert_allclose(got, _expected(stack, 2, sent.astype(np.float32)), rtol=1e-6)


async def test_a_full_queue_answers_resource_exhausted_at_once(stack: Stack) -> None:
    await stack.registry.CreateDeployment(
        rpb.CreateDeploymentRequest(
            project=stack.project,
            name="bc-small-queue",
            model=MODEL,
            version=2,
            config=rpb.ServingConfig(max_batch_size=32, max_queue_size=32),
        ),
        metadata=META,
    )
    await _eventually(lambda: _ready(stack, "bc-small-queue"))
    rows = np.repeat(stack.rows[:1], 32, axis=0)
    results = await asyncio.gather(
        *(stack.oip.ModelInfer(_raw_request(rows, "bc-small-queue")) for _ in range(100)),
        return_exceptions=True,
    )
    refusals = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert refusals and all(r.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for r in refusals), (
        refusals[:3]
    )
    assert "queue" in (refusals[0].details() or "")
    assert len(refusals) < len(results)  # the rest were answered
    assert (await stack.oip.ModelInfer(_raw_request(rows, "bc-small-queue"))).outputs


async def test_a_callers_deadline_is_respected(stack: Stack) -> None:
    """A lone request waits up to 0.5 s for company; its caller gives up after 0.1 s, the server
    drops it without running it (counted as timed out) and serves the next one."""
    await stack.registry.CreateDeployment(
        rpb.CreateDeploymentRequest(
            project=stack.project,
            name="bc-patient",
            model=MODEL,
            version=2,
            config=rpb.ServingConfig(max_batch_size=64, max_queue_delay_us=500_000),
        ),
        metadata=META,
    )
    await _eventually(lambda: _ready(stack, "bc-patient"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stack.oip.ModelInfer(_raw_request(stack.rows[:1], "bc-patient"), timeout=0.1)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    async def counted() -> bool:
        stats = await stack.admin.GetModelStats(ppb.GetModelStatsRequest(model="bc-patient"))
        return any(s.timed_out == 1 for s in stats.stats)

    await _eventually(counted)
    assert (await stack.oip.ModelInfer(_raw_request(stack.rows[:1], "bc-patient"))).outputs


async def test_a_version_that_fails_to_load_leaves_the_previous_one_serving(
    stack: Stack, tmp_path: Path
) -> None:
    store = ArtifactStore(stack.server.repository.store.url)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "aimass-model.json").write_text('{"manifest_version": 999}')
    stored = await store.put_tree(f"models/{MODEL}/broken", broken)
    version = await stack.registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(
            project=stack.project,
            model=MODEL,
            framework="xgboost",
            artifact_format="xgboost-ubj",
            artifact_uri=stored.uri,
            content_hash=stored.digest,
            task="classification",
        ),
        metadata=META,
    )
    serving = (await stack.oip.ModelInfer(_raw_request(stack.rows[:1]))).model_version
    await stack.registry.UpdateDeployment(
        rpb.UpdateDeploymentRequest(
            project=stack.project, deployment="bc", version=version.version, update_mask=["target"]
        ),
        metadata=META,
    )

    async def failed() -> ppb.LoadedModel | None:
        listed = await stack.admin.ListLoadedModels(ppb.ListLoadedModelsRequest(model="bc"))
        return next((m for m in listed.models if m.state == ppb.LOAD_STATE_FAILED), None)

    failure = await _eventually(failed)
    assert failure.version == version.version and "manifest version" in failure.error
    assert (await stack.oip.ModelInfer(_raw_request(stack.rows[:1]))).model_version == serving
    await stack.registry.UpdateDeployment(
        rpb.UpdateDeploymentRequest(
            project=stack.project, deployment="bc", version=int(serving), update_mask=["target"]
        ),
        metadata=META,
    )

    async def recovered() -> bool:
        return await failed() is None

    await _eventually(recovered)


async def test_batches_report_the_queue_depth_to_the_metrics(stack: Stack) -> None:
    await _eventually(lambda: _ready(stack))
    response = await stack.oip.ModelInfer(_raw_request(stack.rows[:1]))
    labels = {"model": "bc", "version": response.model_version}
    registry = stack.server.predictor.metrics.registry
    assert registry.get_sample_value("aimass_predictor_queue_rows", labels) == 0
    assert registry.get_sample_value("aimass_predictor_batch_rows_count", {"model": "bc"})
