"""A real registry, a real predictor and the real gateway app, with small models deployed in two
projects, for the prediction routes' tests.

Deployments (project ``Stack.project`` unless said otherwise):

- ``tabular``: a trainer xgboost classifier (5 trees) on columns ``x`` (float), ``n`` (int) and
  ``color`` (text); labels "no"/"yes"; outputs ``predictions`` and ``probabilities``.
- ``half-plus-two``: TF Serving's example model as an ONNX graph, ``y = 0.5 * x + 2`` (FP32 [n]);
  its version 1 has the alias ``production``.
- ``sensors``: an ONNX graph with the named inputs of TF Serving's REST doc: ``tag`` (text [n]),
  ``signal`` (FP32 [n, 5]) and ``sensor`` (FP32 [n, 2, 2]); outputs ``total`` (the sum of signal
  and sensor per row) and ``tag_bytes`` (the tag, given back).
- ``elsewhere``: half-plus-two again, in ``Stack.other_project``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pyarrow as pa
from onnx import GraphProto, TensorProto, helper

from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.inference.v2 import open_inference_pb2_grpc
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.registry.v1 import registry_pb2_grpc
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.store import ArtifactStore
from services.predictor.config import PredictorSettings
from services.predictor.server import build_server
from services.trainer.library.base import FitOptions, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import FittedModel, ModelSpec, TrainingData, fit_model
from services.trainer.library.preprocessing import feature_columns, resolve_choice
from tests.conftest import delete_streams, nats_url
from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway
from tests.helpers import registry_settings, serve_registry

META = (("x-aimass-actor", "tester"),)
DEPLOYMENTS = ("tabular", "half-plus-two", "sensors")
ALIAS = "production"  # of half-plus-two's version 1


@dataclass
class Stack:
    gateway: Gateway
    project: str
    other_project: str
    registry_address: str
    predictor_address: str
    registry: registry_pb2_grpc.RegistryServiceStub
    oip: open_inference_pb2_grpc.GRPCInferenceServiceStub
    tabular: FittedModel
    rows: pd.DataFrame  # test rows of the tabular model

    async def token(self, scopes: list[str], project: str = "", **extra: object) -> str:
        return await self.gateway.issue(project or self.project, scopes, **extra)

    def expected(self, frame: pd.DataFrame) -> tuple[list[object], list[list[float]]]:
        """The tabular model's own predictions and probabilities for ``frame``."""
        prediction = self.tabular.predict(frame)
        assert prediction.probabilities is not None
        return list(prediction.predictions), prediction.probabilities.tolist()


def tabular_frame(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    generator = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": generator.normal(size=rows),
            "n": generator.integers(0, 10, size=rows),
            "color": generator.choice(["red", "green", "blue"], size=rows),
        }
    )
    score = frame["x"] + (frame["color"] == "red") * 1.5 + frame["n"] * 0.1
    return frame, pd.Series(np.where(score > 0.6, "yes", "no"), name="label")


def train_tabular() -> FittedModel:
    frame, target = tabular_frame(300, seed=1)
    algorithm = get_algorithm("xgboost.gbdt")
    spec = ModelSpec(
        algorithm=algorithm,
        task=Task.CLASSIFICATION,
        params=algorithm.resolve_params(
            {"n_estimators": 5, "max_depth": 2, "early_stopping_rounds": None}
        ),
        columns=feature_columns(pa.Schema.from_pandas(frame, preserve_index=False), list(frame)),
        preprocessing=resolve_choice(
            tpb.Preprocessing(),
            scale_by_default=algorithm.scale_by_default,
            one_hot_by_default=algorithm.one_hot_by_default,
            handles_missing=algorithm.handles_missing,
        ),
        options=FitOptions(seed=1, threads=1),
    )
    return fit_model(spec, TrainingData(frame, target))


def half_plus_two() -> bytes:
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "half"], ["scaled"]),
            helper.make_node("Add", ["scaled", "two"], ["y"]),
        ],
        "half_plus_two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
        [
            helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
            helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
        ],
    )
    return _serialized(graph)


def sensors() -> bytes:
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["signal", "axis1"], ["signal_sum"], keepdims=0),
            helper.make_node("ReduceSum", ["sensor", "axes12"], ["sensor_sum"], keepdims=0),
            helper.make_node("Add", ["signal_sum", "sensor_sum"], ["total"]),
            helper.make_node("Identity", ["tag"], ["tag_bytes"]),
        ],
        "sensors",
        [
            helper.make_tensor_value_info("tag", TensorProto.STRING, ["n"]),
            helper.make_tensor_value_info("signal", TensorProto.FLOAT, ["n", 5]),
            helper.make_tensor_value_info("sensor", TensorProto.FLOAT, ["n", 2, 2]),
        ],
        [
            helper.make_tensor_value_info("total", TensorProto.FLOAT, ["n"]),
            helper.make_tensor_value_info("tag_bytes", TensorProto.STRING, ["n"]),
        ],
        [
            helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
            helper.make_tensor("axes12", TensorProto.INT64, [2], [1, 2]),
        ],
    )
    return _serialized(graph)


def _serialized(graph: GraphProto) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


async def register(
    registry: registry_pb2_grpc.RegistryServiceStub,
    store: ArtifactStore,
    project: str,
    deployment: str,
    artifact: Path | bytes,
    artifact_format: str,
) -> None:
    """A new model version of ``artifact`` (a model folder or ONNX bytes), deployed."""
    key = f"models/{deployment}/{uuid.uuid4().hex[:8]}"
    if isinstance(artifact, bytes):
        stored = await store.put_bytes(f"{key}/model.onnx", artifact)
        uri, digest = stored.uri, stored.digest
    else:
        tree = await store.put_tree(key, artifact)
        uri, digest = tree.uri, tree.digest
    await registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(
            project=project,
            model=f"{deployment}-model",
            create_model=True,
            framework="onnx" if isinstance(artifact, bytes) else "xgboost",
            artifact_format=artifact_format,
            artifact_uri=uri,
            content_hash=digest,
        ),
        metadata=META,
    )
    await registry.CreateDeployment(
        rpb.CreateDeploymentRequest(
            project=project, name=deployment, model=f"{deployment}-model", version=1
        ),
        metadata=META,
    )


async def wait_ready(stub: open_inference_pb2_grpc.GRPCInferenceServiceStub, name: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    while not (await stub.ModelReady(oip.ModelReadyRequest(name=name))).ready:
        assert loop.time() < end, f"deployment {name} not ready within 60 s"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def prediction_stack(home: Path) -> AsyncIterator[Stack]:
    namespace = f"g{uuid.uuid4().hex[:10]}"
    store_url = (home / "store").as_uri()
    suffix = uuid.uuid4().hex[:8]
    project, other = f"gw-{suffix}", f"gw-other-{suffix}"
    async with contextlib.AsyncExitStack() as stack:
        settings = registry_settings(
            home, f"sqlite+aiosqlite:///{home / 'registry.db'}", namespace, store_url=store_url
        )
        running, _, registry = await serve_registry(stack, settings)
        store = ArtifactStore(store_url)
        for name in (project, other):
            await registry.CreateProject(rpb.CreateProjectRequest(name=name), metadata=META)
        tabular = train_tabular()
        tabular.save(home / "tabular")
        fmt = tabular.artifact_format
        await register(registry, store, project, "tabular", home / "tabular", fmt)
        await register(registry, store, project, "half-plus-two", half_plus_two(), "onnx")
        await registry.SetModelAlias(
            rpb.SetModelAliasRequest(
                project=project, model="half-plus-two-model", alias=ALIAS, version=1
            ),
            metadata=META,
        )
        await register(registry, store, project, "sensors", sensors(), "onnx")
        await register(registry, store, other, "elsewhere", half_plus_two(), "onnx")
        predictor_settings = _predictor_settings(home, running.address, namespace)
        predictor = await build_server(predictor_settings, stack)
        channel = grpc.aio.insecure_channel(predictor.running.address)
        stack.push_async_callback(channel.close)
        stub = open_inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        for name in (*DEPLOYMENTS, "elsewhere"):
            await wait_ready(stub, name)
        addresses = {
            "registry_address": running.address,
            "predictor_address": predictor.running.address,
        }
        (home / "gateway").mkdir()
        gateway = await stack.enter_async_context(
            running_gateway(gateway_settings(home / "gateway", **addresses))
        )
        yield Stack(
            gateway,
            project,
            other,
            running.address,
            predictor.running.address,
            registry,
            stub,
            tabular,
            tabular_frame(8, seed=2)[0],
        )
    await delete_streams(nats_url(), f"{namespace}_")


def _predictor_settings(home: Path, registry_address: str, namespace: str) -> PredictorSettings:
    return PredictorSettings(
        home=home,
        predictor_port=0,
        store_url=(home / "store").as_uri(),
        nats_url=nats_url(),
        bus_namespace=namespace,
        metrics_enabled=False,
        grpc_host="127.0.0.1",
        shutdown_grace_seconds=1,
        registry_address=registry_address,
        predictor_drain_seconds=1,
    )
