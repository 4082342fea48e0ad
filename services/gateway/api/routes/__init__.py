"""Every router of the gateway, in the order they are mounted: prediction first, since a request
walks the routes in this order until one matches and prediction is the hot path."""

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
    tfserving.router,
    inference.router,
    rows.router,
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
)
