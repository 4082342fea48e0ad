"""The blocking part of a train job, run in a worker thread: load the rows, cross-validate, fit,
evaluate, save the model folder. Everything it learns goes to the RunReporter.

An xgboost job given a Dask scheduler address loads no rows here (``train_on_cluster``):
``dask_data`` has the cluster's workers read the parts straight from the store, transform and train
on them, and evaluates there too."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.trainer.cancel import CancelToken
from services.trainer.data import JobData, StoreParts, load, part_paths
from services.trainer.library import evaluation
from services.trainer.library.base import FitOptions, Progress, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import FittedModel, ModelSpec, SequenceSettings, fit_model
from services.trainer.library.params import params_from_proto
from services.trainer.library.preprocessing import Column, resolve_choice
from services.trainer.progress import RunReporter

logger = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    model: FittedModel
    manifest: dict[str, Any]
    # Final metrics: cv_<m>_mean / cv_<m>_std, validation_<m>, test_<m> (train_<m> when the job
    # has neither a validation nor a test split).
    metrics: dict[str, float] = field(default_factory=dict)
    # JSON documents stored as run artifacts: evaluation-<split>.json, cv.json.
    documents: dict[str, Any] = field(default_factory=dict)


def model_spec(spec: tpb.TrainSpec, data: JobData, threads: int) -> ModelSpec:
    return build_model_spec(spec, data.columns, threads)


def build_model_spec(spec: tpb.TrainSpec, columns: Sequence[Column], threads: int) -> ModelSpec:
    algorithm = get_algorithm(spec.algorithm)
    task = Task.from_proto(spec.task)
    sequence = None
    if task.sequential:
        sequence = SequenceSettings(
            window=spec.sequence.window,
            horizon=max(spec.sequence.horizon, 1),
            stride=spec.sequence.stride or 1,
            series_id_column=spec.sequence.series_id_column,
        )
    return ModelSpec(
        algorithm=algorithm,
        task=task,
        params=algorithm.resolve_params(params_from_proto(spec.params)),
        columns=columns,
        preprocessing=resolve_choice(
            spec.preprocessing,
            scale_by_default=algorithm.scale_by_default,
            one_hot_by_default=algorithm.one_hot_by_default,
            handles_missing=algorithm.handles_missing,
        ),
        target=spec.data.target_column,
        sequence=sequence,
        options=FitOptions(
            seed=spec.seed,
            threads=spec.resources.threads or threads,
            dask_scheduler_address=spec.resources.dask_scheduler_address,
        ),
    )


def listener(reporter: RunReporter) -> Progress:
    return Progress([reporter.step])


def train(
    spec: tpb.TrainSpec,
    data_dir: Path,
    model_dir: Path,
    *,
    reporter: RunReporter,
    token: CancelToken,
    threads: int,
    max_rows: int,
) -> TrainOutcome:
    """``max_rows`` bounds the rows loaded here; a job on a Dask cluster loads none (its workers
    read the parts in ``data_dir``; the runner rather calls ``train_on_cluster`` with the parts in
    the store, downloading nothing)."""
    if on_dask(spec):
        parts = StoreParts(part_paths(data_dir))
        return train_on_cluster(spec, parts, model_dir, reporter=reporter, token=token)
    data = load(data_dir, spec.data, spec.sequence, max_rows)
    token.check()
    return fit_and_evaluate(spec, data, model_dir, reporter=reporter, token=token, threads=threads)


def fit_and_evaluate(
    spec: tpb.TrainSpec,
    data: JobData,
    model_dir: Path,
    *,
    reporter: RunReporter,
    token: CancelToken,
    threads: int,
    cross_validate: bool = True,
) -> TrainOutcome:
    built = model_spec(spec, data, threads)
    metrics = tuple(spec.metrics)
    final: dict[str, float] = {}
    documents: dict[str, Any] = {}
    if cross_validate and spec.HasField("cv"):
        reporter.phase(tpb.PHASE_CROSS_VALIDATING, "cross-validating")

        def on_fold(index: int, total: int, values: Mapping[str, float]) -> None:
            reporter.step(index + 1, total, "fold", {f"cv_{k}": v for k, v in values.items()})

        result = evaluation.cross_validate(
            built,
            data.train,
            spec.cv,
            metrics,
            groups=data.groups,
            on_fold=on_fold,
            progress=listener(reporter),
        )
        for name, value in result.mean.items():
            final[f"cv_{name}_mean"] = value
        for name, value in result.std.items():
            final[f"cv_{name}_std"] = value
        documents["cv.json"] = {"folds": result.folds, "mean": result.mean, "std": result.std}
        token.check()
    reporter.phase(tpb.PHASE_FITTING, "fitting")
    model = fit_model(built, data.train, data.validation, listener(reporter))
    token.check()
    reporter.phase(tpb.PHASE_EVALUATING, "evaluating")
    held_out = [("validation", data.validation), ("test", data.test)]
    evaluated = [(name, rows) for name, rows in held_out if rows is not None and len(rows)]
    if not evaluated:
        evaluated = [("train", data.train)]
    for name, rows in evaluated:
        assert rows is not None
        result_of_split = evaluation.evaluate(model, rows, metrics)
        _record(final, documents, name, len(rows), result_of_split)
        token.check()
    return _save(model, model_dir, final, documents, reporter)


def on_dask(spec: tpb.TrainSpec) -> bool:
    """Whether the job trains on a Dask cluster, its rows never loaded in the trainer."""
    address = spec.resources.dask_scheduler_address
    return bool(address) and get_algorithm(spec.algorithm).supports_dask


def train_on_cluster(
    spec: tpb.TrainSpec,
    parts: StoreParts,
    model_dir: Path,
    *,
    reporter: RunReporter,
    token: CancelToken,
) -> TrainOutcome:
    """Fit and evaluate on the cluster at ``resources.dask_scheduler_address``; its workers read
    ``parts`` themselves, with their storage options (see ``dask_data``). No cross-validation
    (specs refuse it)."""
    from services.trainer.dask_data import DaskJob

    if spec.HasField("cv"):
        raise InvalidArgument("cross-validation does not run on a Dask cluster: drop `cv`")
    final: dict[str, float] = {}
    documents: dict[str, Any] = {}
    address = spec.resources.dask_scheduler_address
    with DaskJob.open(address, parts.urls, spec.data, parts.storage_options) as job:
        built = build_model_spec(spec, job.columns, threads=1)
        reporter.phase(tpb.PHASE_FITTING, f"fitting on the Dask cluster at {address}")
        model = job.fit(built, listener(reporter))
        token.check()
        reporter.phase(tpb.PHASE_EVALUATING, "evaluating on the Dask cluster")
        held_out = [("validation", spec.data.validation_split), ("test", spec.data.test_split)]
        evaluated = [(name, split) for name, split in held_out if split]
        for name, split in evaluated or [("train", spec.data.train_split)]:
            result = job.evaluate(model, split, spec.metrics)
            _record(final, documents, name, result.rows, result)
            token.check()
    return _save(model, model_dir, final, documents, reporter)


def _record(
    final: dict[str, float],
    documents: dict[str, Any],
    name: str,
    rows: int,
    result: evaluation.Evaluation,
) -> None:
    final.update({f"{name}_{k}": v for k, v in result.metrics.items()})
    documents[f"evaluation-{name}.json"] = {
        "split": name,
        "rows": rows,
        "metrics": result.metrics,
        "warnings": list(result.warnings),
        **result.artifacts,
    }


def _save(
    model: FittedModel,
    model_dir: Path,
    final: dict[str, float],
    documents: dict[str, Any],
    reporter: RunReporter,
) -> TrainOutcome:
    steps = model.learner.fitted_steps()
    if steps is not None:
        final["fitted_steps"] = float(steps)
    reporter.phase(tpb.PHASE_SAVING, "saving the model")
    manifest = model.save(model_dir)
    return TrainOutcome(model, manifest, final, documents)


def document_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True, default=_plain).encode()


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
