"""The ML routes end to end through REST over the real registry, ingest and trainer: train, follow
the run's events, read its metrics, compare runs, alias the model, deploy it (canary, rollback,
revisions) and trace the deployment back to its dataset; tune with a tiny budget; cancel."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.gateway_fixtures import Gateway
from tests.gateway.ml_fixtures import (
    API,
    follow,
    ints,
    ml_gateway,
    project_path,
    stack,
    train_body,
    trainer,
    wait_status,
)
from tests.trainer.service_fixtures import Stack

__all__ = ["ml_gateway", "stack", "trainer"]

pytestmark = pytest.mark.integration

MODEL = "gw-cancer"


async def _train(gateway: Gateway, stack: Stack, algorithm: str, **spec: Any) -> dict[str, Any]:
    body = train_body(stack, algorithm, output={"model": MODEL}, seed="7", **spec)
    response = await gateway.admin.post(project_path(stack, "training-jobs"), json=body)
    assert response.status_code == 202, response.text
    answered: dict[str, Any] = response.json()
    assert answered["resolved"]["project"] == stack.project
    return answered


async def test_algorithms_are_listed_and_described(ml_gateway: Gateway) -> None:
    listed = await ml_gateway.admin.get(f"{API}/algorithms", params={"task": "clustering"})
    assert listed.status_code == 200, listed.text
    names = {a["name"] for a in listed.json()["algorithms"]}
    assert "sklearn.kmeans" in names and "xgboost.gbdt" not in names
    gbdt = await ml_gateway.admin.get(f"{API}/algorithms/xgboost.gbdt")
    assert gbdt.status_code == 200 and gbdt.json()["iterative"] is True
    assert "learning_rate" in {h["name"] for h in gbdt.json()["hyperparameters"]}
    unknown = await ml_gateway.admin.get(f"{API}/algorithms", params={"task": "astrology"})
    assert unknown.status_code == 400 and "astrology" in unknown.json()["error"]["message"]


async def test_train_compare_alias_deploy_and_trace(ml_gateway: Gateway, stack: Stack) -> None:
    client = ml_gateway.admin
    boosted = await _train(
        ml_gateway, stack, "xgboost.gbdt", params=ints(n_estimators=12, max_depth=2)
    )
    updates = await follow(client, stack, boosted["run_id"])
    final = updates[-1]
    assert final["state"] == "RUN_STATE_FINISHED", final
    assert final["model_version"] == "1" and final["model_version_id"]
    assert final["phase"] == "PHASE_DONE" and final["run_id"] == boosted["run_id"]
    linear = await _train(ml_gateway, stack, "sklearn.logistic_regression")
    assert (await follow(client, stack, linear["run_id"]))[-1]["model_version"] == "2"

    history = await client.get(
        project_path(stack, "runs", boosted["run_id"], "metrics", "val_loss")
    )
    assert history.status_code == 200, history.text
    steps = [int(step) for step in history.json()["steps"]]
    assert len(steps) >= 5 and steps == sorted(steps)

    ids = [boosted["run_id"], linear["run_id"]]
    compared = await client.get(project_path(stack, "runs-compare"), params={"run_id": ids})
    assert compared.status_code == 200, compared.text
    table = compared.json()
    assert [run["id"] for run in table["runs"]] == ids
    assert table["params"]["algorithm"] == {
        ids[0]: "xgboost.gbdt",
        ids[1]: "sklearn.logistic_regression",
    }
    assert set(table["metrics"]["test_accuracy"]) == set(ids)
    assert all(0.8 < value <= 1 for value in table["metrics"]["test_accuracy"].values())

    finished = await client.get(project_path(stack, "runs"), params={"status": "finished"})
    assert set(ids) <= {run["id"] for run in finished.json()["runs"]}
    search = {
        "filters": [{"field": "params.algorithm", "op": "OPERATOR_EQ", "values": ["xgboost.gbdt"]}]
    }
    found = await client.post(project_path(stack, "runs", "search"), json=search)
    assert found.status_code == 200 and boosted["run_id"] in {r["id"] for r in found.json()["runs"]}

    await _check_model_and_aliases(ml_gateway, stack, boosted["run_id"])
    deployment = await _deploy_canary_and_roll_back(ml_gateway, stack)
    await _trace_back_to_the_dataset(ml_gateway, stack, deployment["id"])


async def _check_model_and_aliases(gateway: Gateway, stack: Stack, first_run: str) -> None:
    client = gateway.admin
    model = (await client.get(project_path(stack, "models", MODEL))).json()
    assert model["latest_version"] == "2"
    versions = await client.get(project_path(stack, "models", MODEL, "versions"))
    assert sorted(v["version"] for v in versions.json()["versions"]) == ["1", "2"]
    first = (await client.get(project_path(stack, "models", MODEL, "versions", "1"))).json()
    assert first["source_run_id"] == first_run and first["framework"] == "xgboost"
    latest = await client.get(project_path(stack, "models", MODEL, "versions", "0"))
    assert latest.json()["version"] == "2"

    alias = project_path(stack, "models", MODEL, "aliases", "production")
    assert (await client.put(alias, json={"version": 1})).json()["aliases"] == {"production": "1"}
    moved = await client.put(alias, json={"version": 2})
    assert moved.status_code == 200 and moved.json()["aliases"]["production"] == "2"
    history = (await client.get(alias + "/history")).json()["moves"]
    newest_first = [(m["from_version"], m["to_version"]) for m in history]
    assert newest_first == [("1", "2"), ("0", "1")]


async def _deploy_canary_and_roll_back(gateway: Gateway, stack: Stack) -> dict[str, Any]:
    client = gateway.admin
    body = {"name": "gw-cancer-prod", "model": MODEL, "alias": "production"}
    created = await client.post(project_path(stack, "deployments"), json=body)
    assert created.status_code == 201, created.text
    assert created.json()["resolved_version"] == "2" and created.json()["revision"] == "1"
    deployment = project_path(stack, "deployments", "gw-cancer-prod")
    canary = {"config": {"canary_version": 1, "canary_percent": 10, "max_batch_size": 8}}
    patched = await client.patch(deployment, json=canary)
    assert patched.status_code == 200, patched.text
    assert patched.json()["revision"] == "2"
    assert patched.json()["config"]["canary_percent"] == 10
    rolled = await client.post(deployment + "/rollback", json={})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["revision"] == "3" and rolled.json()["config"]["canary_percent"] == 0
    revisions = (await client.get(deployment + "/revisions")).json()["revisions"]
    assert len(revisions) == 3
    assert revisions[-1]["config"]["canary_percent"] == 0
    listed = await client.get(project_path(stack, "deployments"), params={"model": MODEL})
    assert [d["name"] for d in listed.json()["deployments"]] == ["gw-cancer-prod"]
    got: dict[str, Any] = (await client.get(deployment)).json()
    return got


async def _trace_back_to_the_dataset(gateway: Gateway, stack: Stack, deployment_id: str) -> None:
    params: dict[str, Any] = {
        "kind": "deployment",
        "id": deployment_id,
        "direction": "upstream",
        "depth": 5,
    }
    lineage = await gateway.admin.get(project_path(stack, "lineage"), params=params)
    assert lineage.status_code == 200, lineage.text
    nodes = {(n["entity"]["kind"], n["entity"]["id"]) for n in lineage.json()["nodes"]}
    assert ("ENTITY_KIND_DATASET_VERSION", stack.datasets["cancer"]) in nodes
    kinds = {kind for kind, _ in nodes}
    assert {"ENTITY_KIND_MODEL_VERSION", "ENTITY_KIND_RUN"} <= kinds
    bad = await gateway.admin.get(project_path(stack, "lineage"), params={**params, "kind": "x"})
    assert bad.status_code == 400 and "'x'" in bad.json()["error"]["message"]


async def test_a_tuning_job_with_a_tiny_budget(ml_gateway: Gateway, stack: Stack) -> None:
    base = train_body(stack, "sklearn.logistic_regression", seed="3")["train"]
    tune = {
        "base": base,
        "search_space": {
            "params": [{"name": "C", "float_range": {"low": 0.01, "high": 10, "log": True}}]
        },
        "objective": {"metric": "accuracy"},
        "budget": {"max_trials": 2},
        "skip_retrain_best": True,
    }
    response = await ml_gateway.admin.post(project_path(stack, "tuning-jobs"), json={"tune": tune})
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    updates = await follow(ml_gateway.admin, stack, run_id, include_trials=True)
    assert updates[-1]["state"] == "RUN_STATE_FINISHED", updates[-1]
    assert any(u.get("trial", {}).get("run_id") for u in updates)
    run = (await ml_gateway.admin.get(project_path(stack, "runs", run_id))).json()
    assert run["kind"] == "tune" and "best_accuracy" in run["metrics"]


async def test_cancel_a_running_job(ml_gateway: Gateway, stack: Stack) -> None:
    params = {
        **ints(n_estimators=200_000),
        "learning_rate": {"float_value": 0.001},
        "early_stopping_rounds": {"null_value": "NULL_VALUE"},
    }
    body = train_body(stack, "xgboost.gbdt", params=params)
    response = await ml_gateway.admin.post(project_path(stack, "training-jobs"), json=body)
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    await wait_status(ml_gateway.admin, stack, run_id, "RUN_STATUS_RUNNING")
    cancel = project_path(stack, "runs", run_id, "cancel")
    cancelled = await ml_gateway.admin.post(cancel, json={"reason": "enough"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "RUN_STATE_CANCELLED"
    assert (await follow(ml_gateway.admin, stack, run_id))[-1]["state"] == "RUN_STATE_CANCELLED"
    run = await wait_status(ml_gateway.admin, stack, run_id, "RUN_STATUS_CANCELLED")
    assert run["status_reason"] == "enough"
    deleted = await ml_gateway.admin.delete(project_path(stack, "runs", run_id))
    assert deleted.status_code == 200 and deleted.json()["deleted_at"]
    assert (await ml_gateway.admin.get(project_path(stack, "runs", run_id))).status_code == 404
