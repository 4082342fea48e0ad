"""From a stored recipe to what the pipeline reads: saved sources expanded, uploads and dataset
versions located in the store, secret references resolved (in memory only, never stored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.registry_client import RegistryClient
from services.common.store import ArtifactStore
from services.ingest import convert, models
from services.ingest.core import Caller
from services.ingest.pipeline import SourceInput
from services.ingest.secrets import SecretResolver
from services.ingest.urls import UrlPolicy, check_file_url, check_sqlite_url, local_path

S3_USER_OPTION = "key"
S3_SECRET_OPTION = "secret"


@dataclass
class ResolvedInputs:
    inputs: list[SourceInput]
    descriptions: list[rpb.SourceDescription] = field(default_factory=list)
    parent_version_ids: list[str] = field(default_factory=list)


class InputResolver:
    def __init__(
        self,
        store: ArtifactStore,
        registry: RegistryClient,
        secrets: SecretResolver,
        policy: UrlPolicy,
    ) -> None:
        self.store, self.registry, self.secrets, self.policy = store, registry, secrets, policy

    async def expand(self, session: AsyncSession, project_id: str, source: pb.Source) -> pb.Source:
        """A source_id source as the saved definition it names (credentials as references)."""
        if source.WhichOneof("kind") != "source_id":
            return source
        row = await session.get(models.SourceDefinition, source.source_id)
        if row is None or row.project_id != project_id:
            raise NotFound(f"source {source.source_id!r} does not exist in this project")
        expanded = pb.Source(alias=source.alias, steps=source.steps)
        definition = convert.definition_of(row)
        if isinstance(definition, pb.SqlSource):
            expanded.sql.CopyFrom(definition)
            if source.table or source.query:
                expanded.sql.ClearField("read")
                if source.table:
                    expanded.sql.table = source.table
                else:
                    expanded.sql.query = source.query
            if not (expanded.sql.table or expanded.sql.query):
                raise InvalidArgument(f"source {source.alias!r}: give the table or query to read")
        else:
            expanded.file.CopyFrom(definition)
        return expanded

    async def resolve(
        self,
        session: AsyncSession,
        caller: Caller,
        project_id: str,
        recipe: pb.Recipe,
        work_dir: Path,
    ) -> ResolvedInputs:
        resolved = ResolvedInputs(inputs=[])
        for index, original in enumerate(recipe.sources):
            source = await self.expand(session, project_id, original)
            kind = source.WhichOneof("kind")
            if kind == "file":
                folder = work_dir / f"upload-{index}"
                item = await self._file(session, project_id, source, folder, resolved)
            elif kind == "sql":
                item = await self._sql(session, project_id, source, resolved)
            else:
                item = await self._dataset(caller, source, work_dir / f"dataset-{index}", resolved)
            resolved.inputs.append(item)
        return resolved

    async def _file(
        self,
        session: AsyncSession,
        project_id: str,
        source: pb.Source,
        folder: Path,
        out: ResolvedInputs,
    ) -> SourceInput:
        file = source.file
        if file.WhichOneof("location") == "upload_id":
            upload = await session.get(models.Upload, file.upload_id)
            if upload is None or upload.project_id != project_id:
                raise NotFound(f"upload {file.upload_id!r} does not exist in this project")
            # Expiry is checked when a recipe is accepted (previews.py): an upload a queued job
            # needs is kept past its expiry for that job, which must then be able to read it.
            location = await self._local(upload.store_key, folder)
            out.descriptions.append(
                rpb.SourceDescription(
                    kind="upload",
                    uri=self.store.uri(upload.store_key),
                    description=upload.file_name,
                    options={"sha256": upload.sha256, "size_bytes": str(upload.size_bytes)},
                )
            )
        else:
            check_file_url(file.url, self.policy, f"source {source.alias!r} url")
            location = local_path(file.url) or file.url
            out.descriptions.append(rpb.SourceDescription(kind="file", uri=file.url))
        secret_options: dict[str, str] = {}
        secret = await self._secret(session, project_id, file.credentials)
        if secret is not None:
            secret_options[S3_SECRET_OPTION] = secret
            if file.credentials.username:
                secret_options[S3_USER_OPTION] = file.credentials.username
        return SourceInput(source=source, location=location, secret_options=secret_options)

    async def _sql(
        self, session: AsyncSession, project_id: str, source: pb.Source, out: ResolvedInputs
    ) -> SourceInput:
        check_sqlite_url(source.sql.url, self.policy, f"source {source.alias!r} sql.url")
        password = await self._secret(session, project_id, source.sql.credentials)
        what = source.sql.table or "query"
        out.descriptions.append(
            rpb.SourceDescription(
                kind="sql", uri=f"{source.sql.url}#{what}", description=source.sql.query[:2000]
            )
        )
        return SourceInput(source=source, password=password)

    async def _secret(
        self, session: AsyncSession, project_id: str, credentials: pb.Credentials
    ) -> str | None:
        """An inline secret (a dry run before it is sealed) or the one a reference names."""
        if credentials.secret:
            return credentials.secret
        if credentials.secret_ref:
            return await self.secrets.resolve(session, project_id, credentials.secret_ref)
        return None

    async def _dataset(
        self, caller: Caller, source: pb.Source, folder: Path, out: ResolvedInputs
    ) -> SourceInput:
        spec = source.dataset
        version = await self.registry.dataset_version(
            caller, spec.dataset_version_id, spec.dataset, spec.version
        )
        prefix = self.version_prefix(version)
        keys = [k for k in await self.store.list_keys(prefix) if k.endswith(".parquet")]
        if not keys:
            raise FailedPrecondition(
                f"dataset version {version.dataset}@{version.version} has no Parquet parts in "
                "the store; it cannot be read"
            )
        files = tuple([await self._local(key, folder) for key in keys])
        effective = pb.Source()
        effective.CopyFrom(source)
        effective.dataset.dataset_version_id = version.id
        out.parent_version_ids.append(version.id)
        out.descriptions.append(
            rpb.SourceDescription(
                kind="dataset", uri=version.uri, description=f"{version.dataset}@{version.version}"
            )
        )
        return SourceInput(source=effective, parquet_files=files)

    def version_prefix(self, version: rpb.DatasetVersion) -> str:
        """Where a version's parts are in the store; FAILED_PRECONDITION when it was registered
        with a URI outside it (nothing the caller can fix in the request)."""
        try:
            return self.store.key_for(version.uri)
        except InvalidArgument:
            raise FailedPrecondition(
                f"dataset version {version.dataset}@{version.version} is stored at "
                f"{version.uri[:200]!r}, outside the artifact store ingest reads; it cannot be "
                "read here"
            ) from None

    async def _local(self, key: str, folder: Path) -> str:
        """A local path of a store object: itself on file://, else a download into ``folder``."""
        path = local_path(self.store.uri(key))
        if path is not None:
            return path
        target = folder / key.rsplit("/", 1)[-1]
        await self.store.get_file(key, target)
        return str(target)
