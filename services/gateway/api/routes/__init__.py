"""Every router of the gateway, in the order they are mounted."""

from fastapi import APIRouter

from services.gateway.api.routes import (
    datasets,
    deployments,
    health,
    inference,
    ingest,
    lineage,
    models,
    projects,
    quotas,
    rows,
    runs,
    tfserving,
    tokens,
    training,
    uploads,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    tokens.router,
    quotas.router,
    projects.router,
    datasets.router,
    uploads.router,
    ingest.router,
    runs.router,
    training.router,
    models.router,
    deployments.router,
    lineage.router,
    rows.router,
    tfserving.router,
    inference.router,
)
