"""Saved source definitions: a database connection or a bucket prefix, reused by recipes."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.db.proto_json import to_json
from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.common.validation import MAX_DESCRIPTION, require, validate_name, validate_text
from services.ingest import convert, models
from services.ingest.context import IngestContext
from services.ingest.core import Caller, new_id
from services.ingest.listing import ListSpec, list_page
from services.ingest.probes import probe
from services.ingest.recipes import validate_file, validate_sql
from services.ingest.secrets import SecretResolver, seal

S = models.SourceDefinition
LIST_SPEC = ListSpec(id_column=S.id, text_fields={"name": S.name}, time_fields={})


class SourceService:
    def __init__(self, ctx: IngestContext, secrets: SecretResolver) -> None:
        self.ctx = ctx
        self.secrets = secrets

    async def create(self, caller: Caller, request: pb.CreateSourceRequest) -> pb.SourceDefinition:
        project = await self.ctx.registry.project(caller)
        validate_name(request.name, "source name")
        validate_text(request.description, "description", MAX_DESCRIPTION)
        kind, definition = self._definition(request)
        if request.check_connection:
            await self._check(project.id, definition)
        try:
            async with self.ctx.db.unit(caller) as work:
                secret_id = await seal(
                    work.session,
                    self.ctx.box,
                    project.id,
                    definition.credentials,
                    self.ctx.settings,
                )
                row = S(
                    id=new_id(),
                    project_id=project.id,
                    name=request.name,
                    description=request.description,
                    kind=kind,
                    definition=to_json(definition),
                    secret_id=secret_id,
                    created_by=caller.actor,
                )
                work.session.add(row)
                await work.session.flush()
        except IntegrityError:
            raise AlreadyExists(
                f"a source named {request.name!r} already exists in {project.name!r}"
            ) from None
        return convert.source_definition(row, project.name)

    def _definition(
        self, request: pb.CreateSourceRequest
    ) -> tuple[str, pb.FileSource | pb.SqlSource]:
        kind = request.WhichOneof("kind")
        if kind == "file":
            if request.file.WhichOneof("location") != "url":
                raise InvalidArgument("a saved file source needs a url (uploads are one-off)")
            validate_file(request.file, "file", self.ctx.policy)
            file = pb.FileSource()
            file.CopyFrom(request.file)
            return kind, file
        if kind == "sql":
            validate_sql(request.sql, "sql", self.ctx.policy)
            sql = pb.SqlSource()
            sql.CopyFrom(request.sql)
            return kind, sql
        raise InvalidArgument("give the source's kind: file or sql")

    async def _check(self, project_id: str, definition: pb.FileSource | pb.SqlSource) -> None:
        credentials = definition.credentials
        secret = credentials.secret or None
        if secret is None and credentials.secret_ref:
            async with self.ctx.db.read() as session:
                secret = await self.secrets.resolve(session, project_id, credentials.secret_ref)
        await probe(definition, secret)

    async def _find(
        self, session: AsyncSession, project_id: str, ref: str
    ) -> models.SourceDefinition:
        query = select(S).where(S.project_id == project_id, or_(S.id == ref, S.name == ref))
        row = (await session.execute(query)).scalars().first()
        if row is None:
            raise NotFound(f"source {ref!r} does not exist in this project")
        return row

    async def get(self, caller: Caller, request: pb.GetSourceRequest) -> pb.SourceDefinition:
        project = await self.ctx.registry.project(caller)
        async with self.ctx.db.read() as session:
            row = await self._find(session, project.id, require(request.source, "source"))
        return convert.source_definition(row, project.name)

    async def list(self, caller: Caller, request: pb.ListSourcesRequest) -> pb.ListSourcesResponse:
        project = await self.ctx.registry.project(caller)
        order = common_pb2.OrderBy(field="name")
        async with self.ctx.db.read() as session:
            rows, token = await list_page(
                session,
                LIST_SPEC,
                select(S).where(S.project_id == project.id),
                [],
                order,
                S.name,
                request.page,
                project.id,
            )
        return pb.ListSourcesResponse(
            sources=[convert.source_definition(row, project.name) for row in rows],
            page={"next_page_token": token},
        )

    async def delete(self, caller: Caller, request: pb.DeleteSourceRequest) -> None:
        project = await self.ctx.registry.project(caller)
        async with self.ctx.db.unit(caller) as work:
            row = await self._find(work.session, project.id, require(request.source, "source"))
            secret_id = row.secret_id
            await work.session.delete(row)
            await work.session.flush()
            if secret_id:
                await work.session.execute(
                    delete(models.Secret).where(models.Secret.id == secret_id)
                )
