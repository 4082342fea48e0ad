"""Projects, datasets, uploads and ingest jobs of :class:`aimass.Client`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from aimass.client_base import (
    API,
    BaseClient,
    Progress,
    ServerEvent,
    payloads,
    project_path,
)
from aimass.client_progress import ProgressBar

INGEST_FINAL = (
    "INGEST_JOB_STATE_SUCCEEDED",
    "INGEST_JOB_STATE_FAILED",
    "INGEST_JOB_STATE_CANCELLED",
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def file_recipe(upload_id: str, split: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The recipe that reads one uploaded file as is (format detected), optionally split."""
    recipe: dict[str, Any] = {"sources": [{"alias": "data", "file": {"upload_id": upload_id}}]}
    if split:
        recipe["split"] = dict(split)
    return recipe


class DataMixin(BaseClient):
    # -- projects ------------------------------------------------------------------------------

    def create_project(
        self, name: str, description: str = "", labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        body = {"name": name, "description": description, "labels": dict(labels or {})}
        return dict(self.request("POST", f"{API}/projects", json=body))

    def projects(self, name_contains: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        params = {"name_contains": name_contains}
        return list(self.paginate(f"{API}/projects", "projects", params, limit))

    def project(self, project: str) -> dict[str, Any]:
        return dict(self.request("GET", project_path(project)))

    def delete_project(self, project: str) -> dict[str, Any]:
        return dict(self.request("DELETE", project_path(project)))

    # -- datasets ------------------------------------------------------------------------------

    def create_dataset(
        self,
        project: str,
        name: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {"name": name, "description": description, "tags": dict(tags or {})}
        return dict(self.request("POST", project_path(project, "datasets"), json=body))

    def datasets(
        self,
        project: str,
        name_contains: str = "",
        include_shared: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        params = {"name_contains": name_contains, "include_shared": include_shared or None}
        path = project_path(project, "datasets")
        return list(self.paginate(path, "datasets", params, limit))

    def catalog(
        self,
        project: str,
        name_contains: str = "",
        owner_project: str = "",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Datasets this project may read: its own, shared with it, and public ones (each with
        its owner's ``project``); ``owner_project`` keeps one owner's."""
        params = {"name_contains": name_contains, "owner_project": owner_project}
        return list(self.paginate(project_path(project, "catalog"), "datasets", params, limit))

    def dataset(self, project: str, dataset: str) -> dict[str, Any]:
        return dict(self.request("GET", project_path(project, "datasets", dataset)))

    def delete_dataset(self, project: str, dataset: str) -> dict[str, Any]:
        return dict(self.request("DELETE", project_path(project, "datasets", dataset)))

    def dataset_versions(
        self, project: str, dataset: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        path = project_path(project, "datasets", dataset, "versions")
        return list(self.paginate(path, "versions", None, limit))

    def dataset_version(self, project: str, dataset: str, version: int = 0) -> dict[str, Any]:
        """One version; 0: the latest."""
        path = project_path(project, "datasets", dataset, "versions", version)
        return dict(self.request("GET", path))

    def preview(
        self,
        project: str,
        dataset: str,
        version: int = 0,
        split: str = "",
        columns: Sequence[str] = (),
        limit: int = 50,
    ) -> dict[str, Any]:
        """The first rows of a version: ``{"schema": ..., "rows": [[...], ...]}``."""
        path = project_path(project, "datasets", dataset, "versions", version, "preview")
        params = {"split": split, "columns": list(columns), "limit": limit}
        return dict(self.request("GET", path, params=params))

    def share(
        self, project: str, dataset: str, visibility: str, shared_with: Sequence[str] = ()
    ) -> dict[str, Any]:
        """``visibility``: PRIVATE, SHARED (with ``shared_with`` projects) or PUBLIC."""
        level = visibility.upper()
        if not level.startswith("VISIBILITY_"):
            level = f"VISIBILITY_{level}"
        body = {"visibility": level, "shared_with": list(shared_with)}
        path = project_path(project, "datasets", dataset, "sharing")
        return dict(self.request("PUT", path, json=body))

    # -- uploads and ingest --------------------------------------------------------------------

    def upload(
        self,
        project: str,
        path: str | Path,
        progress: Progress | bool = False,
        file_name: str = "",
        checksum: bool = True,
    ) -> dict[str, Any]:
        """Stage a file for ingest, streamed in chunks; ``progress`` is a ``(sent, total)``
        callable, or True for a text bar on stderr. Answers the Upload (``upload_id``)."""
        file = Path(path)
        name = file_name or file.name
        params = {"file_name": name, "sha256": sha256_of(file) if checksum else ""}
        callback = ProgressBar(name) if progress is True else (progress or None)
        route = project_path(project, "uploads")
        return dict(self.stream_file(route, file, params, callback))

    def ingest(
        self,
        project: str,
        dataset: str,
        recipe: Mapping[str, Any],
        create_dataset: bool = True,
        description: str = "",
        idempotency_key: str = "",
    ) -> dict[str, Any]:
        """Queue an ingest job writing a new version of ``dataset``; answers the IngestJob."""
        body = {
            "recipe": dict(recipe),
            "target": {
                "dataset": dataset,
                "create_dataset": create_dataset,
                "description": description,
            },
            "idempotency_key": idempotency_key,
        }
        return dict(self.request("POST", project_path(project, "ingest-jobs"), json=body))

    def preview_ingest(
        self, project: str, recipe: Mapping[str, Any], limit: int = 0
    ) -> dict[str, Any]:
        """Run ``recipe`` on the first rows only, writing nothing: the output ``schema``, sample
        ``rows``, the ``resolved_recipe`` (detected options filled in) and ``warnings``."""
        body = {"recipe": dict(recipe), "limit": limit}
        path = project_path(project, "ingest-jobs", "preview")
        return dict(self.request("POST", path, json=body))

    def ingest_jobs(
        self, project: str, state: str = "", dataset: str = "", limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Jobs newest first; ``state`` e.g. ``"running,queued"``, ``dataset`` the target's."""
        params = {"state": state, "dataset": dataset}
        return list(self.paginate(project_path(project, "ingest-jobs"), "jobs", params, limit))

    def ingest_job(self, project: str, job_id: str) -> dict[str, Any]:
        return dict(self.request("GET", project_path(project, "ingest-jobs", job_id)))

    def cancel_ingest(self, project: str, job_id: str, reason: str = "") -> dict[str, Any]:
        path = project_path(project, "ingest-jobs", job_id, "cancel")
        return dict(self.request("POST", path, json={"reason": reason}))

    def watch_ingest_events(self, project: str, job_id: str) -> Iterator[ServerEvent]:
        yield from self.events(project_path(project, "ingest-jobs", job_id, "events"))

    def watch_ingest(self, project: str, job_id: str) -> Iterator[dict[str, Any]]:
        """The job now, then at every progress change, until it ends (each an IngestJob)."""
        yield from payloads(self.watch_ingest_events(project, job_id), "job")
