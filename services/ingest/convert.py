"""Rows <-> messages: protobuf JSON in the database, messages on the wire."""

from __future__ import annotations

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.db.proto_json import from_json
from services.ingest import models
from services.ingest.core import timestamp

STATE_NAMES = {
    pb.INGEST_JOB_STATE_QUEUED: "queued",
    pb.INGEST_JOB_STATE_RUNNING: "running",
    pb.INGEST_JOB_STATE_CANCELLING: "cancelling",
    pb.INGEST_JOB_STATE_SUCCEEDED: "succeeded",
    pb.INGEST_JOB_STATE_FAILED: "failed",
    pb.INGEST_JOB_STATE_CANCELLED: "cancelled",
}
STATE_BY_NAME = {name: state for state, name in STATE_NAMES.items()}
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def definition_of(row: models.SourceDefinition) -> pb.FileSource | pb.SqlSource:
    kind: type[pb.FileSource] | type[pb.SqlSource] = pb.FileSource
    if row.kind == "sql":
        kind = pb.SqlSource
    return from_json(row.definition, kind)


def source_definition(row: models.SourceDefinition, project: str) -> pb.SourceDefinition:
    message = pb.SourceDefinition(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        created_by=row.created_by,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )
    definition = definition_of(row)
    if isinstance(definition, pb.SqlSource):
        message.sql.CopyFrom(definition)
    else:
        message.file.CopyFrom(definition)
    return message


def upload(row: models.Upload) -> pb.Upload:
    return pb.Upload(
        upload_id=row.id,
        file_name=row.file_name,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        expires_at=timestamp(row.expires_at),
    )


def job(row: models.IngestJob) -> pb.IngestJob:
    message = pb.IngestJob(
        id=row.id,
        project=row.project,
        state=STATE_BY_NAME[row.state],
        recipe=from_json(row.recipe, pb.Recipe),
        target=from_json(row.target, pb.IngestTarget),
        progress=from_json(row.progress, pb.IngestProgress),
        error=row.error,
        attempt=row.attempt,
        run_id=row.run_id,
        created_by=row.created_by,
        created_at=timestamp(row.created_at),
        started_at=timestamp(row.started_at),
        finished_at=timestamp(row.finished_at),
    )
    if row.result is not None:
        message.result.CopyFrom(from_json(row.result, pb.IngestResult))
    return message
