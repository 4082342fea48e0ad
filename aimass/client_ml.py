"""Algorithms, training and tuning jobs, runs, models, deployments, prediction and lineage of
:class:`aimass.Client`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aimass.client_base import API, BaseClient, ServerEvent, payloads, project_path, segment

RUN_FINAL = ("RUN_STATE_FINISHED", "RUN_STATE_FAILED", "RUN_STATE_CANCELLED")
PARAM_KINDS = {"bool_value", "int_value", "float_value", "string_value", "list_value", "null_value"}


def param_value(value: Any) -> dict[str, Any]:
    """A plain Python value as an ``aimass.trainer.v1.ParamValue`` in JSON (3 stays an int,
    3.0 a float); a value already in that form passes unchanged."""
    if isinstance(value, Mapping) and len(value) == 1 and set(value) <= PARAM_KINDS:
        return dict(value)
    if value is None:
        return {"null_value": "NULL_VALUE"}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": str(value)}
    if isinstance(value, float):
        return {"float_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, list | tuple):
        return {"list_value": {"values": [param_value(item) for item in value]}}
    raise TypeError(f"a hyperparameter is a bool, number, string, list or None, not {value!r}")


def typed_params(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` (a TrainSpec) with its ``params`` map in ParamValue form."""
    typed = dict(spec)
    if "params" in typed:
        typed["params"] = {name: param_value(v) for name, v in dict(typed["params"]).items()}
    return typed


class MlMixin(BaseClient):
    # -- algorithms, training and tuning -------------------------------------------------------

    def algorithms(self, task: str = "") -> list[dict[str, Any]]:
        body = self.request("GET", f"{API}/algorithms", params={"task": task})
        return list(body.get("algorithms", []))

    def algorithm(self, name: str) -> dict[str, Any]:
        return dict(self.request("GET", f"{API}/algorithms/{segment(name)}"))

    def train(
        self,
        project: str,
        spec: Mapping[str, Any],
        run_name: str = "",
        tags: Mapping[str, str] | None = None,
        validate_only: bool = False,
        idempotency_key: str = "",
    ) -> dict[str, Any]:
        """Submit a TrainSpec (params may be plain values); answers ``{"run_id", "resolved"}``."""
        body = _submission("train", typed_params(spec), run_name, tags, validate_only)
        body["idempotency_key"] = idempotency_key
        return dict(self.request("POST", project_path(project, "training-jobs"), json=body))

    def tune(
        self,
        project: str,
        spec: Mapping[str, Any],
        run_name: str = "",
        tags: Mapping[str, str] | None = None,
        validate_only: bool = False,
        idempotency_key: str = "",
    ) -> dict[str, Any]:
        """Submit a TuneSpec (``base`` a TrainSpec, ``search_space``, ``objective``, ``budget``)."""
        tune = dict(spec)
        if "base" in tune:
            tune["base"] = typed_params(tune["base"])
        body = _submission("tune", tune, run_name, tags, validate_only)
        body["idempotency_key"] = idempotency_key
        return dict(self.request("POST", project_path(project, "tuning-jobs"), json=body))

    def cancel_run(self, project: str, run_id: str, reason: str = "") -> dict[str, Any]:
        path = project_path(project, "runs", run_id, "cancel")
        return dict(self.request("POST", path, json={"reason": reason}))

    def watch_run_events(
        self, project: str, run_id: str, include_trials: bool = False
    ) -> Iterator[ServerEvent]:
        path = project_path(project, "runs", run_id, "events")
        yield from self.events(path, {"include_trials": include_trials or None})

    def watch_run(
        self, project: str, run_id: str, include_trials: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The run's progress now, then every update until it ends (each a RunProgress)."""
        yield from payloads(self.watch_run_events(project, run_id, include_trials), "progress")

    # -- runs ----------------------------------------------------------------------------------

    def runs(
        self,
        project: str,
        status: str = "",
        name_contains: str = "",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        params = {"status": status, "name_contains": name_contains}
        return list(self.paginate(project_path(project, "runs"), "runs", params, limit))

    def search_runs(
        self,
        project: str,
        filters: Sequence[Mapping[str, Any]] = (),
        order_by: Sequence[Mapping[str, Any]] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs matching ``filters`` (``{"field", "op", "values"}``), e.g. metrics.auc > 0.9."""
        body: dict[str, Any] = {"filters": list(filters), "order_by": list(order_by)}
        found: list[dict[str, Any]] = []
        path = project_path(project, "runs", "search")
        while limit is None or len(found) < limit:
            page = self.request("POST", path, json=body)
            found.extend(page.get("runs", []))
            token = page.get("page", {}).get("next_page_token", "")
            if not token:
                break
            body["page"] = {"page_token": token}
        return found if limit is None else found[:limit]

    def run(self, project: str, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", project_path(project, "runs", run_id)))

    def delete_run(self, project: str, run_id: str) -> dict[str, Any]:
        return dict(self.request("DELETE", project_path(project, "runs", run_id)))

    def compare_runs(self, project: str, run_ids: Sequence[str]) -> dict[str, Any]:
        """``{"runs": [...], "params": {key: {run_id: value}}, "metrics": {...}}``."""
        path = project_path(project, "runs-compare")
        return dict(self.request("GET", path, params={"run_id": list(run_ids)}))

    def metric_history(self, project: str, run_id: str, key: str) -> dict[str, Any]:
        """Every point of one metric, pages merged (``steps``, ``values``, ``timestamps_ms``)."""
        path = project_path(project, "runs", run_id, "metrics", key)
        merged: dict[str, Any] = {"key": key, "steps": [], "values": [], "timestamps_ms": []}
        params: dict[str, Any] = {}
        while True:
            page = self.request("GET", path, params=params)
            for column in ("steps", "values", "timestamps_ms"):
                merged[column].extend(page.get(column, []))
            token = page.get("page", {}).get("next_page_token", "")
            if not token:
                return merged
            params["page_token"] = token

    # -- models --------------------------------------------------------------------------------

    def models(
        self, project: str, name_contains: str = "", limit: int | None = None
    ) -> list[dict[str, Any]]:
        params = {"name_contains": name_contains}
        return list(self.paginate(project_path(project, "models"), "models", params, limit))

    def model(self, project: str, model: str) -> dict[str, Any]:
        return dict(self.request("GET", project_path(project, "models", model)))

    def model_versions(
        self, project: str, model: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        path = project_path(project, "models", model, "versions")
        return list(self.paginate(path, "versions", None, limit))

    def model_version(self, project: str, model: str, version: int = 0) -> dict[str, Any]:
        path = project_path(project, "models", model, "versions", version)
        return dict(self.request("GET", path))

    def set_alias(self, project: str, model: str, alias: str, version: int) -> dict[str, Any]:
        path = project_path(project, "models", model, "aliases", alias)
        return dict(self.request("PUT", path, json={"version": version}))

    def delete_alias(self, project: str, model: str, alias: str) -> dict[str, Any]:
        return dict(
            self.request("DELETE", project_path(project, "models", model, "aliases", alias))
        )

    def alias_history(self, project: str, model: str, alias: str) -> list[dict[str, Any]]:
        path = project_path(project, "models", model, "aliases", alias, "history")
        return list(self.paginate(path, "moves"))

    # -- deployments ---------------------------------------------------------------------------

    def deploy(
        self,
        project: str,
        name: str,
        model: str,
        version: int = 0,
        alias: str = "",
        config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Serve ``model`` pinned at ``version`` or following ``alias`` (exactly one)."""
        body = {"name": name, "model": model, "version": version, "alias": alias}
        body["config"] = dict(config or {})
        return dict(self.request("POST", project_path(project, "deployments"), json=body))

    def deployments(self, project: str, model: str = "") -> list[dict[str, Any]]:
        path = project_path(project, "deployments")
        return list(self.paginate(path, "deployments", {"model": model}))

    def deployment(self, project: str, name: str) -> dict[str, Any]:
        return dict(self.request("GET", project_path(project, "deployments", name)))

    def update_deployment(
        self,
        project: str,
        name: str,
        version: int | None = None,
        alias: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Move the target (a version or an alias) and/or replace the serving config."""
        body: dict[str, Any] = {"update_mask": []}
        if version is not None or alias is not None:
            body.update(version=version or 0, alias=alias or "")
            body["update_mask"].append("target")
        if config is not None:
            body["config"] = dict(config)
            body["update_mask"].append("config")
        return dict(self.request("PATCH", project_path(project, "deployments", name), json=body))

    def rollback(self, project: str, name: str, to_revision: int = 0) -> dict[str, Any]:
        """Back to ``to_revision`` (0: the revision before the current one)."""
        path = project_path(project, "deployments", name, "rollback")
        return dict(self.request("POST", path, json={"to_revision": to_revision}))

    def deployment_revisions(self, project: str, name: str) -> list[dict[str, Any]]:
        path = project_path(project, "deployments", name, "revisions")
        return list(self.request("GET", path).get("revisions", []))

    def delete_deployment(self, project: str, name: str) -> dict[str, Any]:
        return dict(self.request("DELETE", project_path(project, "deployments", name)))

    # -- prediction and lineage ----------------------------------------------------------------

    def predict(
        self,
        project: str,
        deployment: str,
        rows: Sequence[Mapping[str, Any]],
        version: int | str | None = None,
        outputs: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Rows as ``{column: value}`` objects in; each output (``predictions``,
        ``probabilities``, ...) as a list, one entry per row, with ``model``, ``model_version``
        and ``prediction_id``. ``version``: a version number or alias instead of the
        deployment's current one; ``outputs``: only these."""
        body: dict[str, Any] = {"rows": [dict(row) for row in rows]}
        if version is not None:
            body["version"] = version
        if outputs:
            body["outputs"] = list(outputs)
        path = project_path(project, "deployments", deployment, "predict")
        return dict(self.request("POST", path, json=body))

    def predict_tf(
        self, name: str, instances: Sequence[Any], version: int | None = None, label: str = ""
    ) -> dict[str, Any]:
        """TensorFlow Serving's REST predict: ``{"predictions": [...]}``."""
        path = f"/v1/models/{segment(name)}"
        if version is not None:
            path += f"/versions/{version}"
        elif label:
            path += f"/labels/{segment(label)}"
        return dict(self.request("POST", f"{path}:predict", json={"instances": list(instances)}))

    def lineage(
        self, project: str, kind: str, id: str, direction: str = "", depth: int = 0
    ) -> dict[str, Any]:
        """Nodes and edges around an entity (kind: dataset_version, run, model_version, ...)."""
        params = {"kind": kind, "id": id, "direction": direction, "depth": depth or None}
        return dict(self.request("GET", project_path(project, "lineage"), params=params))


def _submission(
    job: str,
    spec: Mapping[str, Any],
    run_name: str,
    tags: Mapping[str, str] | None,
    validate_only: bool,
) -> dict[str, Any]:
    return {
        job: dict(spec),
        "run_name": run_name,
        "tags": dict(tags or {}),
        "validate_only": validate_only,
    }
