"""Predictor figures: single-row ModelInfer throughput and latency against two same-run baselines.

Reference model: xgboost, 100 trees, depth 6, hist, trained on make_classification (20,000 rows,
30 features, 12 informative, random_state 0). Measured, all on this machine, load generator
included:

- the predictor: single-row ModelInfer driven by h2load (Debian's nghttp2-client) with a
  gRPC-framed body, at each concurrency; req/s, p50 and p99 from h2load's per-request log;
- (a) the in-process single-row limit: a loop of ``Booster.inplace_predict`` on one row, nthread=1;
- (b) a minimal FastAPI + uvicorn endpoint calling ``predict_proba`` per request, driven by wrk
  (a plain ``def`` handler, run in FastAPI's thread pool as its docs advise for blocking work);
- (c) the transport ceiling: a grpc.aio server whose ModelInfer parses the request and returns
  the predictor's own reply, saved once, with no model, batching or logging, under the same
  h2load. No Python gRPC server on this machine answers faster, so (c) bounds what any predictor
  built on grpcio can reach here, and shows whether a throughput target is reachable at all.

(a) and (b) run an ``XGBClassifier`` (scikit-learn API); the predictor serves the same model made
by the trainer library (a trainer model folder, learning_rate 0.3 as XGBClassifier's default).

Targets: at concurrency 64, >= 0.8x (a) and >= 5x (b), p99 <= 25 ms; at concurrency 1, p50 <= 1 ms.

Concurrency c maps to h2load clients x streams: min(c, --connections) connections, each with
c / connections concurrent streams (1 -> 1x1, 8 -> 8x1, 64 -> 8x8 by default). gRPC clients keep a
few long-lived multiplexed channels rather than one connection per call, and a single connection
would bottleneck on one HTTP/2 session. h2load sees only HTTP statuses, not the grpc-status
trailer: every phase is bracketed by a real gRPC call and an nghttp call with the very body h2load
sends (its grpc-status read from the trailers), and the DATA bytes h2load received are compared
with what successful responses carry (an error response is trailers-only: no DATA).

Run: ``.venv/bin/python bench/predictor.py`` (20 s phases, 3 repeats: ~11 minutes); quicker:
``--duration 5 --repeats 1``; ``--skip predictor`` for the baselines alone; ``--keep`` keeps the
work folder (logs, h2load per-request logs). Needs ``apt-get install nghttp2-client wrk``.

The stack (registry, predictor) runs as subprocesses on a temporary home with SQLite, a local
store and the NATS at AIMASS_NATS_URL (default nats://127.0.0.1:4222).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aimass.common.v1 import common_pb2 as cpb  # noqa: E402
from aimass.inference.v2 import open_inference_pb2 as oip  # noqa: E402
from aimass.inference.v2 import open_inference_pb2_grpc as oip_grpc  # noqa: E402
from aimass.registry.v1 import registry_pb2 as rpb  # noqa: E402
from aimass.registry.v1 import registry_pb2_grpc  # noqa: E402
from bench._stack import free_port, service_process, stop_process, wait_healthy  # noqa: E402

ROWS, FEATURES, INFORMATIVE = 20_000, 30, 12
DEPLOYMENT = "bench"
MODEL = "bench-xgb"
METHOD = "/inference.GRPCInferenceService/ModelInfer"
GRPC_HEADERS = ["-H", "content-type: application/grpc", "-H", "te: trailers"]
PHASE_GAP = 1.0  # seconds between phases, for sockets and queues to settle

BASELINE_SCRIPT = """
import sys, time
import numpy as np, xgboost as xgb
from sklearn.datasets import make_classification
if sys.argv[1] == "train":
    x, y = make_classification(n_samples=20_000, n_features=30, n_informative=12, random_state=0)
    model = xgb.XGBClassifier(n_estimators=100, max_depth=6, tree_method="hist", random_state=0)
    model.fit(x.astype("float32"), y)
    model.save_model(sys.argv[2])
    sys.exit()
model = xgb.XGBClassifier()
model.load_model(sys.argv[2])
booster = model.get_booster()
booster.set_param({"nthread": 1})
row = np.load(sys.argv[3])
for _ in range(500):
    booster.inplace_predict(row)
calls, start = 0, time.perf_counter()
end = start + float(sys.argv[4])
while (now := time.perf_counter()) < end:
    for _ in range(100):
        booster.inplace_predict(row)
    calls += 100
print(calls / (now - start))
"""

CEILING_SCRIPT = """
import asyncio, sys
import grpc
from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.inference.v2 import open_inference_pb2_grpc as oip_grpc


class FixedReply(oip_grpc.GRPCInferenceServiceServicer):
    def __init__(self, reply):
        self.reply = reply

    async def ModelInfer(self, request, context):
        return self.reply


async def main(port, reply_path):
    with open(reply_path, "rb") as saved:
        reply = oip.ModelInferResponse.FromString(saved.read())
    server = grpc.aio.server()
    oip_grpc.add_GRPCInferenceServiceServicer_to_server(FixedReply(reply), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"""

FASTAPI_APP = """
import os
import numpy as np
import xgboost as xgb
from fastapi import FastAPI
from pydantic import BaseModel

model = xgb.XGBClassifier(n_jobs=1)
model.load_model(os.environ["BENCH_MODEL"])
app = FastAPI()


class Features(BaseModel):
    inputs: list[float]


@app.post("/predict")
def predict(features: Features) -> dict[str, list[float]]:
    row = np.asarray([features.inputs], dtype=np.float32)
    return {"probabilities": model.predict_proba(row)[0].tolist()}
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{body}'
"""


@dataclass(frozen=True)
class Figures:
    """One load phase: throughput, latency percentiles (ms) and the requests that went wrong."""

    rps: float
    p50: float
    p99: float
    errors: int = 0
    note: str = ""


# -- the reference model ------------------------------------------------------------------------


def reference_data() -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=ROWS, n_features=FEATURES, n_informative=INFORMATIVE, random_state=0
    )
    return x.astype("float32"), y


def train_model_folder(x: np.ndarray, y: np.ndarray, directory: Path) -> str:
    """The reference model as a trainer model folder; returns its artifact format."""
    from aimass.trainer.v1 import trainer_pb2 as tpb
    from services.trainer.library.base import FitOptions, Task
    from services.trainer.library.catalog import get_algorithm
    from services.trainer.library.model import ModelSpec, TrainingData, fit_model
    from services.trainer.library.preprocessing import Column, ColumnKind, resolve_choice

    info = get_algorithm("xgboost.gbdt")
    names = [f"f{i}" for i in range(x.shape[1])]
    params = {
        "n_estimators": 100,
        "max_depth": 6,
        "learning_rate": 0.3,
        "early_stopping_rounds": None,
    }
    spec = ModelSpec(
        algorithm=info,
        task=Task.CLASSIFICATION,
        params=info.resolve_params(params),
        columns=[Column(name, ColumnKind.NUMERIC, "float") for name in names],
        preprocessing=resolve_choice(
            tpb.Preprocessing(),
            scale_by_default=info.scale_by_default,
            one_hot_by_default=info.one_hot_by_default,
            handles_missing=info.handles_missing,
        ),
        target="target",
        options=FitOptions(seed=0, threads=1),
    )
    frame = pd.DataFrame(x, columns=names)
    model = fit_model(spec, TrainingData(frame, pd.Series(y, name="target")))
    model.save(directory)
    return model.artifact_format


def signature(features: int) -> rpb.ModelSignature:
    inputs = [cpb.Field(name=f"f{i}", type=cpb.DATA_TYPE_FP32) for i in range(features)]
    outputs = [
        cpb.Field(name="predictions", type=cpb.DATA_TYPE_INT64, description="class"),
        cpb.Field(name="probabilities", type=cpb.DATA_TYPE_FP64, shape=[2]),
    ]
    return rpb.ModelSignature(inputs=cpb.Schema(fields=inputs), outputs=cpb.Schema(fields=outputs))


# -- the predictor under test -------------------------------------------------------------------


@contextlib.contextmanager
def registry_stack(home: Path) -> Iterator[dict[str, str]]:
    """The registry (migrated) on a temporary home; the environment every service shares."""
    from services.common.db import upgrade_database_async

    port = free_port()
    env = {
        "AIMASS_HOME": str(home),
        "AIMASS_STORE_URL": (home / "store").as_uri(),
        "AIMASS_METRICS_ENABLED": "false",
        "AIMASS_BUS_NAMESPACE": f"b{uuid.uuid4().hex[:8]}",
        "AIMASS_LOG_LEVEL": "WARNING",
        "AIMASS_REGISTRY_ADDRESS": f"127.0.0.1:{port}",
    }
    asyncio.run(upgrade_database_async("registry", f"sqlite+aiosqlite:///{home / 'registry.db'}"))
    registry_env = {**env, "AIMASS_REGISTRY_PORT": str(port)}
    with service_process("services.registry", registry_env, home / "registry.log"):
        wait_healthy(f"127.0.0.1:{port}")
        yield env


@contextlib.contextmanager
def predictor_process(env: dict[str, str], workers: int | None) -> Iterator[str]:
    """``python -m services.predictor`` until it answers ModelReady for the deployment."""
    port = free_port()
    predictor_env = {**env, "AIMASS_PREDICTOR_PORT": str(port)}
    if workers is not None:
        predictor_env["AIMASS_PREDICTOR_WORKERS"] = str(workers)
    log = Path(env["AIMASS_HOME"]) / "predictor.log"
    with service_process("services.predictor", predictor_env, log) as process:
        wait_model_ready(f"127.0.0.1:{port}", process, log)
        yield f"127.0.0.1:{port}"


async def deploy(env: dict[str, str], folder: Path, artifact_format: str) -> None:
    """Upload the model folder, register it as version 1 and deploy it as ``bench``."""
    from services.common.store import ArtifactStore

    store = ArtifactStore(env["AIMASS_STORE_URL"])
    tree = await store.put_tree(f"models/{MODEL}/{uuid.uuid4().hex[:12]}", folder)
    async with grpc.aio.insecure_channel(env["AIMASS_REGISTRY_ADDRESS"]) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        project = f"bench-{uuid.uuid4().hex[:6]}"
        await registry.CreateProject(rpb.CreateProjectRequest(name=project), timeout=10)
        await registry.CreateModelVersion(
            rpb.CreateModelVersionRequest(
                project=project,
                model=MODEL,
                create_model=True,
                framework="xgboost",
                artifact_format=artifact_format,
                artifact_uri=tree.uri,
                content_hash=tree.digest,
                signature=signature(FEATURES),
                task="classification",
            ),
            timeout=10,
        )
        config = rpb.ServingConfig(max_batch_size=64, max_queue_delay_us=0, sample_rate=0)
        await registry.CreateDeployment(
            rpb.CreateDeploymentRequest(
                project=project, name=DEPLOYMENT, model=MODEL, version=1, config=config
            ),
            timeout=10,
        )


def wait_model_ready(
    address: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = oip_grpc.GRPCInferenceServiceStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the predictor exited ({process.returncode}): {_tail(log)}")
            with contextlib.suppress(grpc.RpcError):
                if stub.ModelReady(oip.ModelReadyRequest(name=DEPLOYMENT), timeout=1).ready:
                    return
            time.sleep(0.2)
    raise TimeoutError(f"model {DEPLOYMENT!r} not ready within {timeout:g} s: {_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def infer_request(row: np.ndarray) -> oip.ModelInferRequest:
    tensor = oip.ModelInferRequest.InferInputTensor(
        name="input", datatype="FP32", shape=[1, row.size]
    )
    return oip.ModelInferRequest(
        model_name=DEPLOYMENT, inputs=[tensor], raw_input_contents=[row.astype("<f4").tobytes()]
    )


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: no compression, big-endian length, the bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def check_infer(address: str, request: oip.ModelInferRequest) -> oip.ModelInferResponse:
    """One ModelInfer through grpc; fails loudly unless it answers with ``predictions``."""
    with grpc.insecure_channel(address) as channel:
        reply = oip_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=10)
    if "predictions" not in [output.name for output in reply.outputs]:
        raise RuntimeError(f"ModelInfer answered without 'predictions': {reply}")
    return reply


def describe(reply: oip.ModelInferResponse) -> str:
    kinds = {"INT64": "<i8", "INT32": "<i4", "FP32": "<f4", "FP64": "<f8", "BOOL": "?"}
    shown = []
    for index, output in enumerate(reply.outputs):
        if index < len(reply.raw_output_contents) and output.datatype in kinds:
            raw = reply.raw_output_contents[index]
            values = np.frombuffer(raw, dtype=kinds[output.datatype]).round(4).tolist()
        else:
            values = str(output.contents).replace("\n", " ")
        shown.append(f"{output.name} {output.datatype} {list(output.shape)} = {values}")
    return f"model {reply.model_name!r} version {reply.model_version!r}: " + "; ".join(shown)


def check_framed(url: str, body: Path) -> str:
    """The grpc-status of the h2load body sent once by nghttp (a non-Python HTTP/2 client)."""
    out = subprocess.run(
        ["nghttp", "-v", f"--data={body}", *GRPC_HEADERS, url],
        capture_output=True,
        timeout=30,
    ).stdout.decode(errors="replace")
    status = re.search(r"grpc-status: (\d+)", out)
    if status is None or status.group(1) != "0":
        message = re.search(r"grpc-message: (.*)", out)
        raise RuntimeError(
            f"the framed body failed: grpc-status {status and status.group(1)}, "
            f"{message and message.group(1)}\n{out[-2000:]}"
        )
    return "grpc-status 0"


# -- load generators ----------------------------------------------------------------------------


def run_h2load(
    url: str, body: Path, concurrency: int, options: argparse.Namespace, reply_bytes: int
) -> Figures:
    clients = min(concurrency, options.connections)
    streams = max(1, concurrency // clients)
    log = body.with_name(f"h2load-{concurrency}.log")
    log.unlink(missing_ok=True)  # h2load appends to its log
    command = [
        "h2load",
        f"--duration={options.duration:g}",
        f"--warm-up-time={options.warm_up:g}",
        f"--clients={clients}",
        f"--max-concurrent-streams={streams}",
        "--threads=1",
        f"--data={body}",
        f"--log-file={log}",
        *GRPC_HEADERS,
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = _number(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    counts = re.search(r"requests: .* (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    statuses = re.search(r"status codes: (\d+) 2xx", out)
    data = re.search(r"\((\d+)\) data", out)
    if counts is None or statuses is None or data is None:
        raise RuntimeError(f"unexpected h2load output:\n{out}")
    succeeded, failed, errored = (int(value) for value in counts.groups())
    # An error reply is trailers-only (HTTP 200, no DATA): count the replies the bytes can hold.
    bodiless = succeeded - min(succeeded, int(data.group(1)) // reply_bytes)
    not_2xx = succeeded - int(statuses.group(1))
    latencies = _log_latencies_ms(log)
    return Figures(
        rps,
        _percentile(latencies, 50),
        _percentile(latencies, 99),
        failed + errored + not_2xx + bodiless,
        f"{clients}x{streams}" + (f", {bodiless} without a reply body" if bodiless else ""),
    )


def _log_latencies_ms(log: Path) -> np.ndarray:
    """Column 3 of h2load's log: microseconds from request start to the end of the response."""
    table = np.loadtxt(log, dtype=np.int64, delimiter="\t", ndmin=2)
    if table.size == 0:
        raise RuntimeError(f"h2load logged no requests in {log}")
    return table[:, 2] / 1000.0


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q))


def run_wrk(url: str, script: Path, concurrency: int, options: argparse.Namespace) -> Figures:
    """wrk at ``concurrency`` connections, after a discarded warm-up like h2load's."""
    threads = min(2, concurrency)
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", "-s", str(script), "--latency", url]
    if options.warm_up > 0:
        warm_up = [*command, f"-d{max(1, round(options.warm_up))}s"]
        subprocess.run(warm_up, capture_output=True, check=True)
    command.append(f"-d{max(1, round(options.duration))}s")
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)\s*$", out, re.MULTILINE))
    if set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(value) for value in socket.groups()) if socket else 0
    return Figures(
        _number(r"Requests/sec:\s+([\d.]+)", out),
        _duration_ms(percentiles["50"]),
        _duration_ms(percentiles["99"]),
        errors,
        f"-t{threads}",
    )


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"{pattern!r} not in:\n{text}")
    return float(found.group(1))


def _duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


# -- baselines ----------------------------------------------------------------------------------


def baseline(*args: str) -> str:
    command = [sys.executable, "-c", BASELINE_SCRIPT, *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@contextlib.contextmanager
def fastapi_server(work: Path, model: Path) -> Iterator[str]:
    (work / "bench_app.py").write_text(FASTAPI_APP)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench_app:app", "--app-dir", str(work)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--no-access-log", "--log-level", "warning"]
    log = work / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={**os.environ, "BENCH_MODEL": str(model)}, stdout=out, stderr=out
        )
    try:
        yield f"http://127.0.0.1:{port}/predict"
    finally:
        stop_process(process)


@contextlib.contextmanager
def ceiling_server(work: Path, predictor: PredictorTarget) -> Iterator[PredictorTarget]:
    """(c): the fixed-reply server, answering the predictor's reply to the bench request."""
    reply = work / "reply.bin"
    reply.write_bytes(check_infer(predictor.address, predictor.request).SerializeToString())
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    log = work / "ceiling.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", CEILING_SCRIPT, str(port), str(reply)],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        address = f"127.0.0.1:{port}"
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        target = PredictorTarget(
            address, predictor.body, predictor.request, predictor.reply_bytes, predictor.options
        )
        target.check("(c) ceiling")
        yield target
    finally:
        stop_process(process)


def uvicorn_flavour() -> str:
    """uvicorn's automatic choices: uvloop and httptools when installed, else asyncio and h11."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn 1 worker, {loop} + {http}"


def check_fastapi(url: str, body: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(
            url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return str(json.loads(response.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- the session --------------------------------------------------------------------------------


def session(options: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="aimass-bench-predictor-"))
    x, y = reference_data()
    np.save(work / "row.npy", x[:1])
    baseline("train", str(work / "model.ubj"))
    json_body = json.dumps({"inputs": x[0].tolist()})
    (work / "post.lua").write_text(WRK_SCRIPT.format(body=json_body))
    runs = Runs()
    with contextlib.ExitStack() as servers:
        target = None
        if "predictor" not in options.skip:
            target = servers.enter_context(start_predictor(work, x, y, options))
        ceiling = None
        if target is not None and "ceiling" not in options.skip:
            ceiling = servers.enter_context(ceiling_server(work, target))
        fastapi_url = ""
        if "fastapi" not in options.skip:
            fastapi_url = servers.enter_context(fastapi_server(work, work / "model.ubj"))
            print(f"fastapi check ({uvicorn_flavour()}): {check_fastapi(fastapi_url, json_body)}")
        for repeat in range(options.repeats):
            print(f"run {repeat + 1}/{options.repeats}")
            if "inplace" not in options.skip:
                runs.inplace.append(inplace_limit(work, options.inplace_duration))
                print(f"  (a) inplace_predict: {runs.inplace[-1]:,.0f} calls/s")
            for concurrency in options.concurrency:
                if fastapi_url:
                    time.sleep(PHASE_GAP)
                    figures = run_wrk(fastapi_url, work / "post.lua", concurrency, options)
                    runs.add("fastapi", concurrency, figures)
                if target is not None:
                    time.sleep(PHASE_GAP)
                    runs.add("predictor", concurrency, target.load(concurrency))
                if ceiling is not None:
                    time.sleep(PHASE_GAP)
                    runs.add("ceiling", concurrency, ceiling.load(concurrency))
        if target is not None:
            target.check("after the load")
        if fastapi_url:
            print(f"fastapi check after the load: {check_fastapi(fastapi_url, json_body)}")
    report(options, runs)
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Runs:
    """Every phase's figures, by system and concurrency, and the (a) loop's calls/s."""

    phases: dict[str, dict[int, list[Figures]]] = field(
        default_factory=lambda: {"predictor": {}, "fastapi": {}, "ceiling": {}}
    )
    inplace: list[float] = field(default_factory=list)

    def add(self, system: str, concurrency: int, figures: Figures) -> None:
        self.phases[system].setdefault(concurrency, []).append(figures)
        label = {"predictor": "predictor", "fastapi": "(b) fastapi"}.get(system, "(c) ceiling")
        print(f"  {label:<13} c={concurrency:<3} {_shown(figures)}")


def inplace_limit(work: Path, seconds: float) -> float:
    model, row = str(work / "model.ubj"), str(work / "row.npy")
    return float(baseline("loop", model, row, str(seconds)))


@dataclass
class PredictorTarget:
    address: str
    body: Path
    request: oip.ModelInferRequest
    reply_bytes: int
    options: argparse.Namespace

    @property
    def url(self) -> str:
        return f"http://{self.address}{METHOD}"

    def check(self, when: str) -> None:
        reply = check_infer(self.address, self.request)
        framed = check_framed(self.url, self.body)
        print(f"predictor check {when}: grpc {describe(reply)}; nghttp {framed}")

    def load(self, concurrency: int) -> Figures:
        return run_h2load(self.url, self.body, concurrency, self.options, self.reply_bytes)


@contextlib.contextmanager
def start_predictor(
    work: Path, x: np.ndarray, y: np.ndarray, options: argparse.Namespace
) -> Iterator[PredictorTarget]:
    home = work / "home"
    home.mkdir()
    artifact_format = train_model_folder(x, y, work / "model-folder")
    request = infer_request(x[0])
    body = work / "infer.grpc"
    body.write_bytes(grpc_frame(request.SerializeToString()))
    with registry_stack(home) as env:
        # Deployed before the predictor starts: it serves it from its first sync.
        asyncio.run(deploy(env, work / "model-folder", artifact_format))
        with predictor_process(env, options.workers) as address:
            reply = check_infer(address, request)
            reply_bytes = len(grpc_frame(reply.SerializeToString()))
            target = PredictorTarget(address, body, request, reply_bytes, options)
            target.check("before the load")
            yield target


def _shown(figures: Figures) -> str:
    errors = f", {figures.errors} errors" if figures.errors else ""
    return (
        f"{figures.rps:>9,.0f} req/s  p50 {figures.p50:6.2f} ms  p99 {figures.p99:6.2f} ms"
        f"  ({figures.note}{errors})"
    )


def median_figures(runs: list[Figures]) -> Figures:
    return Figures(
        statistics.median(f.rps for f in runs),
        statistics.median(f.p50 for f in runs),
        statistics.median(f.p99 for f in runs),
        sum(f.errors for f in runs),
        runs[0].note,
    )


def report(options: argparse.Namespace, runs: Runs) -> None:
    medians = {
        system: {c: median_figures(figures) for c, figures in by_c.items()}
        for system, by_c in runs.phases.items()
    }
    print(
        f"\nxgboost 100 trees depth 6, one row of {FEATURES} features; {options.duration:g} s "
        f"per phase, medians of {options.repeats} run(s); {os.cpu_count()} CPUs"
    )
    heads = (
        "predictor req/s  p50 ms  p99 ms",
        "(b) fastapi req/s  p50 ms  p99 ms",
        "(c) ceiling req/s  p50 ms  p99 ms",
    )
    print(f"{'concurrency':>11} | {heads[0]:>32} | {heads[1]:>34} | {heads[2]:>34}")
    for concurrency in options.concurrency:
        cells = [
            _cell(medians[system].get(concurrency))
            for system in ("predictor", "fastapi", "ceiling")
        ]
        print(f"{concurrency:>11} | {cells[0]:>32} | {cells[1]:>34} | {cells[2]:>34}")
    a = statistics.median(runs.inplace) if runs.inplace else None
    if a is not None:
        shown = [round(v) for v in runs.inplace]
        print(f"(a) Booster.inplace_predict, 1 row, nthread=1: {a:,.0f} calls/s (runs {shown})")
    targets(medians, a)


def _cell(figures: Figures | None) -> str:
    if figures is None:
        return "-"
    errors = f" [{figures.errors} err]" if figures.errors else ""
    return f"{figures.rps:,.0f}  {figures.p50:6.2f}  {figures.p99:6.2f}{errors}"


def targets(medians: dict[str, dict[int, Figures]], inplace: float | None) -> None:
    predictor, fastapi = medians["predictor"], medians["fastapi"]
    top, single = predictor.get(64), predictor.get(1)
    lines: list[tuple[str, bool]] = []
    if top is not None and inplace is not None:
        ratio = top.rps / inplace
        lines.append((f"predictor@64 / (a) = {ratio:.2f}x, target >= 0.8x", ratio >= 0.8))
    if top is not None and 64 in fastapi:
        ratio = top.rps / fastapi[64].rps
        lines.append((f"predictor@64 / (b)@64 = {ratio:.2f}x, target >= 5x", ratio >= 5))
    if top is not None:
        lines.append((f"predictor@64 p99 = {top.p99:.2f} ms, target <= 25 ms", top.p99 <= 25))
    if single is not None:
        lines.append((f"predictor@1 p50 = {single.p50:.3f} ms, target <= 1 ms", single.p50 <= 1))
    for text, met in lines:
        print(f"  {text}: {'met' if met else 'MISSED'}")
    ceiling = medians["ceiling"].get(64)
    if ceiling is not None:
        shown = f"(c)@64 = {ceiling.rps:,.0f} req/s"
        if top is not None:
            shown += f"; the predictor reaches {top.rps / ceiling.rps:.0%} of it"
        if inplace is not None:
            shown += f"; 0.8x (a) asks for {0.8 * inplace / ceiling.rps:.0%} of it"
        if 64 in fastapi:
            shown += f", 5x (b) for {5 * fastapi[64].rps / ceiling.rps:.0%}"
        print(f"  transport ceiling {shown}")
    for system, by_c in medians.items():
        for concurrency, figures in by_c.items():
            if figures.errors:
                print(f"  {system}@{concurrency}: {figures.errors} failed requests, not valid")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load phase")
    parser.add_argument("--warm-up", type=float, default=2.0, help="h2load warm-up seconds")
    parser.add_argument(
        "--inplace-duration", type=float, default=5.0, help="seconds of the (a) loop"
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 8, 64], help="in-flight requests"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs; figures are medians")
    parser.add_argument(
        "--connections", type=int, default=8, help="most h2load connections (HTTP/2 sessions)"
    )
    parser.add_argument("--workers", type=int, help="AIMASS_PREDICTOR_WORKERS (default: unset)")
    parser.add_argument(
        "--skip",
        choices=["predictor", "inplace", "fastapi", "ceiling"],
        action="append",
        default=[],
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    options = parser.parse_args()
    for tool in ("h2load", "nghttp", "wrk"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found: apt-get install nghttp2-client wrk")
    session(options)


if __name__ == "__main__":
    main()
