"""The end-to-end demo on a running local stack: real data in, a registered, deployed model out.

    aimass demo [--registry 127.0.0.1:50051] [--home .aimass]

Uses scikit-learn's bundled breast-cancer data (569 rows, 30 features): stores it as a versioned
Parquet dataset with statistics, runs a 5-fold cross-validated logistic regression whose params and
per-fold metrics go to a run, saves the model with skops (a format that cannot run code on load),
registers it with its signature, aliases it `production`, deploys the alias, and prints the lineage
from the deployment back to the source. Training happens here until the trainer service lands.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from aimass.common.v1 import common_pb2
from aimass.registry.v1 import registry_pb2 as pb
from aimass.registry.v1 import registry_pb2_grpc
from services.common.hashing import digest_hex, hash_bytes
from services.common.settings import CommonSettings
from services.common.store import ArtifactStore

PROJECT = "demo"
META = (("x-aimass-actor", "demo"),)


def column_statistics(frame: Any) -> list[common_pb2.ColumnStatistics]:
    stats = []
    for name in frame.columns:
        column = frame[name]
        quantiles = column.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
        stats.append(
            common_pb2.ColumnStatistics(
                name=name,
                count=int(column.count()),
                null_count=int(column.isna().sum()),
                distinct_estimate=int(column.nunique()),
                min=float(column.min()),
                max=float(column.max()),
                mean=float(column.mean()),
                std=float(column.std()),
                quantiles=[
                    common_pb2.Quantile(q=float(q), value=float(v)) for q, v in quantiles.items()
                ],
            )
        )
    return stats


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


async def register_dataset(
    stub: registry_pb2_grpc.RegistryServiceStub, store: ArtifactStore, frame: Any
) -> pb.DatasetVersion:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    prefix = f"datasets/breast-cancer/{digest_hex(hash_bytes(data))[:16]}"
    part = await store.put_bytes(f"{prefix}/part-0.parquet", data)
    content_hash = await store.tree_digest(prefix)
    try:
        await stub.CreateDataset(
            pb.CreateDatasetRequest(
                project=PROJECT,
                name="breast-cancer",
                description="Wisconsin diagnostic breast cancer (scikit-learn)",
            ),
            metadata=META,
            timeout=10,
        )
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
    schema = common_pb2.Schema(
        fields=[
            common_pb2.Field(
                name=name,
                type=common_pb2.DATA_TYPE_FP64 if name != "target" else common_pb2.DATA_TYPE_INT64,
            )
            for name in frame.columns
        ]
    )
    return await stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(
            project=PROJECT,
            dataset="breast-cancer",
            uri=store.prefix_uri(prefix),
            content_hash=content_hash,
            schema=schema,
            row_count=len(frame),
            size_bytes=part.size,
            statistics=column_statistics(frame),
            sources=[
                pb.SourceDescription(
                    kind="package",
                    uri="python://sklearn.datasets/load_breast_cancer",
                    description="bundled with scikit-learn",
                )
            ],
            idempotency_key=content_hash,
        ),
        metadata=META,
        timeout=10,
    )


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
    features, target = frame.drop(columns=["target"]), frame["target"]
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
    mean_accuracy = float(scores.mean())
    await stub.LogMetrics(
        pb.LogMetricsRequest(
            project=PROJECT,
            run_id=run.id,
            points=[pb.MetricPoint(key="accuracy", value=mean_accuracy, step=0)],
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
    return run, artifact, mean_accuracy


async def demo(registry: str, store: ArtifactStore, out: Callable[[str], None]) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [name.replace(" ", "_") for name in frame.columns]
    async with grpc.aio.insecure_channel(registry) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        await ensure_project(stub)
        version = await register_dataset(stub, store, frame)
        out(
            f"dataset   breast-cancer@{version.version}: {version.row_count} rows, "
            f"{len(version.schema.fields)} columns, {version.content_hash[:19]}…"
        )
        run, artifact, accuracy = await train(stub, store, frame, version)
        out(f"run       {run.id}: {run.params['algorithm']}, 5-fold accuracy {accuracy:.3f}")
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
                        fields=[f for f in version.schema.fields if f.name != "target"]
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


def run_demo(registry: str, home: Path, out: Callable[[str], None]) -> int:
    store = ArtifactStore.from_settings(CommonSettings(home=home))
    asyncio.run(demo(registry, store, out))
    return 0
