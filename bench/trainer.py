"""Trainer figures: the platform's overhead on one xgboost job, and tuning throughput.

1. Overhead: an xgboost job (1M rows x 30 features, 200 rounds, hist) from Submit to registered
   model, against the same fit in a bare script (read the same Parquet parts, fit, predict the
   validation rows) run in the same session, alternating. Target: job <= 1.15 x bare + 3 s.
2. Tuning: trials per minute of one tune run with one trainer replica, then with two replicas
   sharing the study (each replica one thread).

The stack (registry, ingest, trainer) runs as subprocesses on a temporary home with SQLite, a local
store and the NATS at AIMASS_NATS_URL (default nats://127.0.0.1:4222).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pandas as pd
from sklearn.datasets import make_classification

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aimass.ingest.v1 import ingest_pb2 as ipb  # noqa: E402
from aimass.ingest.v1 import ingest_pb2_grpc  # noqa: E402
from aimass.registry.v1 import registry_pb2 as rpb  # noqa: E402
from aimass.registry.v1 import registry_pb2_grpc  # noqa: E402
from aimass.trainer.v1 import trainer_pb2 as tpb  # noqa: E402
from aimass.trainer.v1 import trainer_pb2_grpc  # noqa: E402
from bench._stack import free_port, service_process, wait_healthy  # noqa: E402
from services.common.db import upgrade_database_async  # noqa: E402
from services.trainer.library.params import to_param_value  # noqa: E402

DATA_DIR = Path(tempfile.gettempdir()) / "aimass-bench-trainer"
FINAL = (rpb.RUN_STATUS_FINISHED, rpb.RUN_STATUS_FAILED, rpb.RUN_STATUS_CANCELLED)
XGB_PARAMS = {
    "n_estimators": 200,
    "max_depth": 6,
    "learning_rate": 0.3,
    "early_stopping_rounds": None,  # the bare script trains every round too
}

BARE_SCRIPT = """
import sys, time
import pyarrow.dataset as ds, pyarrow.compute as pc, xgboost as xgb
start = time.perf_counter()
parts = ds.dataset(sys.argv[1], format="parquet")
train = parts.to_table(filter=pc.field("_split") == "train").to_pandas()
valid = parts.to_table(filter=pc.field("_split") == "validation").to_pandas()
features = [c for c in train.columns if c.startswith("f")]
model = xgb.XGBClassifier(n_estimators=200, max_depth=6, learning_rate=0.3, tree_method="hist",
                          n_jobs=int(sys.argv[2]), random_state=0)
model.fit(train[features].to_numpy("float32"), train["target"].to_numpy())
accuracy = (model.predict(valid[features].to_numpy("float32")) == valid["target"]).mean()
print(time.perf_counter() - start, accuracy)
"""


def make_data(rows: int, features: int) -> Path:
    path = DATA_DIR / f"classification-{rows}x{features}.parquet"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        x, y = make_classification(
            n_samples=rows, n_features=features, n_informative=12, random_state=0
        )
        frame = pd.DataFrame(x.astype("float32"), columns=[f"f{i}" for i in range(features)])
        frame["target"] = y
        frame.to_parquet(path, index=False)
    return path


@contextlib.contextmanager
def stack(
    home: Path, namespace: str, threads: int, trainers: int, study_db_url: str = ""
) -> Iterator[dict[str, str]]:
    ports = {"registry": free_port(), "ingest": free_port()}
    trainer_ports = [free_port() for _ in range(trainers)]
    common = {
        "AIMASS_HOME": str(home),
        "AIMASS_METRICS_ENABLED": "false",
        "AIMASS_BUS_NAMESPACE": namespace,
        "AIMASS_LOG_LEVEL": "WARNING",
        "AIMASS_REGISTRY_ADDRESS": f"127.0.0.1:{ports['registry']}",
        "AIMASS_INGEST_ALLOWED_URL_PREFIXES": f'["{DATA_DIR.as_uri()}/"]',
        "AIMASS_TRAINER_THREADS": str(threads),
        "AIMASS_TRAINER_STUDY_DB_URL": study_db_url or f"sqlite+aiosqlite:///{home / 'studies.db'}",
    }
    asyncio.run(upgrade_database_async("registry", f"sqlite+aiosqlite:///{home / 'registry.db'}"))
    asyncio.run(upgrade_database_async("ingest", f"sqlite+aiosqlite:///{home / 'ingest.db'}"))
    with contextlib.ExitStack() as processes:
        processes.enter_context(
            service_process(
                "services.registry",
                {**common, "AIMASS_REGISTRY_PORT": str(ports["registry"])},
                home / "registry.log",
            )
        )
        wait_healthy(f"127.0.0.1:{ports['registry']}")
        processes.enter_context(
            service_process(
                "services.ingest",
                {**common, "AIMASS_INGEST_PORT": str(ports["ingest"])},
                home / "ingest.log",
            )
        )
        for index, port in enumerate(trainer_ports):
            processes.enter_context(
                service_process(
                    "services.trainer",
                    {**common, "AIMASS_TRAINER_PORT": str(port)},
                    home / f"trainer-{index}.log",
                )
            )
        for port in [ports["ingest"], *trainer_ports]:
            wait_healthy(f"127.0.0.1:{port}", timeout=120)
        yield {
            "registry": f"127.0.0.1:{ports['registry']}",
            "ingest": f"127.0.0.1:{ports['ingest']}",
            "trainer": f"127.0.0.1:{trainer_ports[0]}",
        }


async def ingest(addresses: dict[str, str], project: str, path: Path) -> rpb.DatasetVersion:
    async with grpc.aio.insecure_channel(addresses["ingest"]) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        recipe = ipb.Recipe(
            sources=[ipb.Source(alias="data", file=ipb.FileSource(url=path.as_uri()))],
            split=ipb.SplitSpec(
                method=ipb.SPLIT_METHOD_RANDOM,
                parts=[
                    ipb.SplitSpec.Part(name="train", fraction=0.9),
                    ipb.SplitSpec.Part(name="validation", fraction=0.1),
                ],
                seed=1,
            ),
        )
        job = await stub.CreateIngestJob(
            ipb.CreateIngestJobRequest(
                project=project,
                recipe=recipe,
                target=ipb.IngestTarget(dataset="bench", create_dataset=True),
            ),
            timeout=30,
        )
        while job.state not in (
            ipb.INGEST_JOB_STATE_SUCCEEDED,
            ipb.INGEST_JOB_STATE_FAILED,
            ipb.INGEST_JOB_STATE_CANCELLED,
        ):
            await asyncio.sleep(0.5)
            job = await stub.GetIngestJob(
                ipb.GetIngestJobRequest(project=project, job_id=job.id), timeout=10
            )
        if job.state != ipb.INGEST_JOB_STATE_SUCCEEDED:
            raise RuntimeError(f"ingest failed: {job.error}")
    async with grpc.aio.insecure_channel(addresses["registry"]) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        return await registry.GetDatasetVersion(
            rpb.GetDatasetVersionRequest(project=project, id=job.result.dataset_version_id)
        )


async def run_to_end(addresses: dict[str, str], project: str, request: tpb.SubmitRequest) -> float:
    """Seconds from Submit to the run's end (FINISHED required)."""
    async with (
        grpc.aio.insecure_channel(addresses["trainer"]) as trainer_channel,
        grpc.aio.insecure_channel(addresses["registry"]) as registry_channel,
    ):
        trainer = trainer_pb2_grpc.TrainerServiceStub(trainer_channel)
        registry = registry_pb2_grpc.RegistryServiceStub(registry_channel)
        start = time.perf_counter()
        answered = await trainer.Submit(request, timeout=60)
        async for progress in trainer.WatchRun(
            tpb.WatchRunRequest(project=project, run_id=answered.run_id), timeout=3600
        ):
            if progress.state in (tpb.RUN_STATE_FAILED, tpb.RUN_STATE_CANCELLED):
                raise RuntimeError(f"run failed: {progress.error or progress.message}")
        elapsed = time.perf_counter() - start
        run = await registry.GetRun(rpb.GetRunRequest(project=project, id=answered.run_id))
        if run.status != rpb.RUN_STATUS_FINISHED:
            raise RuntimeError(f"run ended {rpb.RunStatus.Name(run.status)}: {run.status_reason}")
        return elapsed


def xgb_request(project: str, version: rpb.DatasetVersion, model: str) -> tpb.SubmitRequest:
    spec = tpb.TrainSpec(
        algorithm="xgboost.gbdt",
        task=tpb.TASK_TYPE_CLASSIFICATION,
        data=tpb.DataSpec(dataset_version_id=version.id, target_column="target"),
        seed=1,
        output=tpb.ModelOutput(model=model),
        metrics=["accuracy"],
    )
    for name, value in XGB_PARAMS.items():
        spec.params[name].CopyFrom(to_param_value(value))
    spec.params["early_stopping_rounds"].CopyFrom(to_param_value(None))
    return tpb.SubmitRequest(project=project, train=spec)


def tune_request(
    project: str, version: rpb.DatasetVersion, trials: int, parallelism: int
) -> tpb.SubmitRequest:
    base = tpb.TrainSpec(
        algorithm="xgboost.gbdt",
        task=tpb.TASK_TYPE_CLASSIFICATION,
        data=tpb.DataSpec(dataset_version_id=version.id, target_column="target"),
        seed=1,
    )
    space = tpb.SearchSpace(
        params=[
            tpb.ParamDistribution(name="n_estimators", int_range=tpb.IntRange(low=20, high=60)),
            tpb.ParamDistribution(name="max_depth", int_range=tpb.IntRange(low=2, high=8)),
        ]
    )
    return tpb.SubmitRequest(
        project=project,
        tune=tpb.TuneSpec(
            base=base,
            search_space=space,
            objective=tpb.Objective(metric="log_loss"),
            pruner=tpb.Pruner(kind=tpb.PRUNER_KIND_NONE),
            budget=tpb.Budget(max_trials=trials, parallelism=parallelism),
            skip_retrain_best=True,
        ),
    )


async def create_project(addresses: dict[str, str]) -> str:
    async with grpc.aio.insecure_channel(addresses["registry"]) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        name = f"bench-{uuid.uuid4().hex[:6]}"
        await stub.CreateProject(rpb.CreateProjectRequest(name=name), timeout=10)
        return name


def bare_fit(parts: Path, threads: int) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", BARE_SCRIPT, str(parts), str(threads)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, accuracy = out.stdout.split()
    return float(seconds), float(accuracy)


def overhead(options: argparse.Namespace) -> None:
    path = make_data(options.rows, options.features)
    home = Path(tempfile.mkdtemp(prefix="aimass-bench-trainer-"))
    with stack(home, f"b{uuid.uuid4().hex[:8]}", options.threads, trainers=1) as addresses:
        project = asyncio.run(create_project(addresses))
        version = asyncio.run(ingest(addresses, project, path))
        parts = Path(version.uri.removeprefix("file://"))
        bare, job = [], []
        for run in range(options.runs):
            seconds, accuracy = bare_fit(parts, options.threads)
            bare.append(seconds)
            request = xgb_request(project, version, f"bench-xgb-{run}")
            job.append(asyncio.run(run_to_end(addresses, project, request)))
            shown = f"bare {seconds:.1f} s (accuracy {accuracy:.3f}), job {job[-1]:.1f} s"
            print(f"  run {run + 1}: {shown}")
    bare_median, job_median = statistics.median(bare), statistics.median(job)
    allowed = 1.15 * bare_median + 3
    print(
        f"xgboost {options.rows:,} x {options.features}, 200 rounds, {options.threads} threads, "
        f"{options.runs} runs (medians):"
    )
    print(f"  bare script (read, fit, predict): {bare_median:.1f} s  runs {_rounded(bare)}")
    print(f"  Submit -> registered model:       {job_median:.1f} s  runs {_rounded(job)}")
    print(
        f"  ratio {job_median / bare_median:.2f}x, overhead {job_median - bare_median:+.1f} s; "
        f"target <= 1.15x + 3 s = {allowed:.1f} s: {'met' if job_median <= allowed else 'MISSED'}"
    )


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 1) for v in values]


def tuning(options: argparse.Namespace) -> None:
    path = make_data(options.tune_rows, options.features)
    rates = {}
    for replicas in (1, 2):
        home = Path(tempfile.mkdtemp(prefix="aimass-bench-tune-"))
        namespace = f"b{uuid.uuid4().hex[:8]}"
        with stack(home, namespace, 1, replicas, options.study_db_url) as addresses:
            project = asyncio.run(create_project(addresses))
            version = asyncio.run(ingest(addresses, project, path))
            request = tune_request(project, version, options.trials, replicas)
            seconds = asyncio.run(run_to_end(addresses, project, request))
        rates[replicas] = options.trials / seconds * 60
        print(f"  {replicas} replica(s): {options.trials} trials in {seconds:.1f} s")
    print(
        f"tuning xgboost on {options.tune_rows:,} x {options.features} (1 thread per replica): "
        f"{rates[1]:.1f} trials/min with one replica, {rates[2]:.1f} with two "
        f"({rates[2] / rates[1]:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--tune-rows", type=int, default=100_000)
    parser.add_argument(
        "--study-db-url",
        default=os.environ.get(
            "AIMASS_BENCH_STUDY_DB_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
        help="the Optuna study database the replicas share (PostgreSQL, as in production)",
    )
    parser.add_argument("--skip", choices=["overhead", "tuning"], action="append", default=[])
    options = parser.parse_args()
    if "overhead" not in options.skip:
        overhead(options)
    if "tuning" not in options.skip:
        tuning(options)


if __name__ == "__main__":
    main()
