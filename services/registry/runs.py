"""Runs: write-once params, metric history, tags, a status machine, attempts, artifacts, inputs."""

from __future__ import annotations

import math
from collections import defaultdict

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.events.v1 import events_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common.db import utcnow
from services.common.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from services.common.validation import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    require,
    validate_count,
    validate_key,
    validate_mapping,
    validate_text,
)
from services.registry import convert, models
from services.registry.convert import RUN_STATUS_BY_NAME, RUN_STATUS_NAMES
from services.registry.core import (
    Caller,
    Database,
    Kind,
    UnitOfWork,
    acting_project,
    mark_deleted,
    mark_restored,
    new_id,
)
from services.registry.lineage import Edge, record_edges
from services.registry.metrics import MetricStore
from services.registry.search import SearchSpec, run_search
from services.registry.tagging import load_tags, resolve_shareable, set_tags

TRANSITIONS = {
    "queued": {"running", "cancelled", "failed"},
    "running": {"running", "finished", "failed", "cancelled"},
}
MAX_INPUTS = 100
MAX_KIND = 32  # the width of runs.kind
R = models.Run
SPEC = SearchSpec(
    entity=models.Run,
    tag_kind="run",
    text_fields={
        "name": R.name,
        "status": R.status,
        "kind": R.kind,
        "parent_run_id": R.parent_run_id,
        "created_by": R.created_by,
    },
    time_fields={"created_at": R.created_at, "started_at": R.started_at, "ended_at": R.ended_at},
    with_metrics_and_params=True,
)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _validate_create(request: pb.CreateRunRequest) -> tuple[dict[str, str], str]:
    validate_text(request.name, "run name", 256)
    if request.kind:
        validate_key(request.kind, "run kind")
        validate_text(request.kind, "run kind", MAX_KIND)
    validate_text(request.idempotency_key, "idempotency_key", 128)
    params = validate_mapping(request.params, "param", MAX_PARAM_VALUE)
    validate_mapping(request.environment, "environment", MAX_TAG_VALUE)
    validate_count(request.input_dataset_version_ids, "input dataset versions", MAX_INPUTS)
    status = RUN_STATUS_NAMES.get(request.initial_status, "queued")
    if status not in ("queued", "running"):
        raise InvalidArgument("initial_status must be QUEUED or RUNNING")
    return params, status


async def _by_idempotency_key(
    session: AsyncSession, project_id: str, key: str
) -> models.Run | None:
    return (
        await session.execute(select(R).where(R.project_id == project_id, R.idempotency_key == key))
    ).scalar_one_or_none()


class RunService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.metric_store = MetricStore()

    async def owned(
        self, session: AsyncSession, caller: Caller, run_id: str, include_deleted: bool = False
    ) -> models.Run:
        project = await acting_project(session, caller)
        row = await session.get(models.Run, require(run_id, "run id"))
        if row is None or row.project_id != project.id:
            raise NotFound(f"run {run_id!r} does not exist in project {project.name!r}")
        if row.deleted_at is not None and not include_deleted:
            raise NotFound(f"run {run_id!r} is deleted; restore it first")
        return row

    async def to_messages(self, session: AsyncSession, rows: list[models.Run]) -> list[pb.Run]:
        ids = [row.id for row in rows]
        params: dict[str, dict[str, str]] = defaultdict(dict)
        metrics: dict[str, dict[str, float]] = defaultdict(dict)
        artifacts: dict[str, list[models.RunArtifact]] = defaultdict(list)
        attempts: dict[str, list[models.RunAttempt]] = defaultdict(list)
        if ids:
            for run_id, key, value in await session.execute(
                select(models.RunParam.run_id, models.RunParam.key, models.RunParam.value).where(
                    models.RunParam.run_id.in_(ids)
                )
            ):
                params[run_id][key] = value
            for run_id, key, number in await session.execute(
                select(
                    models.LatestMetric.run_id, models.LatestMetric.key, models.LatestMetric.value
                ).where(models.LatestMetric.run_id.in_(ids))
            ):
                metrics[run_id][key] = number
            for artifact in (
                await session.execute(
                    select(models.RunArtifact)
                    .where(models.RunArtifact.run_id.in_(ids))
                    .order_by(models.RunArtifact.path)
                )
            ).scalars():
                artifacts[artifact.run_id].append(artifact)
            for attempt in (
                await session.execute(
                    select(models.RunAttempt)
                    .where(models.RunAttempt.run_id.in_(ids))
                    .order_by(models.RunAttempt.attempt)
                )
            ).scalars():
                attempts[attempt.run_id].append(attempt)
        tags = await load_tags(session, "run", ids)
        return [
            convert.run(
                row,
                params=params[row.id],
                metrics=metrics[row.id],
                tags=tags.get(row.id, {}),
                artifacts=artifacts[row.id],
                attempts=attempts[row.id],
            )
            for row in rows
        ]

    async def create(self, caller: Caller, request: pb.CreateRunRequest) -> pb.Run:
        params, status = _validate_create(request)
        try:
            return await self._insert(caller, request, params, status)
        except IntegrityError:
            if not request.idempotency_key:
                raise
        # A concurrent request with the same idempotency_key won the insert: return its run.
        async with self.db.read() as session:
            project = await acting_project(session, caller)
            existing = await _by_idempotency_key(session, project.id, request.idempotency_key)
            if existing is None:
                raise AlreadyExists("a run with this idempotency_key already exists")
            return (await self.to_messages(session, [existing]))[0]

    async def _insert(
        self, caller: Caller, request: pb.CreateRunRequest, params: dict[str, str], status: str
    ) -> pb.Run:
        async with self.db.unit(caller) as work:
            project = await acting_project(work.session, caller)
            if request.idempotency_key:
                existing = await _by_idempotency_key(
                    work.session, project.id, request.idempotency_key
                )
                if existing is not None:
                    return (await self.to_messages(work.session, [existing]))[0]
            if request.parent_run_id:
                await self.owned(work.session, caller, request.parent_run_id)
            await self._check_inputs(work, project, list(request.input_dataset_version_ids))
            row = models.Run(
                id=new_id(),
                project_id=project.id,
                name=request.name,
                kind=request.kind,
                status=status,
                parent_run_id=request.parent_run_id or None,
                input_dataset_version_ids=list(request.input_dataset_version_ids),
                environment=dict(request.environment),
                created_by=caller.actor,
                idempotency_key=request.idempotency_key or None,
            )
            if status == "running":
                row.started_at, row.attempt = utcnow(), 1
                work.session.add(models.RunAttempt(run_id=row.id, attempt=1, status="running"))
            work.session.add(row)
            await work.session.flush()
            work.session.add_all(
                models.RunParam(run_id=row.id, key=k, value=v, value_number=_number(v))
                for k, v in params.items()
            )
            await set_tags(work.session, "run", row.id, dict(request.tags))
            await record_edges(
                work.session,
                [
                    Edge("dataset_version", v, "run", row.id, "read_by")
                    for v in request.input_dataset_version_ids
                ],
            )
            work.changed(Kind.ENTITY_KIND_RUN, row.id, "created", project.id, row.name)
            await work.session.flush()
            return (await self.to_messages(work.session, [row]))[0]

    async def _check_inputs(
        self, work: UnitOfWork, project: models.Project, version_ids: list[str]
    ) -> None:
        if not version_ids:
            return
        rows = {
            row.id: row
            for row in (
                await work.session.execute(
                    select(models.DatasetVersion).where(models.DatasetVersion.id.in_(version_ids))
                )
            ).scalars()
        }
        for version_id in version_ids:
            row = rows.get(version_id)
            if row is None or row.deleted_at is not None:
                raise NotFound(f"input dataset version {version_id!r} does not exist")
            try:
                await resolve_shareable(
                    work.session, models.Dataset, "dataset", row.dataset_id, project
                )
            except NotFound:
                raise NotFound(
                    f"input dataset version {version_id!r} does not exist in project "
                    f"{project.name!r} or is not shared with it"
                ) from None

    async def get(self, caller: Caller, request: pb.GetRunRequest) -> pb.Run:
        async with self.db.read() as session:
            row = await self.owned(session, caller, request.id, request.include_deleted)
            return (await self.to_messages(session, [row]))[0]

    async def search(self, caller: Caller, request: pb.SearchRequest) -> pb.SearchRunsResponse:
        async with self.db.read() as session:
            project = await acting_project(session, caller)
            base = select(R).where(R.project_id == project.id)
            if not request.include_deleted:
                base = base.where(R.deleted_at.is_(None))
            page = await run_search(
                session,
                SPEC,
                base,
                request.filters,
                request.order_by,
                request.page,
                [project.id, request.include_deleted],
            )
            runs = await self.to_messages(session, page.rows)
        return pb.SearchRunsResponse(runs=runs, page={"next_page_token": page.next_token})

    async def update_status(self, caller: Caller, request: pb.UpdateRunStatusRequest) -> pb.Run:
        target = RUN_STATUS_NAMES.get(request.status)
        if target is None:
            raise InvalidArgument("status is required")
        validate_text(request.reason, "reason", 10_000)
        validate_text(request.worker, "worker", 256)
        async with self.db.unit(caller) as work:
            row = await self.owned(work.session, caller, request.id)
            previous = row.status
            if target not in TRANSITIONS.get(previous, set()):
                raise FailedPrecondition(
                    f"run {row.id} is {previous}; it cannot move to {target} "
                    f"(allowed: {sorted(TRANSITIONS.get(previous, set())) or 'none, it has ended'})"
                )
            await self._record_attempt(work, row, target, request)
            row.status, row.status_reason = target, request.reason
            changed = events_pb2.RunStatusChanged(
                run_id=row.id,
                from_status=RUN_STATUS_BY_NAME[previous],
                to_status=request.status,
                reason=request.reason,
                attempt=row.attempt,
            )
            work.emit("run.status_changed", row.project_id, run_status_changed=changed)
            await work.session.flush()
            return (await self.to_messages(work.session, [row]))[0]

    async def _record_attempt(
        self, work: UnitOfWork, row: models.Run, target: str, request: pb.UpdateRunStatusRequest
    ) -> None:
        now = utcnow()
        current = None
        if row.attempt:
            current = await work.session.get(models.RunAttempt, (row.id, row.attempt))
        if target == "running":
            attempt = request.attempt or row.attempt + 1
            if attempt <= row.attempt:
                raise FailedPrecondition(
                    f"run {row.id} is {row.status} on attempt {row.attempt}; RUNNING again needs "
                    f"a higher attempt than {row.attempt} (got {attempt})"
                )
            if current is not None and current.ended_at is None:
                current.ended_at, current.status = now, "failed"
                current.reason = f"superseded by attempt {attempt}"
            work.session.add(
                models.RunAttempt(
                    run_id=row.id,
                    attempt=attempt,
                    worker=request.worker,
                    status="running",
                    started_at=now,
                )
            )
            row.attempt = attempt
            row.started_at = row.started_at or now
            return
        if current is not None and current.ended_at is None:
            current.ended_at, current.status, current.reason = now, target, request.reason
        row.ended_at = now

    async def log_params(self, caller: Caller, request: pb.LogParamsRequest) -> None:
        params = validate_mapping(request.params, "param", MAX_PARAM_VALUE)
        for _ in range(3):
            try:
                await self._log_params_once(caller, request.run_id, params)
                return
            except IntegrityError:
                # A concurrent call wrote one of these keys first: check again against its value.
                continue
        raise Aborted(f"params of run {request.run_id} keep changing concurrently; retry")

    async def _log_params_once(self, caller: Caller, run_id: str, params: dict[str, str]) -> None:
        async with self.db.unit(caller) as work:
            row = await self.owned(work.session, caller, run_id)
            result = await work.session.execute(
                select(models.RunParam.key, models.RunParam.value).where(
                    models.RunParam.run_id == row.id, models.RunParam.key.in_(list(params))
                )
            )
            existing: dict[str, str] = dict(result.all())
            for key, value in params.items():
                if key in existing and existing[key] != value:
                    raise FailedPrecondition(
                        f"param {key!r} of run {row.id} is already {existing[key]!r}; params are "
                        f"write-once, so {value!r} is refused (log it under another key)"
                    )
            new = {k: v for k, v in params.items() if k not in existing}
            work.session.add_all(
                models.RunParam(run_id=row.id, key=k, value=v, value_number=_number(v))
                for k, v in new.items()
            )
            if new:
                work.changed(
                    Kind.ENTITY_KIND_RUN,
                    row.id,
                    "params_logged",
                    row.project_id,
                    row.name,
                    tuple(sorted(new)),
                )
            await work.session.flush()

    async def log_metrics(self, caller: Caller, request: pb.LogMetricsRequest) -> int:
        points = self.metric_store.validate(request.points)
        async with self.db.unit(caller) as work:
            row = await self.owned(work.session, caller, request.run_id)
            latest = await self.metric_store.append(work.session, row.id, points)
            work.emit(
                "run.metrics_logged",
                row.project_id,
                run_metrics_logged=events_pb2.RunMetricsLogged(
                    run_id=row.id,
                    points=len(points),
                    latest={k: v.value for k, v in latest.items()},
                    max_step=max(p.step for p in points),
                ),
            )
        return len(points)

    async def metric_history(
        self, caller: Caller, request: pb.GetMetricHistoryRequest
    ) -> pb.GetMetricHistoryResponse:
        validate_key(request.key, "metric key")
        async with self.db.read() as session:
            row = await self.owned(session, caller, request.run_id)
            return await self.metric_store.history(session, row.id, request)

    async def add_artifacts(self, caller: Caller, request: pb.AddRunArtifactsRequest) -> pb.Run:
        validate_count(request.artifacts, "artifacts", 1000)
        for artifact in request.artifacts:
            require(artifact.path, "artifact path")
            require(artifact.uri, "artifact uri")
            if artifact.path.startswith("/") or ".." in artifact.path.split("/"):
                raise InvalidArgument(
                    f"artifact path {artifact.path!r} must be relative, without '..'"
                )
            validate_text(artifact.path, "artifact path", 1024)
            validate_text(artifact.content_hash, "artifact content_hash", 80)
            if artifact.size_bytes < 0:
                raise InvalidArgument(f"artifact {artifact.path!r} has negative size_bytes")
        async with self.db.unit(caller) as work:
            row = await self.owned(work.session, caller, request.run_id)
            for artifact in request.artifacts:
                await work.session.merge(
                    models.RunArtifact(
                        run_id=row.id,
                        path=artifact.path,
                        uri=artifact.uri,
                        size_bytes=artifact.size_bytes,
                        content_hash=artifact.content_hash,
                    )
                )
            work.changed(Kind.ENTITY_KIND_RUN, row.id, "artifacts_added", row.project_id, row.name)
            await work.session.flush()
            return (await self.to_messages(work.session, [row]))[0]

    async def delete(self, caller: Caller, request: pb.DeleteRequest) -> pb.DeleteResponse:
        async with self.db.unit(caller) as work:
            row = await self.owned(work.session, caller, request.id)
            used = select(
                exists().where(
                    models.ModelVersion.source_run_id == row.id,
                    models.ModelVersion.deleted_at.is_(None),
                    models.Deployment.model_id == models.ModelVersion.model_id,
                    models.Deployment.deleted_at.is_(None),
                    models.Deployment.resolved_version == models.ModelVersion.version,
                )
            )
            if (await work.session.execute(used)).scalar():
                raise FailedPrecondition(
                    f"run {row.id} produced a model version that is deployed; undeploy it first"
                )
            response = mark_deleted(row, f"run {row.id}")
            work.changed(Kind.ENTITY_KIND_RUN, row.id, "deleted", row.project_id, row.name)
        return response

    async def restore(self, caller: Caller, request: pb.RestoreRequest) -> pb.Run:
        async with self.db.unit(caller) as work:
            row = await self.owned(work.session, caller, request.id, include_deleted=True)
            mark_restored(row, f"run {row.id}")
            work.changed(Kind.ENTITY_KIND_RUN, row.id, "restored", row.project_id, row.name)
            return (await self.to_messages(work.session, [row]))[0]
