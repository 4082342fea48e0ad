"""Deployment revisions: every change of target or config is a new revision and a changed event."""

from __future__ import annotations

from sqlalchemy import select

from aimass.events.v1 import events_pb2
from services.common.db import utcnow
from services.registry import convert, models
from services.registry.core import UnitOfWork
from services.registry.lineage import Edge, record_edges


async def record_revision(
    work: UnitOfWork, deployment: models.Deployment, model_name: str, change: str
) -> None:
    """Store the deployment's current target/config as a new revision and announce it."""
    deployment.updated_at = utcnow()
    await _record_served_versions(work, deployment)
    work.session.add(
        models.DeploymentRevision(
            deployment_id=deployment.id,
            revision=deployment.revision,
            version=deployment.version,
            alias=deployment.alias,
            resolved_version=deployment.resolved_version,
            config=dict(deployment.config),
            actor=work.caller.actor,
        )
    )
    await work.session.flush()
    announce(work, deployment, model_name, change)


async def _record_served_versions(work: UnitOfWork, deployment: models.Deployment) -> None:
    """Lineage: every version a revision serves (main and canary) is deployed_as the deployment,
    so downstream walks reach deployments whose target moved after they were created."""
    MV = models.ModelVersion
    served = {deployment.resolved_version, int(deployment.config.get("canary_version") or 0)}
    ids = (
        (
            await work.session.execute(
                select(MV.id).where(
                    MV.model_id == deployment.model_id, MV.version.in_(served - {0})
                )
            )
        )
        .scalars()
        .all()
    )
    await record_edges(
        work.session,
        [
            Edge("model_version", version_id, "deployment", deployment.id, "deployed_as")
            for version_id in ids
        ],
    )


def announce(work: UnitOfWork, deployment: models.Deployment, model_name: str, change: str) -> None:
    work.emit(
        "deployment.changed",
        deployment.project_id,
        deployment_changed=events_pb2.DeploymentChanged(
            deployment=convert.deployment(deployment, model_name), change=change
        ),
    )


async def follow_alias(work: UnitOfWork, model: models.Model, alias: str, version: int) -> None:
    """Deployments that follow ``alias`` move to ``version`` (0: the alias was removed)."""
    D = models.Deployment
    following = (
        (
            await work.session.execute(
                select(D).where(D.model_id == model.id, D.alias == alias, D.deleted_at.is_(None))
            )
        )
        .scalars()
        .all()
    )
    for deployment in following:
        if version == 0:
            deployment.status = "failed"
            deployment.status_message = f"alias {alias!r} was removed from model {model.name!r}"
            announce(work, deployment, model.name, "status")
            continue
        if deployment.resolved_version == version:
            continue
        deployment.resolved_version = version
        deployment.revision += 1
        deployment.status = "pending"
        await record_revision(work, deployment, model.name, "updated")
