"""The end-to-end demo on a running local stack: real data in, a registered, deployed model out.

    aimass demo [--registry 127.0.0.1:50051] [--ingest 127.0.0.1:50052]
                [--trainer 127.0.0.1:50053] [--predictor 127.0.0.1:50054]
                [--gateway http://127.0.0.1:8000] [--home .aimass]

Uses scikit-learn's bundled breast-cancer data (569 rows, 30 features): uploads it to the ingest
service, which makes a versioned Parquet dataset with statistics and a stratified 80/20 split; runs
a 5-fold cross-validated xgboost job on the train split through the trainer, which scores it on the
test split, registers the model (XGBoost UBJ and a skops preprocessor: formats that cannot run code
on load) with its signature and aliases it `production`; then deploys the alias, asks the predictor
for three rows over the Open Inference Protocol, asks again as an outside caller would (through the
REST gateway, with a token it issues that may only predict with this deployment) and checks that
both give the same labels, and prints the lineage from the deployment back to the upload.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from aimass.common.v1 import common_pb2
from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.inference.v2 import open_inference_pb2_grpc
from aimass.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from aimass.registry.v1 import registry_pb2 as pb
from aimass.registry.v1 import registry_pb2_grpc
from aimass.trainer.v1 import trainer_pb2 as tpb
from aimass.trainer.v1 import trainer_pb2_grpc

PROJECT = "demo"
MODEL = "breast-cancer-xgb"
META = (("x-aimass-actor", "demo"),)
CHUNK = 1 << 20
ENDED = (
    ingest_pb2.INGEST_JOB_STATE_SUCCEEDED,
    ingest_pb2.INGEST_JOB_STATE_FAILED,
    ingest_pb2.INGEST_JOB_STATE_CANCELLED,
)


async def ensure_project(stub: registry_pb2_grpc.RegistryServiceStub) -> None:
    try:
        await stub.CreateProject(
            pb.CreateProjectRequest(name=PROJECT, description="AI Mass end-to-end demo"),
            metadata=META,
            timeout=10,
        )
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise


async def ingest_dataset(
    stub: ingest_pb2_grpc.IngestServiceStub, frame: Any, out: Callable[[str], None]
) -> str:
    """Upload the CSV, ingest it with a stratified 80/20 split; returns the version id."""
    data = frame.to_csv(index=False).encode()

    async def upload_requests() -> AsyncIterator[ingest_pb2.UploadFileRequest]:
        yield ingest_pb2.UploadFileRequest(
            header=ingest_pb2.UploadFileRequest.Header(
                project=PROJECT, file_name="breast_cancer.csv", size_bytes=len(data)
            )
        )
        for start in range(0, len(data), CHUNK):
            yield ingest_pb2.UploadFileRequest(chunk=data[start : start + CHUNK])

    upload = await stub.UploadFile(upload_requests(), metadata=META, timeout=60)
    source = ingest_pb2.Source(
        alias="cancer", file=ingest_pb2.FileSource(upload_id=upload.upload_id)
    )
    recipe = ingest_pb2.Recipe(
        sources=[source],
        split=ingest_pb2.SplitSpec(
            method=ingest_pb2.SPLIT_METHOD_STRATIFIED,
            column="target",
            seed=0,
            parts=[
                ingest_pb2.SplitSpec.Part(name="train", fraction=0.8),
                ingest_pb2.SplitSpec.Part(name="test", fraction=0.2),
            ],
        ),
    )
    job = await stub.CreateIngestJob(
        ingest_pb2.CreateIngestJobRequest(
            project=PROJECT,
            recipe=recipe,
            idempotency_key=upload.sha256,
            target=ingest_pb2.IngestTarget(
                dataset="breast-cancer",
                create_dataset=True,
                description="Wisconsin diagnostic breast cancer",
            ),
        ),
        metadata=META,
        timeout=60,
    )
    async for snapshot in stub.WatchIngestJob(
        ingest_pb2.WatchIngestJobRequest(project=PROJECT, job_id=job.id), metadata=META, timeout=300
    ):
        job = snapshot
        if job.state in ENDED:
            break
    if job.state != ingest_pb2.INGEST_JOB_STATE_SUCCEEDED:
        raise RuntimeError(f"ingest job {job.id} ended {job.state}: {job.error}")
    out(
        f"ingest    job {job.id[:8]}: {job.result.row_count} rows, "
        f"splits {dict(sorted(job.result.split_rows.items()))}"
    )
    return job.result.dataset_version_id


async def train(
    stub: trainer_pb2_grpc.TrainerServiceStub, version_id: str, out: Callable[[str], None]
) -> tpb.RunProgress:
    """A 5-fold cross-validated xgboost job on the train split through the trainer; the model is
    registered as breast-cancer-xgb with the alias production. Returns the run's last update."""
    spec = tpb.TrainSpec(
        algorithm="xgboost.gbdt",
        task=tpb.TASK_TYPE_CLASSIFICATION,
        data=tpb.DataSpec(dataset_version_id=version_id, target_column="target"),
        cv=tpb.CrossValidation(method=tpb.CV_METHOD_STRATIFIED_KFOLD, folds=5),
        metrics=["accuracy", "roc_auc", "f1"],
        seed=7,
        output=tpb.ModelOutput(model=MODEL, aliases=["production"]),
    )
    spec.params["n_estimators"].int_value = 200
    spec.params["max_depth"].int_value = 3
    spec.params["learning_rate"].float_value = 0.1
    submitted = await stub.Submit(
        tpb.SubmitRequest(project=PROJECT, train=spec, run_name="xgb-baseline"),
        metadata=META,
        timeout=30,
    )
    last = tpb.RunProgress()
    shown = -1
    async for update in stub.WatchRun(
        tpb.WatchRunRequest(project=PROJECT, run_id=submitted.run_id), metadata=META, timeout=300
    ):
        last = update
        if update.phase not in (shown, tpb.PHASE_UNSPECIFIED):
            shown = update.phase
            phase = tpb.Phase.Name(update.phase).removeprefix("PHASE_").lower()
            out(f"train     run {update.run_id[:8]}: {phase}")
    if last.state != tpb.RUN_STATE_FINISHED:
        raise RuntimeError(
            f"train run {submitted.run_id} ended {tpb.RunState.Name(last.state)}: {last.error}"
        )
    return last


@dataclass(frozen=True)
class Addresses:
    registry: str
    ingest: str
    trainer: str
    predictor: str
    gateway: str  # the REST gateway's URL; "" skips the step through it
    home: Path  # where the local gateway saved its admin token


async def predict(
    address: str, deployment: str, rows: Any, out: Callable[[str], None]
) -> list[int]:
    """Rows through the predictor's Open Inference Protocol, as any KServe or
    Triton client would send them: one raw FP64 matrix."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = open_inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        for _ in range(600):  # the predictor loads the version when the deployment event arrives
            ready = await stub.ModelReady(oip.ModelReadyRequest(name=deployment), timeout=10)
            if ready.ready:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"the predictor did not load deployment {deployment} in 60 s")
        matrix = rows.to_numpy(dtype="<f8")
        response = await stub.ModelInfer(
            oip.ModelInferRequest(
                model_name=deployment,
                inputs=[
                    oip.ModelInferRequest.InferInputTensor(
                        name="input", datatype="FP64", shape=list(matrix.shape)
                    )
                ],
                raw_input_contents=[matrix.tobytes()],
            ),
            timeout=10,
        )
    labels = next(
        np.frombuffer(raw, dtype="<i8").tolist()
        for tensor, raw in zip(response.outputs, response.raw_output_contents, strict=True)
        if tensor.name == "predictions"
    )
    prediction_id = response.parameters["prediction_id"].string_param
    out(
        f"predict   {deployment} v{response.model_version} over Open Inference: labels {labels} "
        f"for the last {len(labels)} rows of the data (prediction id {prediction_id[:8]})"
    )
    return list(labels)


def predict_through_gateway(
    addresses: Addresses,
    deployment: str,
    rows: Any,
    expected: list[int],
    out: Callable[[str], None],
) -> None:
    """The same rows as an outside caller sends them: the SDK over the REST gateway, with a token
    the admin token issues for this one deployment and the predict scope only."""
    from aimass.client import Client

    saved = addresses.home / "admin-token"
    try:
        admin_token = saved.read_text().strip()
    except OSError as error:
        raise RuntimeError(
            f"no admin token at {saved} ({error.strerror}): pass the stack's --home, or "
            "--gateway '' to skip the gateway step"
        ) from None
    with Client(addresses.gateway, token=admin_token) as admin:
        issued = admin.create_token(
            f"demo-{deployment}", ["predict"], project=PROJECT, models=[deployment]
        )
    with Client(addresses.gateway, token=issued["secret"]) as caller:
        answer = caller.predict(PROJECT, deployment, rows.to_dict(orient="records"))
    labels = [int(label) for label in answer["predictions"]]
    if labels != expected:
        raise RuntimeError(f"the gateway answered labels {labels}, the predictor {expected}")
    out(
        f"predict   {deployment} v{answer['model_version']} over the REST gateway (token "
        f"{issued['id'][:8]}, predict scope, this deployment only): the same labels {labels}"
    )


async def demo(addresses: Addresses, out: Callable[[str], None]) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [name.replace(" ", "_") for name in frame.columns]
    async with (
        grpc.aio.insecure_channel(addresses.registry) as channel,
        grpc.aio.insecure_channel(addresses.ingest) as ingest_channel,
        grpc.aio.insecure_channel(addresses.trainer) as trainer_channel,
    ):
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        await ensure_project(stub)
        version_id = await ingest_dataset(
            ingest_pb2_grpc.IngestServiceStub(ingest_channel), frame, out
        )
        version = await stub.GetDatasetVersion(
            pb.GetDatasetVersionRequest(project=PROJECT, id=version_id), metadata=META, timeout=10
        )
        out(
            f"dataset   breast-cancer@{version.version}: {version.row_count} rows, "
            f"{len(version.schema.fields)} columns, {version.content_hash[:19]}…"
        )
        done = await train(trainer_pb2_grpc.TrainerServiceStub(trainer_channel), version_id, out)
        run = await stub.GetRun(
            pb.GetRunRequest(project=PROJECT, id=done.run_id), metadata=META, timeout=10
        )
        out(
            f"run       {run.id}: {run.params['algorithm']}, 5-fold CV accuracy "
            f"{run.metrics['cv_accuracy_mean']:.3f}, held-out test accuracy "
            f"{run.metrics['test_accuracy']:.3f}"
        )
        out(f"model     {MODEL}@{done.model_version} (alias production)")
        name = f"bc-{uuid.uuid4().hex[:6]}"
        deployment = await stub.CreateDeployment(
            pb.CreateDeploymentRequest(
                project=PROJECT,
                name=name,
                model=MODEL,
                alias="production",
                config=pb.ServingConfig(max_batch_size=64, max_queue_delay_us=500, sample_rate=0.1),
            ),
            metadata=META,
            timeout=10,
        )
        out(
            f"deploy    {deployment.name}: follows production -> v{deployment.resolved_version}, "
            f"revision {deployment.revision}"
        )
        last_rows = frame.drop(columns=["target"]).tail(3)
        labels = await predict(addresses.predictor, deployment.name, last_rows, out)
        if addresses.gateway:
            await asyncio.to_thread(
                predict_through_gateway, addresses, deployment.name, last_rows, labels, out
            )
        lineage = await stub.GetLineage(
            pb.GetLineageRequest(
                project=PROJECT,
                direction=pb.LINEAGE_DIRECTION_UPSTREAM,
                entity=common_pb2.EntityRef(
                    kind=common_pb2.ENTITY_KIND_DEPLOYMENT, id=deployment.id
                ),
            ),
            metadata=META,
            timeout=10,
        )
        out("lineage   (upstream from the deployment)")
        for node in sorted(lineage.nodes, key=lambda n: n.depth):
            kind = common_pb2.EntityKind.Name(node.entity.kind).removeprefix("ENTITY_KIND_")
            out(f"  {'  ' * node.depth}{kind.lower():16} {node.label}")


def run_demo(addresses: Addresses, out: Callable[[str], None]) -> int:
    asyncio.run(demo(addresses, out))
    return 0
