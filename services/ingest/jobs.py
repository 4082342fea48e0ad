"""Ingest jobs: submit (validate, record, publish), read, list, cancel and watch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.db import UtcDateTime, utcnow
from services.common.db.proto_json import to_json
from services.common.errors import AimassError, FailedPrecondition, InvalidArgument, NotFound
from services.common.logs import request_id_var
from services.common.validation import (
    MAX_DESCRIPTION,
    MAX_TAG_VALUE,
    require,
    validate_mapping,
    validate_name,
    validate_text,
)
from services.ingest import convert, models
from services.ingest.context import IngestContext
from services.ingest.convert import TERMINAL
from services.ingest.core import Caller, new_id
from services.ingest.events import JOBS_SUBJECT, cancel_subject
from services.ingest.listing import ListSpec, list_page
from services.ingest.previews import PreviewService
from services.ingest.secrets import seal

logger = logging.getLogger(__name__)

J = models.IngestJob
WATCH_POLL_SECONDS = 0.5
FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _state_name(_field: str, value: str) -> str:
    return value.lower().removeprefix("ingest_job_state_") if _field == "state" else value


LIST_SPEC = ListSpec(
    id_column=J.id,
    text_fields={"state": J.state, "dataset": J.dataset, "created_by": J.created_by},
    time_fields={"created_at": J.created_at},
    normalise=_state_name,
)


def _validate_target(target: pb.IngestTarget) -> None:
    validate_name(require(target.dataset, "target.dataset"), "target.dataset")
    validate_text(target.description, "target.description", MAX_DESCRIPTION)
    validate_mapping(target.tags, "target tag", MAX_TAG_VALUE)


async def owned_job(session: AsyncSession, project_id: str, job_id: str) -> models.IngestJob:
    row = await session.get(J, require(job_id, "job_id"))
    if row is None or row.project_id != project_id:
        raise NotFound(f"ingest job {job_id!r} does not exist in this project")
    return row


class JobService:
    def __init__(self, ctx: IngestContext, previews: PreviewService) -> None:
        self.ctx = ctx
        self.previews = previews

    async def create(self, caller: Caller, request: pb.CreateIngestJobRequest) -> pb.IngestJob:
        project = await self.ctx.registry.project(caller)
        caller = Caller(caller.actor, project.name)
        recipe = pb.Recipe()
        recipe.CopyFrom(request.recipe)
        _validate_target(request.target)
        await self._check_sharing(caller, request.target)
        validate_text(request.idempotency_key, "idempotency_key", 128)
        if request.idempotency_key:
            existing = await self._by_key(project.id, request.idempotency_key)
            if existing is not None:
                return existing
        parents = await self.previews.check(caller, project.id, recipe)
        if not request.target.create_dataset:
            if await self.ctx.registry.dataset(caller, request.target.dataset) is None:
                raise FailedPrecondition(
                    f"dataset {request.target.dataset!r} does not exist in project "
                    f"{project.name!r}: create it, or set target.create_dataset"
                )
        job_id = new_id()
        run = await self._create_run(caller, job_id, request.target.dataset, parents)
        try:
            return await self._insert(caller, project.id, job_id, run.id, recipe, request)
        except IntegrityError:
            existing = await self._by_key(project.id, request.idempotency_key)
            if existing is None:
                await self._end_run(caller, run.id, rpb.RUN_STATUS_FAILED, "not recorded")
                raise
            await self._end_run(caller, run.id, rpb.RUN_STATUS_CANCELLED, "duplicate submission")
            return existing
        except Exception:
            await self._end_run(caller, run.id, rpb.RUN_STATUS_FAILED, "the job was not recorded")
            raise

    async def _check_sharing(self, caller: Caller, target: pb.IngestTarget) -> None:
        """The sharing of the dataset the job creates, checked now: the worker applies it only
        after the whole ingest ran, and a dataset it created stays unshared if that fails."""
        if not target.create_dataset or not target.HasField("sharing"):
            return
        sharing = target.sharing
        if sharing.visibility == common_pb2.VISIBILITY_UNSPECIFIED:
            if sharing.shared_with:
                raise InvalidArgument(
                    "target.sharing.visibility is required with shared_with: PRIVATE, SHARED or "
                    "PUBLIC"
                )
            return
        if sharing.visibility not in common_pb2.Visibility.values():
            raise InvalidArgument(
                f"target.sharing.visibility {sharing.visibility} is not PRIVATE, SHARED or PUBLIC"
            )
        if sharing.visibility == common_pb2.VISIBILITY_SHARED and not sharing.shared_with:
            raise InvalidArgument(
                "target.sharing: SHARED needs at least one project in shared_with"
            )
        for name in dict.fromkeys(sharing.shared_with):
            validate_name(name, "target.sharing.shared_with project")
            try:
                await self.ctx.registry.project(Caller(caller.actor, name))
            except NotFound:
                raise NotFound(
                    f"target.sharing.shared_with names project {name!r}, which does not exist"
                ) from None

    async def _create_run(
        self, caller: Caller, job_id: str, dataset: str, parents: list[str]
    ) -> rpb.Run:
        """The registry run (kind "ingest") that records the job and produces the version."""
        request = rpb.CreateRunRequest(
            project=caller.project,
            name=f"ingest {dataset}",
            kind="ingest",
            input_dataset_version_ids=parents,
            params={"dataset": dataset, "ingest_job_id": job_id},
            idempotency_key=f"ingest-{job_id}",
        )
        return await self.ctx.registry.create_run(caller, request)

    async def _insert(
        self,
        caller: Caller,
        project_id: str,
        job_id: str,
        run_id: str,
        recipe: pb.Recipe,
        request: pb.CreateIngestJobRequest,
    ) -> pb.IngestJob:
        async with self.ctx.db.unit(caller) as work:
            for source in recipe.sources:
                kind = source.WhichOneof("kind")
                if kind in ("file", "sql"):
                    credentials = getattr(source, kind).credentials
                    await seal(
                        work.session, self.ctx.box, project_id, credentials, self.ctx.settings
                    )
            row = J(
                id=job_id,
                project_id=project_id,
                project=caller.project,
                state="queued",
                recipe=to_json(recipe),
                target=to_json(request.target),
                dataset=request.target.dataset,
                progress={},
                run_id=run_id,
                upload_ids=[s.file.upload_id for s in recipe.sources if s.file.upload_id],
                idempotency_key=request.idempotency_key or None,
                created_by=caller.actor,
            )
            work.session.add(row)
            await work.session.flush()
            task = pb.IngestTask(
                job_id=job_id, project=caller.project, request_id=request_id_var.get()
            )
            work.publish(JOBS_SUBJECT, task, job_id)
            return convert.job(row)

    async def _by_key(self, project_id: str, key: str) -> pb.IngestJob | None:
        async with self.ctx.db.read() as session:
            query = select(J).where(J.project_id == project_id, J.idempotency_key == key)
            row = (await session.execute(query)).scalar_one_or_none()
            return convert.job(row) if row is not None else None

    async def get(self, caller: Caller, request: pb.GetIngestJobRequest) -> pb.IngestJob:
        project = await self.ctx.registry.project(caller)
        async with self.ctx.db.read() as session:
            if request.WhichOneof("key") == "dataset_version_id":
                version_id = require(request.dataset_version_id, "dataset_version_id")
                query = select(J).where(
                    J.project_id == project.id, J.dataset_version_id == version_id
                )
                row = (await session.execute(query)).scalars().first()
                if row is None:
                    raise NotFound(f"no ingest job of this project produced version {version_id!r}")
                return convert.job(row)
            return convert.job(await owned_job(session, project.id, request.job_id))

    async def list(
        self, caller: Caller, request: pb.ListIngestJobsRequest
    ) -> pb.ListIngestJobsResponse:
        project = await self.ctx.registry.project(caller)
        if len(request.order_by) > 1:
            raise InvalidArgument("order by one field at a time (ties break on id)")
        order = request.order_by[0] if request.order_by else None
        order = order or common_pb2.OrderBy(field="created_at", descending=True)
        sort: Any
        if order.field in ("", "created_at"):
            sort = J.created_at
        elif order.field == "finished_at":
            sentinel = FAR_PAST if order.descending else FAR_FUTURE
            sort = func.coalesce(J.finished_at, literal(sentinel, UtcDateTime()))
        else:
            raise InvalidArgument(f"cannot order by {order.field!r}; use created_at or finished_at")
        order = common_pb2.OrderBy(field=order.field or "created_at", descending=order.descending)
        async with self.ctx.db.read() as session:
            rows, token = await list_page(
                session,
                LIST_SPEC,
                select(J).where(J.project_id == project.id),
                request.filters,
                order,
                sort,
                request.page,
                project.id,
            )
        return pb.ListIngestJobsResponse(
            jobs=[convert.job(row) for row in rows], page={"next_page_token": token}
        )

    async def cancel(self, caller: Caller, request: pb.CancelIngestJobRequest) -> pb.IngestJob:
        project = await self.ctx.registry.project(caller)
        caller = Caller(caller.actor, project.name)
        reason = validate_text(request.reason, "reason", 2000) or f"cancelled by {caller.actor}"
        async with self.ctx.db.unit(caller) as work:
            row = await owned_job(work.session, project.id, request.job_id)
            if row.state in TERMINAL:
                raise FailedPrecondition(f"ingest job {row.id} already ended ({row.state})")
            row.cancel_reason, row.updated_at = reason, utcnow()
            if row.state == "queued" and not row.output_prefixes:
                row.state, row.finished_at, row.error = "cancelled", utcnow(), reason
            else:
                # running, or queued for a retry after an attempt that committed parts: the
                # worker of the next delivery stops it and removes what the attempts wrote
                row.state = "cancelling"
            message = convert.job(row)
        if message.state == pb.INGEST_JOB_STATE_CANCELLED:
            await self._end_run(caller, row.run_id, rpb.RUN_STATUS_CANCELLED, reason)
        else:
            control = pb.CancelIngestJobRequest(project=project.name, job_id=row.id, reason=reason)
            await self.ctx.bus.publish_control(cancel_subject(row.id), control)
        return message

    async def _end_run(
        self, caller: Caller, run_id: str, status: rpb.RunStatus, reason: str
    ) -> None:
        try:
            await self.ctx.registry.update_run(caller, run_id, status, reason)
        except AimassError as exc:
            logger.warning("could not mark run %s %s: %s", run_id, status, exc)

    async def watch(
        self, caller: Caller, request: pb.WatchIngestJobRequest
    ) -> AsyncIterator[pb.IngestJob]:
        project = await self.ctx.registry.project(caller)
        last: pb.IngestJob | None = None
        while True:
            async with self.ctx.db.read() as session:
                job = convert.job(await owned_job(session, project.id, request.job_id))
            if job != last:
                yield job
                last = job
            if job.state in (
                pb.INGEST_JOB_STATE_SUCCEEDED,
                pb.INGEST_JOB_STATE_FAILED,
                pb.INGEST_JOB_STATE_CANCELLED,
            ):
                return
            await asyncio.sleep(WATCH_POLL_SECONDS)
