"""Open routes: liveness, readiness and metrics (no token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from services.gateway.api.deps import BackendsDep

router = APIRouter(tags=["health"])


@router.get("/livez", summary="The process is up")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/healthz", summary="The process is up (alias of /livez)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and the backend channels connect")
async def readyz(request: Request, backends: BackendsDep) -> JSONResponse:
    database = True
    try:
        async with request.app.state.tokens.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        database = False
    channels = await backends.ready()
    # The gateway can serve (and report a backend as down with 503) as long as its own
    # database answers; the channel states are shown for operators.
    body = {"ready": database, "database": database, "backends": channels}
    return JSONResponse(body, status_code=200 if database else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
