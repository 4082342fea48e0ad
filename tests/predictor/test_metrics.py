"""Predictor metrics move as the predictor reports, on a registry of the test's own."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.predictor.batching import BatchObserver
from services.predictor.metrics import PredictorMetrics


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> PredictorMetrics:
    return PredictorMetrics(registry)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_requests_count_by_code_and_time_in_seconds(
    metrics: PredictorMetrics, registry: CollectorRegistry
) -> None:
    metrics.observe_request("iris", "3", "OK", 0.0004)
    metrics.observe_request("iris", "3", "OK", 0.02)
    metrics.observe_request("iris", "3", "RESOURCE_EXHAUSTED", 0.00005)

    total = "aimass_predictor_requests_total"
    assert value(registry, total, model="iris", version="3", code="OK") == 2
    assert value(registry, total, model="iris", version="3", code="RESOURCE_EXHAUSTED") == 1
    seconds = "aimass_predictor_request_seconds"
    assert value(registry, f"{seconds}_count", model="iris") == 3
    assert value(registry, f"{seconds}_sum", model="iris") == pytest.approx(0.02045)
    assert value(registry, f"{seconds}_bucket", model="iris", le="0.0001") == 1
    assert value(registry, f"{seconds}_bucket", model="iris", le="0.0005") == 2
    assert value(registry, f"{seconds}_bucket", model="iris", le="10.0") == 3


def test_batch_observer_feeds_batch_histograms(
    metrics: PredictorMetrics, registry: CollectorRegistry
) -> None:
    observer: BatchObserver = metrics.batch_observer("iris", 3)
    observer.on_batch(48, 3, [0.001, 0.002, 0.0001], 0.004)
    observer.on_batch(4096, 1, [0.5], 0.2)

    rows = "aimass_predictor_batch_rows"
    assert value(registry, f"{rows}_count", model="iris") == 2
    assert value(registry, f"{rows}_sum", model="iris") == 4144
    assert value(registry, f"{rows}_bucket", model="iris", le="32.0") == 0
    assert value(registry, f"{rows}_bucket", model="iris", le="64.0") == 1
    assert value(registry, f"{rows}_bucket", model="iris", le="4096.0") == 2
    queue = "aimass_predictor_queue_seconds"
    assert value(registry, f"{queue}_count", model="iris") == 4  # one per request
    assert value(registry, f"{queue}_sum", model="iris") == pytest.approx(0.5031)
    compute = "aimass_predictor_compute_seconds"
    assert value(registry, f"{compute}_count", model="iris") == 2  # one per batch
    assert value(registry, f"{compute}_sum", model="iris") == pytest.approx(0.204)


def test_gauges_loads_and_forgetting_a_version(
    metrics: PredictorMetrics, registry: CollectorRegistry
) -> None:
    metrics.set_queue_rows("iris", 3, 17)
    metrics.set_queue_rows("iris", "4", 2)
    metrics.set_loaded_models(2)
    metrics.observe_load("iris", 1.7)

    depth = "aimass_predictor_queue_rows"
    assert value(registry, depth, model="iris", version="3") == 17
    assert value(registry, depth, model="iris", version="4") == 2
    assert value(registry, "aimass_predictor_loaded_models") == 2
    load = "aimass_predictor_model_load_seconds"
    assert value(registry, f"{load}_count", model="iris") == 1
    assert value(registry, f"{load}_bucket", model="iris", le="1.0") == 0
    assert value(registry, f"{load}_bucket", model="iris", le="2.5") == 1

    metrics.forget("iris", 3)
    metrics.forget("iris", 3)  # already gone: fine
    assert value(registry, depth, model="iris", version="3") is None
    assert value(registry, depth, model="iris", version="4") == 2


@dataclass
class FakeLog:
    published: int = 0
    dropped: int = 0
    queued: int = 0


def test_prediction_log_counters_are_read_at_scrape_time(
    metrics: PredictorMetrics, registry: CollectorRegistry
) -> None:
    log = FakeLog()
    metrics.track_log(log)
    assert value(registry, "aimass_predictor_predictions_logged_total") == 0
    log.published, log.dropped, log.queued = 12, 3, 5
    assert value(registry, "aimass_predictor_predictions_logged_total") == 12
    assert value(registry, "aimass_predictor_predictions_dropped_total") == 3
    assert value(registry, "aimass_predictor_prediction_log_queued") == 5


def test_exposition_is_valid_and_registries_are_independent(registry: CollectorRegistry) -> None:
    PredictorMetrics(registry).observe_request("m", "1", "OK", 0.01)
    other = CollectorRegistry()
    PredictorMetrics(other)  # a second instance on its own registry: no duplicate error
    text = generate_latest(registry).decode()
    assert 'aimass_predictor_requests_total{code="OK",model="m",version="1"} 1.0' in text
    assert (
        value(other, "aimass_predictor_requests_total", model="m", version="1", code="OK") is None
    )
