"""What a predictor serves: loaded model versions behind batchers, routed per deployment.

A deployment (registry) names a model and a version (pinned, or the one its alias resolved to), an
optional canary version with a share of the traffic, and a serving config. ``ModelRepository``
converges to the registry's deployments: it downloads and loads a version, warms it up, then
switches traffic in one assignment; the replaced version drains (its queued and running requests
finish) before it unloads. A version that fails to load leaves the previous one serving.

The Open Inference model name is the deployment's name; ``model_version`` picks a loaded version
by number or by one of its aliases, and empty means the deployment's routing (canary applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aimass.predictor.v1 import predictor_pb2 as ppb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import AimassError, FailedPrecondition, NotFound, Unavailable
from services.common.outbox import Caller
from services.common.registry_client import RegistryClient
from services.common.store import ArtifactStore
from services.predictor.batching import Batcher, BatchObserver, BatchSettings, Completed
from services.predictor.runtimes import Runtime, load_runtime

logger = logging.getLogger(__name__)

ACTOR = "predictor"
Inputs = dict[str, np.ndarray]
Outputs = dict[str, np.ndarray]
ObserverFactory = Callable[[str, int], BatchObserver | None]

DEFAULT_MAX_BATCH_SIZE = 64
DEFAULT_TIMEOUT_MS = 1_000
DEFAULT_THREADS = 1
DEFAULT_MAX_QUEUE_SIZE = 1_024
LATENCIES_KEPT = 10_000


def effective_config(config: rpb.ServingConfig) -> ppb.EffectiveConfig:
    """The deployment's serving config with the documented defaults filled in."""
    max_batch_size = config.max_batch_size or DEFAULT_MAX_BATCH_SIZE
    return ppb.EffectiveConfig(
        max_batch_size=max_batch_size,
        max_queue_delay_us=max(config.max_queue_delay_us, 0),
        timeout_ms=config.timeout_ms or DEFAULT_TIMEOUT_MS,
        threads=config.threads or DEFAULT_THREADS,
        max_queue_size=max(config.max_queue_size or DEFAULT_MAX_QUEUE_SIZE, max_batch_size),
        sample_rate=min(max(config.sample_rate, 0.0), 1.0),
    )


def rows_of(inputs: Mapping[str, np.ndarray]) -> int:
    """Rows a request carries: the batch axis of its tensors (1 for a 0-d tensor)."""
    for array in inputs.values():
        return int(array.shape[0]) if array.ndim else 1
    return 0


# -- one loaded version ---------------------------------------------------------------------------


class _Fused:
    """The batcher's callbacks for one runtime: requests of the same tensor layout are concatenated
    into one call; a request the model refuses is retried alone, so one caller's bad tensor never
    fails the others in its batch."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def fuse(self, items: list[Inputs]) -> list[Inputs]:
        return items

    def run(self, items: list[Inputs]) -> list[Outputs | AimassError]:
        results: list[Outputs | AimassError | None] = [None] * len(items)
        groups: dict[tuple[object, ...], list[int]] = {}
        for index, inputs in enumerate(items):
            groups.setdefault(_layout(inputs), []).append(index)
        for indices in groups.values():
            if len(indices) == 1:
                results[indices[0]] = self._one(items[indices[0]])
                continue
            try:
                fused = {
                    name: np.concatenate([items[i][name] for i in indices])
                    for name in items[indices[0]]
                }
                outputs = self.runtime.predict(fused)
            except AimassError:
                for index in indices:
                    results[index] = self._one(items[index])
                continue
            start = 0
            for index in indices:
                count = rows_of(items[index])
                results[index] = {name: out[start : start + count] for name, out in outputs.items()}
                start += count
        return [r if r is not None else Unavailable("no result") for r in results]

    def split(self, results: list[Outputs | AimassError], sizes: list[int]) -> list[object]:
        return list(results)

    def _one(self, inputs: Inputs) -> Outputs | AimassError:
        try:
            return self.runtime.predict(inputs)
        except AimassError as exc:
            return exc


def _layout(inputs: Inputs) -> tuple[object, ...]:
    return tuple((name, a.dtype.str, a.shape[1:]) for name, a in inputs.items())


@dataclass
class VersionStats:
    requests: int = 0
    rows: int = 0
    errors: int = 0
    rejected: int = 0
    timed_out: int = 0
    cancelled: int = 0
    batches: int = 0
    batch_rows: int = 0
    queue: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    compute: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    total: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
    since: float = field(default_factory=time.time)


class _CountingObserver:
    """Counts batches into the version's stats, reports the queue depth left behind, then hands
    the batch to the metrics observer: once per batch, not per request."""

    def __init__(
        self,
        stats: VersionStats,
        inner: BatchObserver | None,
        on_queue: Callable[[int], None] | None,
    ) -> None:
        self.stats = stats
        self.inner = inner
        self.on_queue = on_queue
        self.batcher: Batcher[Inputs, object] | None = None  # set once the batcher exists

    def on_batch(
        self,
        size_rows: int,
        n_requests: int,
        queue_seconds: list[float],
        compute_seconds: float,
    ) -> None:
        self.stats.batches += 1
        self.stats.batch_rows += size_rows
        if self.on_queue is not None and self.batcher is not None:
            self.on_queue(self.batcher.queued_rows)
        if self.inner is not None:
            self.inner.on_batch(size_rows, n_requests, queue_seconds, compute_seconds)


@dataclass
class LoadedVersion:
    deployment: rpb.Deployment
    model_version: rpb.ModelVersion
    runtime: Runtime
    batcher: Batcher[Inputs, object]
    config: ppb.EffectiveConfig
    local_dir: Path
    loaded_at: float
    load_seconds: float
    state: ppb.LoadState = ppb.LOAD_STATE_READY
    stats: VersionStats = field(default_factory=VersionStats)

    @property
    def version(self) -> int:
        return int(self.model_version.version)

    async def infer(
        self, inputs: Inputs, rows: int, deadline: float | None
    ) -> tuple[Outputs, Completed[object]]:
        done = await self.batcher.submit(inputs, rows, deadline)
        if isinstance(done.value, AimassError):
            raise done.value
        assert isinstance(done.value, dict)
        return done.value, done

    async def drain(self, grace: float) -> None:
        self.state = ppb.LOAD_STATE_DRAINING
        try:
            await self.batcher.close(grace)
        finally:
            await asyncio.to_thread(self.runtime.close)
            logger.info(
                "unloaded %s version %d (deployment %s)",
                self.model_version.model,
                self.version,
                self.deployment.name,
            )


# -- one deployment -------------------------------------------------------------------------------


@dataclass
class DeploymentState:
    deployment: rpb.Deployment
    stable: LoadedVersion
    canary: LoadedVersion | None = None
    canary_percent: int = 0

    def versions(self) -> list[LoadedVersion]:
        return [self.stable] + ([self.canary] if self.canary is not None else [])

    def pick(self, model_version: str, draw: Callable[[], float]) -> tuple[LoadedVersion, bool]:
        """The version that answers, and whether it is the canary."""
        if not model_version:
            if self.canary is not None and draw() * 100 < self.canary_percent:
                return self.canary, True
            return self.stable, False
        for loaded in self.versions():
            if (
                model_version == str(loaded.version)
                or model_version in loaded.model_version.aliases
            ):
                return loaded, loaded is self.canary
        if model_version == self.deployment.alias:
            return self.stable, False
        served = ", ".join(
            f"{v.version}"
            + (f" ({', '.join(v.model_version.aliases)})" if v.model_version.aliases else "")
            for v in self.versions()
        )
        raise NotFound(
            f"model {self.deployment.name!r} has no version {model_version!r} loaded here; "
            f"loaded: {served}; send a version number, an alias, or nothing for the current one"
        )


# -- the repository -------------------------------------------------------------------------------


@dataclass
class LoadFailure:
    deployment: rpb.Deployment
    version: int
    error: str


class ModelRepository:
    def __init__(
        self,
        registry: RegistryClient,
        store: ArtifactStore,
        model_dir: Path,
        *,
        drain_seconds: float,
        projects: frozenset[str] = frozenset(),
        observer_factory: ObserverFactory | None = None,
        on_load: Callable[[str, float], None] | None = None,
        on_unload: Callable[[str, int], None] | None = None,
        on_count: Callable[[int], None] | None = None,
        on_queue: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.model_dir = model_dir
        self.drain_seconds = drain_seconds
        self.projects = projects
        self.observer_factory = observer_factory
        self.on_load = on_load
        self.on_unload = on_unload
        self.on_count = on_count
        self.on_queue = on_queue
        self.deployments: dict[str, DeploymentState] = {}
        self.failures: dict[str, LoadFailure] = {}
        self.ready = False
        self._locks: dict[str, asyncio.Lock] = {}
        self._draining: set[asyncio.Task[None]] = set()
        self._random = random.Random()

    # -- requests ------------------------------------------------------------------------------

    def route(self, name: str, model_version: str) -> tuple[LoadedVersion, bool]:
        state = self.deployments.get(name)
        if state is None:
            failure = self.failures.get(name)
            if failure is not None:
                raise Unavailable(
                    f"model {name!r} failed to load version {failure.version}: {failure.error}"
                )
            known = ", ".join(sorted(self.deployments)) or "none"
            raise NotFound(f"no model {name!r} is served here; served: {known}")
        return state.pick(model_version, self._random.random)

    # -- converging ----------------------------------------------------------------------------

    async def sync(self) -> None:
        """Read every deployment from the registry and converge to them."""
        found = {
            deployment.name: deployment
            for deployment in await self.registry.deployments(Caller(ACTOR, ""))
            if self._wanted(deployment)
        }
        for name in list(self.deployments):
            if name not in found:
                await self.remove(name)
        for deployment in found.values():
            await self.apply(deployment)
        self.ready = True

    def _wanted(self, deployment: rpb.Deployment) -> bool:
        if deployment.HasField("deleted_at"):
            return False
        if deployment.status == rpb.DEPLOYMENT_STATUS_STOPPED:
            return False
        return not self.projects or deployment.project_id in self.projects

    async def apply(self, deployment: rpb.Deployment) -> None:
        """Converge one deployment: load what it needs, switch traffic, drain what it dropped."""
        async with self._lock(deployment.name):
            if not self._wanted(deployment):
                await self._remove(deployment.name)
                return
            current = self.deployments.get(deployment.name)
            if current is not None and current.deployment.id != deployment.id:
                logger.warning(
                    "deployment name %r is used by two projects; keeping %s",
                    deployment.name,
                    current.deployment.id,
                )
                return
            if current is not None and current.deployment.revision > deployment.revision:
                return  # an older event arriving late
            config = effective_config(deployment.config)
            stable_number = deployment.version or deployment.resolved_version
            canary_number = (
                deployment.config.canary_version if deployment.config.canary_percent > 0 else 0
            )
            loaded: list[LoadedVersion] = []
            number = stable_number
            try:
                stable = await self._version(deployment, number, config, current)
                loaded.append(stable)
                canary = None
                if canary_number and canary_number != stable_number:
                    number = canary_number
                    canary = await self._version(deployment, number, config, current)
            except AimassError as exc:
                self.failures[deployment.name] = LoadFailure(deployment, number, exc.message)
                logger.error("deployment %s not converged: %s", deployment.name, exc.message)
                serving = {id(v) for v in current.versions()} if current is not None else set()
                for version in loaded:
                    if id(version) not in serving:
                        self._drain(version)  # loaded for this change only: unload it
                return
            state = DeploymentState(
                deployment, stable, canary, deployment.config.canary_percent if canary else 0
            )
            self.deployments[deployment.name] = state
            self.failures.pop(deployment.name, None)
            self._count()
            kept = {id(v) for v in state.versions()}
            if current is not None:
                for old in current.versions():
                    if id(old) not in kept:
                        self._drain(old)
            logger.info(
                "deployment %s serves %s version %d%s (revision %d)",
                deployment.name,
                deployment.model,
                stable.version,
                f", canary {canary.version} at {state.canary_percent}%" if canary else "",
                deployment.revision,
            )

    async def remove(self, name: str) -> None:
        async with self._lock(name):
            await self._remove(name)

    async def _remove(self, name: str) -> None:
        self.failures.pop(name, None)
        state = self.deployments.pop(name, None)
        if state is not None:
            for loaded in state.versions():
                self._drain(loaded)

    def _drain(self, loaded: LoadedVersion) -> None:
        async def drain() -> None:
            await loaded.drain(self.drain_seconds)
            if self.on_unload is not None:
                self.on_unload(loaded.deployment.name, loaded.version)

        task = asyncio.create_task(drain())
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)
        self._count()

    def _count(self) -> None:
        if self.on_count is not None:
            self.on_count(sum(len(state.versions()) for state in self.deployments.values()))

    async def close(self) -> None:
        for name in list(self.deployments):
            await self.remove(name)
        if self._draining:
            await asyncio.gather(*self._draining, return_exceptions=True)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # -- loading -------------------------------------------------------------------------------

    async def _version(
        self,
        deployment: rpb.Deployment,
        number: int,
        config: ppb.EffectiveConfig,
        current: DeploymentState | None,
    ) -> LoadedVersion:
        if number <= 0:
            raise FailedPrecondition(
                f"deployment {deployment.name!r} names no version (alias "
                f"{deployment.alias!r} resolves to none)"
            )
        caller = Caller(ACTOR, deployment.project_id)
        model_version = await self.registry.model_version(
            caller, model=deployment.model_id or deployment.model, version=number
        )
        if current is not None:
            for loaded in current.versions():
                if loaded.model_version.id == model_version.id and loaded.config == config:
                    loaded.deployment = deployment
                    loaded.model_version = model_version  # aliases may have moved
                    return loaded
        return await self._load(deployment, model_version, config)

    async def _load(
        self,
        deployment: rpb.Deployment,
        model_version: rpb.ModelVersion,
        config: ppb.EffectiveConfig,
    ) -> LoadedVersion:
        started = time.perf_counter()
        local_dir = await self._download(model_version)
        runtime = await asyncio.to_thread(
            load_runtime,
            local_dir,
            model_version.artifact_format,
            model_version.signature,
            threads=config.threads,
        )
        try:
            await asyncio.to_thread(runtime.warm_up)
        except Exception as exc:
            await asyncio.to_thread(runtime.close)
            raise FailedPrecondition(
                f"version {model_version.version} of {model_version.model} failed its warm-up "
                f"prediction: {exc}"
            ) from exc
        fused = _Fused(runtime)
        settings = BatchSettings(
            max_batch_size=config.max_batch_size if runtime.batchable else 1,
            max_queue_delay_s=config.max_queue_delay_us / 1e6,
            max_queue_rows=config.max_queue_size,
            timeout_s=config.timeout_ms / 1000,
        )
        stats = VersionStats()
        number = int(model_version.version)
        inner = None
        if self.observer_factory is not None:
            inner = self.observer_factory(deployment.name, number)
        on_queue = self.on_queue
        observer = _CountingObserver(
            stats,
            inner,
            None if on_queue is None else lambda rows: on_queue(deployment.name, number, rows),
        )
        batcher: Batcher[Inputs, object] = Batcher(
            settings,
            fused.fuse,
            fused.run,
            fused.split,
            name=f"{deployment.name}-v{model_version.version}",
            observer=observer,
        )
        observer.batcher = batcher
        seconds = time.perf_counter() - started
        if self.on_load is not None:
            self.on_load(deployment.name, seconds)
        logger.info(
            "loaded %s version %d for deployment %s in %.2f s",
            model_version.model,
            model_version.version,
            deployment.name,
            seconds,
        )
        return LoadedVersion(
            deployment,
            model_version,
            runtime,
            batcher,
            config,
            local_dir,
            time.time(),
            seconds,
            stats=stats,
        )

    async def _download(self, model_version: rpb.ModelVersion) -> Path:
        """The version's artifact on local disk (a folder), downloaded once per version id."""
        target = self.model_dir / model_version.id
        if target.is_dir():
            return target
        if not self.store.contains(model_version.artifact_uri):
            raise FailedPrecondition(
                f"version {model_version.version} of {model_version.model} is stored at "
                f"{model_version.artifact_uri}, outside this predictor's store {self.store.url}"
            )
        key = self.store.key_for(model_version.artifact_uri)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{model_version.id}-", dir=self.model_dir))
        try:
            if await self.store.exists(key):
                await self.store.get_file(key, staging / Path(key).name)
            else:
                files = await self.store.get_tree(key, staging)
                if not files:
                    raise FailedPrecondition(
                        f"version {model_version.version} of {model_version.model}: nothing "
                        f"stored at {model_version.artifact_uri}"
                    )
            with contextlib.suppress(FileExistsError, OSError):
                staging.rename(target)
            if not target.is_dir():
                raise FailedPrecondition(f"could not place the model files in {target}")
            return target
        finally:
            shutil.rmtree(staging, ignore_errors=True)
