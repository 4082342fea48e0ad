"""Gateway figures: what the REST door costs on top of the predictor's gRPC.

The reference model of bench/predictor.py (xgboost, 100 trees, depth 6, 30 features), one row per
request, at concurrency 1 and 64 (``--concurrency``), in the same run:

- (direct) ModelInfer straight to the predictor, driven by h2load with a gRPC-framed body, as
  bench/predictor.py does;
- (gateway) TF-Serving-style ``POST /v1/models/bench:predict`` with ``{"instances": [[30
  numbers]]}`` and a project token, driven by wrk (a Lua script sets the body and the
  Authorization header). The gateway authenticates, admits the quota, checks the deployment's
  project (cached), maps the row to a tensor, calls the predictor over its pooled channels and
  answers ``{"predictions": [{"predictions": ..., "probabilities": [...]}]}``.

Printed: req/s, p50 and p99 of each, the ratio gateway / direct and the p50 the gateway adds;
the targets (>= 0.6x, <= 2 ms added) are the issue's at concurrency 64, where the p50 is mostly
queueing and so follows the throughput; concurrency 1 shows the cost of one lone request. The
gateway coalesces concurrent predictions of one deployment into one predictor call
(``--no-coalesce`` sends each alone, as before). Everything runs on this machine, load generators
included: the gateway, the predictor and wrk share its cores.

Run: ``.venv/bin/python bench/gateway.py`` (20 s phases, 3 repeats); quicker:
``--duration 5 --repeats 1``; ``--gateway-workers 1 2`` compares uvicorn worker counts;
``--loop asyncio --http h11`` runs uvicorn without uvloop and httptools. Needs
``apt-get install nghttp2-client wrk``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aimass.registry.v1 import registry_pb2 as rpb  # noqa: E402
from aimass.registry.v1 import registry_pb2_grpc  # noqa: E402
from bench._stack import free_port, stop_process  # noqa: E402
from bench.predictor import (  # noqa: E402
    DEPLOYMENT,
    Figures,
    PredictorTarget,
    _shown,
    check_infer,
    deploy,
    grpc_frame,
    infer_request,
    median_figures,
    predictor_process,
    reference_data,
    registry_stack,
    run_wrk,
    train_model_folder,
)

ADMIN_TOKEN = "amk_bench-admin-token-0123456789abcdef0123456789"
TARGET_CONCURRENCY = 64
PHASE_GAP = 1.0
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.body = '{body}'
"""


@dataclass
class GatewayTarget:
    url: str
    script: Path
    body: str
    token: str

    def check(self, when: str) -> None:
        answer = post_json(self.url, self.body, self.token)
        print(f"gateway check {when}: {answer}")


def post_json(url: str, body: str, token: str, timeout: float = 10.0) -> str:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, data=body.encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return str(response.read().decode())


def wait_live(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited ({process.returncode}): {log.read_text()}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{base}/livez", timeout=1):
                return
        time.sleep(0.2)
    raise TimeoutError(f"the gateway did not start within {timeout:g} s: {log.read_text()}")


async def bench_project(registry_address: str) -> str:
    """The project ``deploy`` made for the bench deployment."""
    async with grpc.aio.insecure_channel(registry_address) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        listed = await registry.ListDeployments(rpb.ListDeploymentsRequest(), timeout=10)
        (deployment,) = [d for d in listed.deployments if d.name == DEPLOYMENT]
        project = await registry.GetProject(
            rpb.GetProjectRequest(project=deployment.project_id), timeout=10
        )
        return str(project.name)


@contextlib.contextmanager
def gateway_process(
    env: dict[str, str], predictor: str, workers: int, options: argparse.Namespace
) -> Iterator[str]:
    """uvicorn on the gateway's app factory (as ``python -m services.gateway`` runs it)."""
    from services.common.db import upgrade_database_async

    home = Path(env["AIMASS_HOME"])
    db_url = f"sqlite+aiosqlite:///{home / 'gateway.db'}"
    asyncio.run(upgrade_database_async("gateway", db_url))
    port = free_port()
    gateway_env = {
        **os.environ,
        **env,
        "AIMASS_GATEWAY_DB_URL": db_url,
        "AIMASS_ADMIN_TOKEN": ADMIN_TOKEN,
        "AIMASS_PREDICTOR_ADDRESS": predictor,
    }
    if options.no_coalesce:
        gateway_env["AIMASS_GATEWAY_COALESCE_MAX_ROWS"] = "1"
    command = [sys.executable, "-m", "uvicorn", "services.gateway.main:app_from_env", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--loop", options.loop, "--http", options.http, "--no-access-log"]
    command += ["--log-level", "warning"]
    log = home / f"gateway-{workers}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=gateway_env, stdout=out, stderr=out)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_live(base, process, log)
        yield base
    finally:
        stop_process(process)


def issue_token(base: str, project: str) -> str:
    body = json.dumps({"name": "bench", "project": project, "scopes": ["predict"]})
    answer = json.loads(post_json(f"{base}/api/v1/tokens", body, ADMIN_TOKEN))
    return str(answer["secret"])


def gateway_target(base: str, project: str, row: list[float], work: Path) -> GatewayTarget:
    token = issue_token(base, project)
    body = json.dumps({"instances": [row]})
    script = work / "gateway.lua"
    script.write_text(WRK_SCRIPT.format(token=token, body=body))
    return GatewayTarget(f"{base}/v1/models/{DEPLOYMENT}:predict", script, body, token)


@dataclass
class Phases:
    """Figures by concurrency: the direct runs, and the gateway's by worker count."""

    direct: dict[int, list[Figures]]
    gateway: dict[tuple[int, int], list[Figures]]


def measure(work: Path, options: argparse.Namespace) -> Phases:
    x, y = reference_data()
    home = work / "home"
    home.mkdir()
    artifact_format = train_model_folder(x, y, work / "model-folder")
    request = infer_request(x[0])
    frame = work / "infer.grpc"
    frame.write_bytes(grpc_frame(request.SerializeToString()))
    phases = Phases({}, {})
    with registry_stack(home) as env:
        asyncio.run(deploy(env, work / "model-folder", artifact_format))
        project = asyncio.run(bench_project(env["AIMASS_REGISTRY_ADDRESS"]))
        with predictor_process(env, options.predictor_workers) as address:
            reply = check_infer(address, request)
            reply_bytes = len(grpc_frame(reply.SerializeToString()))
            direct = PredictorTarget(address, frame, request, reply_bytes, options)
            direct.check("before the load")
            for workers in options.gateway_workers:
                with gateway_process(env, address, workers, options) as base:
                    target = gateway_target(base, project, x[0].tolist(), work)
                    target.check(f"({workers} worker(s)) before the load")
                    run_phases(options, direct, target, workers, phases)
                    target.check("after the load")
    return phases


def run_phases(
    options: argparse.Namespace,
    direct: PredictorTarget,
    gateway: GatewayTarget,
    workers: int,
    phases: Phases,
) -> None:
    for repeat in range(options.repeats):
        print(f"run {repeat + 1}/{options.repeats}, gateway workers {workers}")
        for concurrency in options.concurrency:
            time.sleep(PHASE_GAP)
            figures = direct.load(concurrency)
            phases.direct.setdefault(concurrency, []).append(figures)
            print(f"  direct gRPC  c={concurrency:<3} {_shown(figures)}")
            time.sleep(PHASE_GAP)
            figures = run_wrk(gateway.url, gateway.script, concurrency, options)
            phases.gateway.setdefault((workers, concurrency), []).append(figures)
            print(f"  gateway REST c={concurrency:<3} {_shown(figures)}")


def report(options: argparse.Namespace, phases: Phases) -> None:
    print(
        f"\nxgboost 100 trees depth 6, one row of 30 features; {options.duration:g} s per "
        f"phase, medians of {options.repeats} run(s) per gateway configuration; "
        f"{os.cpu_count()} CPUs; uvicorn --loop {options.loop} --http {options.http}; "
        f"coalescing {'off' if options.no_coalesce else 'on'}"
    )
    print(f"{'':>30} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | errors")
    for concurrency in options.concurrency:
        direct = median_figures(phases.direct[concurrency])
        print(_row(f"direct gRPC (h2load) c={concurrency}", direct))
        for workers in options.gateway_workers:
            gateway = median_figures(phases.gateway[(workers, concurrency)])
            print(_row(f"gateway, {workers} worker(s), c={concurrency}", gateway))
            ratio, added = gateway.rps / direct.rps, gateway.p50 - direct.p50
            verdict = ""
            if concurrency == TARGET_CONCURRENCY:
                verdict = (
                    f" (targets >= 0.6x: {'met' if ratio >= 0.6 else 'MISSED'}, "
                    f"<= 2 ms: {'met' if added <= 2 else 'MISSED'})"
                )
            print(f"  gateway / direct = {ratio:.2f}x, added p50 = {added:.2f} ms{verdict}")


def _row(label: str, figures: Figures) -> str:
    return (
        f"{label:>30} | {figures.rps:>8,.0f} | {figures.p50:>7.2f} | {figures.p99:>7.2f} | "
        f"{figures.errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load phase")
    parser.add_argument("--warm-up", type=float, default=2.0, help="warm-up seconds per phase")
    parser.add_argument("--repeats", type=int, default=3, help="runs; figures are medians")
    parser.add_argument(
        "--connections", type=int, default=8, help="most h2load connections (HTTP/2 sessions)"
    )
    parser.add_argument(
        "--gateway-workers", type=int, nargs="+", default=[1], help="uvicorn worker counts"
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 64], help="in-flight requests"
    )
    parser.add_argument("--predictor-workers", type=int, help="AIMASS_PREDICTOR_WORKERS")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    parser.add_argument(
        "--no-coalesce", action="store_true", help="the gateway sends every request alone"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    options = parser.parse_args()
    for tool in ("h2load", "wrk"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found: apt-get install nghttp2-client wrk")
    work = Path(tempfile.mkdtemp(prefix="aimass-bench-gateway-"))
    try:
        report(options, measure(work, options))
    except urllib.error.HTTPError as error:
        raise SystemExit(f"the gateway answered {error.code}: {error.read().decode()}") from None
    finally:
        if options.keep:
            print(f"work folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
