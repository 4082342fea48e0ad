"""The predictor's Prometheus metrics (``aimass_predictor_*``), served by
services.common.metrics on the gRPC port + 1000.

Labels stay bounded: ``model`` is a deployment name served here, ``version`` a version number as a
string, ``code`` a gRPC status name. Latency histograms are in seconds, 100 µs to 10 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

PREFIX = "aimass_predictor"
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
)  # fmt: skip
BATCH_ROW_BUCKETS = tuple(float(2**power) for power in range(13))  # 1 .. 4096
LOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class LogCounters(Protocol):
    """What the metrics read from services.predictor.predlog.PredictionLog at scrape time."""

    @property
    def published(self) -> int: ...

    @property
    def dropped(self) -> int: ...

    @property
    def queued(self) -> int: ...


class PredictorMetrics:
    """Every predictor metric on one registry (the process default unless one is given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = REGISTRY if registry is None else registry
        reg = self.registry
        self.requests = Counter(
            f"{PREFIX}_requests",
            "Inference requests completed, by deployment, version and gRPC status code.",
            ["model", "version", "code"],
            registry=reg,
        )
        self.request_seconds = self._latency("request_seconds", "Inference request latency.")
        self.queue_seconds = self._latency("queue_seconds", "Time a request waited for its batch.")
        self.compute_seconds = self._latency("compute_seconds", "Time one batch took to compute.")
        self.batch_rows = Histogram(
            f"{PREFIX}_batch_rows",
            "Rows per computed batch.",
            ["model"],
            buckets=BATCH_ROW_BUCKETS,
            registry=reg,
        )
        self.queue_rows = Gauge(
            f"{PREFIX}_queue_rows",
            "Rows waiting in a version's batch queue.",
            ["model", "version"],
            registry=reg,
        )
        self.model_load_seconds = Histogram(
            f"{PREFIX}_model_load_seconds",
            "Time to download, load and warm up a model version.",
            ["model"],
            buckets=LOAD_BUCKETS,
            registry=reg,
        )
        self.loaded_models = Gauge(
            f"{PREFIX}_loaded_models", "Model versions loaded in this process.", registry=reg
        )

    def _latency(self, name: str, documentation: str) -> Histogram:
        return Histogram(
            f"{PREFIX}_{name}",
            documentation + " Seconds.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    # -- what the predictor calls ----------------------------------------------------------------

    def observe_request(self, model: str, version: str, code: str, seconds: float) -> None:
        self.requests.labels(model, version, code).inc()
        self.request_seconds.labels(model).observe(seconds)

    def set_queue_rows(self, model: str, version: str | int, rows: int) -> None:
        self.queue_rows.labels(model, str(version)).set(rows)

    def observe_load(self, model: str, seconds: float) -> None:
        self.model_load_seconds.labels(model).observe(seconds)

    def set_loaded_models(self, count: int) -> None:
        self.loaded_models.set(count)

    def forget(self, model: str, version: str | int) -> None:
        """Drop an unloaded version's gauge so old versions do not pile up as series."""
        try:
            self.queue_rows.remove(model, str(version))
        except KeyError:
            pass

    def batch_observer(self, model: str, version: str | int) -> BatchMetrics:
        """A services.predictor.batching.BatchObserver for one loaded version."""
        return BatchMetrics(self, model, str(version))

    def track_log(self, log: LogCounters) -> None:
        """Export the prediction log's counters (read at scrape time); call once per log."""
        self.registry.register(_LogCollector(log))


class BatchMetrics:
    """Feeds one version's batches into the batch-size and queue/compute histograms."""

    def __init__(self, metrics: PredictorMetrics, model: str, version: str) -> None:
        self.model = model
        self.version = version
        self._rows = metrics.batch_rows.labels(model)
        self._queue = metrics.queue_seconds.labels(model)
        self._compute = metrics.compute_seconds.labels(model)

    def on_batch(
        self, size_rows: int, n_requests: int, queue_seconds: list[float], compute_seconds: float
    ) -> None:
        self._rows.observe(size_rows)
        self._compute.observe(compute_seconds)
        for waited in queue_seconds:
            self._queue.observe(waited)


class _LogCollector(Collector):
    def __init__(self, log: LogCounters) -> None:
        self.log = log

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self.log.published, self.log.dropped, self.log.queued)

    @staticmethod
    def _families(published: int, dropped: int, queued: int) -> Iterable[Metric]:
        yield CounterMetricFamily(
            f"{PREFIX}_predictions_logged",
            "Prediction records published to aimass.predictions.<model>.",
            value=published,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_predictions_dropped",
            "Prediction records dropped: log buffer full, publish failed, or shutdown.",
            value=dropped,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_prediction_log_queued",
            "Prediction records waiting to be published.",
            value=queued,
        )
