"""Rows to contract messages. JSON columns hold protobuf JSON of the contract's own types."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from aimass.common.v1 import common_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common.db.proto_json import from_json
from services.common.outbox import timestamp
from services.registry import models

RUN_STATUS_NAMES = {
    pb.RUN_STATUS_QUEUED: "queued",
    pb.RUN_STATUS_RUNNING: "running",
    pb.RUN_STATUS_FINISHED: "finished",
    pb.RUN_STATUS_FAILED: "failed",
    pb.RUN_STATUS_CANCELLED: "cancelled",
}
RUN_STATUS_BY_NAME = {name: value for value, name in RUN_STATUS_NAMES.items()}

DEPLOYMENT_STATUS_NAMES = {
    pb.DEPLOYMENT_STATUS_PENDING: "pending",
    pb.DEPLOYMENT_STATUS_READY: "ready",
    pb.DEPLOYMENT_STATUS_FAILED: "failed",
    pb.DEPLOYMENT_STATUS_STOPPED: "stopped",
}
DEPLOYMENT_STATUS_BY_NAME = {name: value for value, name in DEPLOYMENT_STATUS_NAMES.items()}


def _set_times(message: Message, **values: Any) -> None:
    for name, value in values.items():
        stamp = timestamp(value)
        if stamp is not None:
            getattr(message, name).CopyFrom(stamp)


def project(row: models.Project) -> pb.Project:
    message = pb.Project(
        id=row.id,
        name=row.name,
        description=row.description,
        labels=row.labels,
        created_by=row.created_by,
    )
    _set_times(
        message, created_at=row.created_at, updated_at=row.updated_at, deleted_at=row.deleted_at
    )
    return message


def dataset(
    row: models.Dataset, project_name: str, tags: dict[str, str], sharing: common_pb2.Sharing
) -> pb.Dataset:
    message = pb.Dataset(
        id=row.id,
        project_id=row.project_id,
        project=project_name,
        name=row.name,
        description=row.description,
        owner=row.owner,
        tags=tags,
        sharing=sharing,
        latest_version=row.latest_version,
    )
    _set_times(
        message, created_at=row.created_at, updated_at=row.updated_at, deleted_at=row.deleted_at
    )
    return message


def dataset_version(
    row: models.DatasetVersion, dataset_name: str, tags: dict[str, str]
) -> pb.DatasetVersion:
    message = pb.DatasetVersion(
        id=row.id,
        dataset_id=row.dataset_id,
        dataset=dataset_name,
        project_id=row.project_id,
        version=row.version,
        uri=row.uri,
        content_hash=row.content_hash,
        schema=from_json(row.schema, common_pb2.Schema),
        row_count=row.row_count,
        size_bytes=row.size_bytes,
        statistics=[from_json(item, common_pb2.ColumnStatistics) for item in row.statistics],
        sources=[from_json(item, pb.SourceDescription) for item in row.sources],
        parent_version_ids=row.parent_version_ids,
        split_rows=row.split_rows,
        recipe_json=row.recipe_json,
        description=row.description,
        tags=tags,
        created_by=row.created_by,
        producer_run_id=row.producer_run_id,
        skipped_rows=row.skipped_rows,
    )
    _set_times(message, created_at=row.created_at, deleted_at=row.deleted_at)
    return message


def run(
    row: models.Run,
    *,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: list[models.RunArtifact],
    attempts: list[models.RunAttempt],
) -> pb.Run:
    message = pb.Run(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        kind=row.kind,
        status=RUN_STATUS_BY_NAME[row.status],
        status_reason=row.status_reason,
        params=params,
        metrics=metrics,
        tags=tags,
        parent_run_id=row.parent_run_id or "",
        input_dataset_version_ids=row.input_dataset_version_ids,
        created_by=row.created_by,
        environment=row.environment,
        artifacts=[
            pb.RunArtifact(
                path=a.path, uri=a.uri, size_bytes=a.size_bytes, content_hash=a.content_hash
            )
            for a in artifacts
        ],
    )
    for attempt in attempts:
        item = message.attempts.add(
            attempt=attempt.attempt,
            worker=attempt.worker,
            status=RUN_STATUS_BY_NAME[attempt.status],
            reason=attempt.reason,
        )
        _set_times(item, started_at=attempt.started_at, ended_at=attempt.ended_at)
    _set_times(
        message,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        deleted_at=row.deleted_at,
    )
    return message


def model(
    row: models.Model,
    project_name: str,
    tags: dict[str, str],
    sharing: common_pb2.Sharing,
    aliases: dict[str, int],
) -> pb.Model:
    message = pb.Model(
        id=row.id,
        project_id=row.project_id,
        project=project_name,
        name=row.name,
        description=row.description,
        owner=row.owner,
        tags=tags,
        sharing=sharing,
        latest_version=row.latest_version,
        aliases=aliases,
    )
    _set_times(
        message, created_at=row.created_at, updated_at=row.updated_at, deleted_at=row.deleted_at
    )
    return message


def model_version(
    row: models.ModelVersion, model_name: str, tags: dict[str, str], aliases: list[str]
) -> pb.ModelVersion:
    message = pb.ModelVersion(
        id=row.id,
        model_id=row.model_id,
        model=model_name,
        project_id=row.project_id,
        version=row.version,
        framework=row.framework,
        artifact_format=row.artifact_format,
        artifact_uri=row.artifact_uri,
        content_hash=row.content_hash,
        signature=from_json(row.signature, pb.ModelSignature),
        metrics=row.metrics,
        source_run_id=row.source_run_id or "",
        description=row.description,
        tags=tags,
        aliases=sorted(aliases),
        created_by=row.created_by,
        task=row.task,
    )
    _set_times(message, created_at=row.created_at, deleted_at=row.deleted_at)
    return message


def deployment(row: models.Deployment, model_name: str) -> pb.Deployment:
    message = pb.Deployment(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        model_id=row.model_id,
        model=model_name,
        version=row.version,
        alias=row.alias,
        resolved_version=row.resolved_version,
        config=from_json(row.config, pb.ServingConfig),
        status=DEPLOYMENT_STATUS_BY_NAME[row.status],
        status_message=row.status_message,
        revision=row.revision,
        created_by=row.created_by,
    )
    _set_times(
        message, created_at=row.created_at, updated_at=row.updated_at, deleted_at=row.deleted_at
    )
    return message


def deployment_revision(row: models.DeploymentRevision) -> pb.DeploymentRevision:
    message = pb.DeploymentRevision(
        revision=row.revision,
        version=row.version,
        alias=row.alias,
        resolved_version=row.resolved_version,
        config=from_json(row.config, pb.ServingConfig),
        actor=row.actor,
    )
    _set_times(message, created_at=row.created_at)
    return message


def alias_move(row: models.AliasMove) -> pb.AliasMove:
    message = pb.AliasMove(
        alias=row.alias, from_version=row.from_version, to_version=row.to_version, actor=row.actor
    )
    _set_times(message, moved_at=row.moved_at)
    return message
