"""The end-to-end demo on a running local stack: real data in, a registered, deployed model out.

    aimass demo [--registry 127.0.0.1:50051] [--ingest 127.0.0.1:50052] [--home .aimass]

Uses scikit-learn's bundled breast-cancer data (569 rows, 30 features): uploads it to the ingest
service, which makes a versioned Parquet dataset with statistics and a stratified 80/20 split; runs
a 5-fold cross-validated logistic regression on the train split whose params and per-fold metrics go
to a run, scores it on the test split, saves the model with skops (a format that cannot run code on
load), registers it with its signature, aliases it `production`, deploys the alias, and prints the
lineage from the deployment back to the upload. Training happens here until the trainer lands.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from aimass.registry.v1 import registry_pb2 as pb
from aimass.registry.v1 import registry_pb2_grpc
from services.common.hashing import digest_hex, hash_bytes
from services.common.settings import CommonSettings
from services.common.store import ArtifactStore

PROJECT = "demo"
META = (("x-aimass-actor", "demo"),)
CHUNK = 1 << 20
NOT_FEATURES = ("target", "_split")
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


async def read_version(store: ArtifactStore, version: pb.DatasetVersion) -> Any:
    """The version's Parquet parts as one frame (a demo-sized dataset)."""

    import pandas as pd

    prefix = store.key_for(version.uri)
    keys = sorted(k for k in await store.list_keys(prefix) if k.endswith(".parquet"))
    frames = [pd.read_parquet(io.BytesIO(await store.get_bytes(key))) for key in keys]
    return pd.concat(frames, ignore_index=True)


async def train(
    stub: registry_pb2_grpc.RegistryServiceStub,
    store: ArtifactStore,
    frame: Any,
    version: pb.DatasetVersion,
) -> tuple[pb.Run, bytes, float]:
    import sklearn
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params = {"algorithm": "logistic_regression", "C": "1.0", "max_iter": "500", "folds": "5"}
    run = await stub.CreateRun(
        pb.CreateRunRequest(
            project=PROJECT,
            name="lr-baseline",
            kind="train",
            params=params,
            input_dataset_version_ids=[version.id],
            initial_status=pb.RUN_STATUS_RUNNING,
            environment={"scikit-learn": sklearn.__version__},
        ),
        metadata=META,
        timeout=10,
    )
    train_rows, test_rows = frame[frame["_split"] == "train"], frame[frame["_split"] == "test"]
    features, target = train_rows.drop(columns=["target", "_split"]), train_rows["target"]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(model, features, target, cv=folds, scoring="accuracy")
    await stub.LogMetrics(
        pb.LogMetricsRequest(
            project=PROJECT,
            run_id=run.id,
            points=[
                pb.MetricPoint(key="cv_accuracy", value=float(score), step=fold)
                for fold, score in enumerate(scores)
            ],
        ),
        metadata=META,
        timeout=10,
    )
    model.fit(features, target)
    artifact = skops.io.dumps(model)
    test_accuracy = float(
        model.score(test_rows.drop(columns=["target", "_split"]), test_rows["target"])
    )
    await stub.LogMetrics(
        pb.LogMetricsRequest(
            project=PROJECT,
            run_id=run.id,
            points=[
                pb.MetricPoint(key="cv_accuracy_mean", value=float(scores.mean()), step=0),
                pb.MetricPoint(key="test_accuracy", value=test_accuracy, step=0),
            ],
        ),
        metadata=META,
        timeout=10,
    )
    stored = await store.put_bytes(f"runs/{run.id}/model.skops", artifact)
    await stub.AddRunArtifacts(
        pb.AddRunArtifactsRequest(
            project=PROJECT,
            run_id=run.id,
            artifacts=[
                pb.RunArtifact(
                    path="model.skops",
                    uri=stored.uri,
                    size_bytes=stored.size,
                    content_hash=stored.digest,
                )
            ],
        ),
        metadata=META,
        timeout=10,
    )
    run = await stub.UpdateRunStatus(
        pb.UpdateRunStatusRequest(project=PROJECT, id=run.id, status=pb.RUN_STATUS_FINISHED),
        metadata=META,
        timeout=10,
    )
    return run, artifact, test_accuracy


async def demo(
    registry: str, ingest: str, store: ArtifactStore, out: Callable[[str], None]
) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [name.replace(" ", "_") for name in frame.columns]
    async with (
        grpc.aio.insecure_channel(registry) as channel,
        grpc.aio.insecure_channel(ingest) as ingest_channel,
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
        frame = await read_version(store, version)
        run, artifact, accuracy = await train(stub, store, frame, version)
        out(f"run       {run.id}: {run.params['algorithm']}, held-out test accuracy {accuracy:.3f}")
        stored = await store.put_bytes(
            f"models/breast-cancer-lr/{digest_hex(hash_bytes(artifact))[:16]}/model.skops", artifact
        )
        model_version = await stub.CreateModelVersion(
            pb.CreateModelVersionRequest(
                project=PROJECT,
                model="breast-cancer-lr",
                create_model=True,
                framework="sklearn",
                artifact_format="skops",
                artifact_uri=stored.uri,
                content_hash=stored.digest,
                source_run_id=run.id,
                metrics={"accuracy": accuracy},
                task="classification",
                signature=pb.ModelSignature(
                    inputs=common_pb2.Schema(
                        fields=[
                            f for f in version.schema.fields if f.name not in ("target", "_split")
                        ]
                    ),
                    outputs=common_pb2.Schema(
                        fields=[common_pb2.Field(name="label", type=common_pb2.DATA_TYPE_INT64)]
                    ),
                ),
                idempotency_key=f"{run.id}:model",
            ),
            metadata=META,
            timeout=10,
        )
        await stub.SetModelAlias(
            pb.SetModelAliasRequest(
                project=PROJECT,
                model="breast-cancer-lr",
                alias="production",
                version=model_version.version,
            ),
            metadata=META,
            timeout=10,
        )
        out(f"model     breast-cancer-lr@{model_version.version} (alias production)")
        name = f"bc-{uuid.uuid4().hex[:6]}"
        deployment = await stub.CreateDeployment(
            pb.CreateDeploymentRequest(
                project=PROJECT,
                name=name,
                model="breast-cancer-lr",
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


def run_demo(registry: str, ingest: str, home: Path, out: Callable[[str], None]) -> int:
    store = ArtifactStore.from_settings(CommonSettings(home=home))
    asyncio.run(demo(registry, ingest, store, out))
    return 0
