"""Everything Submit can check is refused before any work starts, with a message that says what
to fix, and no run is created; a job that fails later ends its run FAILED with the reason."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.trainer.library.params import to_param_value
from tests.helpers import refused
from tests.trainer.service_fixtures import (
    META,
    Stack,
    TrainerHandle,
    runs_of,
    submit,
    train_spec,
    wait_run,
)

pytestmark = pytest.mark.integration
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _cancer(stack: Stack, **fields: Any) -> tpb.TrainSpec:
    return train_spec("sklearn.logistic_regression", stack.datasets["cancer"], "target", **fields)


def _knn_with_weights(spec: tpb.TrainSpec) -> None:
    spec.algorithm = "sklearn.knn"
    spec.data.weight_column = "mean_area"


@pytest.mark.parametrize(
    ("change", "code", "fragments"),
    [
        (
            lambda s: setattr(s, "algorithm", "sklearn.logistic_regresion"),
            INVALID,
            ("sklearn.logistic_regresion", "sklearn.logistic_regression"),
        ),
        (
            lambda s: s.params["no_such_knob"].CopyFrom(to_param_value(1)),
            INVALID,
            ("no_such_knob", "C"),
        ),
        (lambda s: s.params["C"].CopyFrom(to_param_value(-1.0)), INVALID, ("'C'", "range")),
        (lambda s: s.params["C"].CopyFrom(to_param_value("big")), INVALID, ("'C'",)),
        (
            lambda s: setattr(s.data, "target_column", "missing"),
            INVALID,
            ("target column", "'missing'"),
        ),
        (
            lambda s: setattr(s.data, "target_column", "mean_radius"),
            INVALID,
            ("mean_radius", "classification needs labels"),
        ),
        (
            lambda s: setattr(s, "task", tpb.TASK_TYPE_CLUSTERING),
            INVALID,
            ("does not do clustering",),
        ),
        (lambda s: setattr(s, "task", tpb.TASK_TYPE_UNSPECIFIED), INVALID, ("task is not set",)),
        (lambda s: s.data.feature_columns.append("nope"), INVALID, ("feature column", "'nope'")),
        (
            lambda s: setattr(s.data, "validation_split", "holdout"),
            INVALID,
            ("'holdout'", "test, train, validation"),
        ),
        (lambda s: s.cv.CopyFrom(tpb.CrossValidation(folds=50)), INVALID, ("folds",)),
        (lambda s: setattr(s.output, "model", "bad name!"), INVALID, ("output.model",)),
        (lambda s: setattr(s.output, "format", tpb.MODEL_FORMAT_ONNX), INVALID, ("ONNX",)),
        (
            _knn_with_weights,
            INVALID,
            ("takes no sample weights", "data.weight_column"),
        ),
        (
            lambda s: s.data.feature_columns.extend(["mean_area", "target"]),
            INVALID,
            ("target",),
        ),
        (lambda s: setattr(s.data, "dataset_version_id", ""), INVALID, ("dataset",)),
        (
            lambda s: setattr(s.data, "dataset_version_id", uuid.uuid4().hex),
            grpc.StatusCode.NOT_FOUND,
            ("not visible",),
        ),
    ],
)
async def test_refused_before_work(
    stack: Stack, trainer: TrainerHandle, change: Any, code: grpc.StatusCode, fragments: Any
) -> None:
    before = len(await runs_of(stack, stack.project))
    spec = _cancer(stack)
    change(spec)
    await refused(submit(trainer, stack.project, train=spec), code, *fragments)
    assert len(await runs_of(stack, stack.project)) == before


async def test_regression_target_must_be_numeric(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec(
        "sklearn.ridge", stack.datasets["cancer"], "target", task=tpb.TASK_TYPE_REGRESSION
    )
    spec.data.target_column = "target"  # an integer label is a number: accepted
    await submit(trainer, stack.project, train=spec, validate_only=True)


async def test_too_few_rows_for_the_folds(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec(
        "sklearn.knn",
        stack.datasets["iris"],
        "target",
        cv=tpb.CrossValidation(method=tpb.CV_METHOD_STRATIFIED_KFOLD, folds=20),
        params={"n_neighbors": 3},
    )
    # 150 rows, 50 per class: 20 stratified folds are possible; 60 are not (and are out of range)
    await submit(trainer, stack.project, train=spec, validate_only=True)


async def test_another_projects_dataset_is_not_found(stack: Stack, trainer: TrainerHandle) -> None:
    other = await stack.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"o-{uuid.uuid4().hex[:8]}"), metadata=META
    )
    await refused(
        submit(trainer, other.name, train=_cancer(stack)),
        grpc.StatusCode.NOT_FOUND,
        "not visible",
    )


async def test_unknown_project(stack: Stack, trainer: TrainerHandle) -> None:
    await refused(
        submit(trainer, "no-such-project", train=_cancer(stack)), grpc.StatusCode.NOT_FOUND
    )


async def test_no_job_set(stack: Stack, trainer: TrainerHandle) -> None:
    await refused(submit(trainer, stack.project), INVALID, "train", "tune")


async def test_validate_only_creates_no_run(stack: Stack, trainer: TrainerHandle) -> None:
    before = len(await runs_of(stack, stack.project))
    answered = await submit(trainer, stack.project, train=_cancer(stack), validate_only=True)
    assert not answered.run_id and answered.resolved.train.seed > 0
    assert len(await runs_of(stack, stack.project)) == before


async def test_a_job_that_fails_ends_its_run_failed(stack: Stack, trainer: TrainerHandle) -> None:
    # How many groups a column holds is only known once the rows are loaded: iris has 3 classes,
    # too few groups for 5 group folds. The run ends FAILED with the reason.
    spec = train_spec(
        "sklearn.logistic_regression",
        stack.datasets["iris"],
        "target",
        cv=tpb.CrossValidation(method=tpb.CV_METHOD_GROUP_KFOLD, folds=5),
    )
    spec.data.group_column = "target"
    answered = await submit(trainer, stack.project, train=spec)
    run = await wait_run(stack, stack.project, answered.run_id)
    assert run.status == rpb.RUN_STATUS_FAILED
    assert "group" in run.status_reason and "5" in run.status_reason
