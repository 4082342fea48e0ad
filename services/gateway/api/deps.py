"""The dependencies every route declares: the principal (token + scope), the project it may act
on, the backends, and the metadata that carries the caller to them.

Each route names its scope through one of the ``*Principal`` aliases; FastAPI then lists that scope
in the route's OpenAPI security requirement (``{"bearer": ["<scope>"]}``), which is how the auth
matrix test knows every route's scope. Token-wide quotas are charged here; prediction routes charge
with the model they call (:func:`admit_model`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from services.common.logs import ACTOR_HEADER, REQUEST_ID_HEADER, request_id_var
from services.gateway.auth import Principal, Scope, TokenService
from services.gateway.clients import Backends
from services.gateway.quota import QuotaService

bearer = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="opaque token",
    description="Authorization: Bearer <token>; each route lists the scope it needs.",
    auto_error=False,
)


def tokens_of(request: Request) -> TokenService:
    service: TokenService = request.app.state.tokens
    return service


def quotas_of(request: Request) -> QuotaService:
    service: QuotaService = request.app.state.quotas
    return service


def backends_of(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


async def authorize(
    request: Request,
    security_scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    secret = credentials.credentials if credentials else ""
    principal = await tokens_of(request).authenticate(secret)
    for scope in security_scopes.scopes:
        principal.check_scope(Scope(scope))
    request.state.principal = principal
    if Scope.PREDICT.value not in security_scopes.scopes:
        request.state.rate_headers = await quotas_of(request).admit(principal, model="")
    return principal


ReadPrincipal = Annotated[Principal, Security(authorize, scopes=[Scope.READ.value])]
DataWritePrincipal = Annotated[Principal, Security(authorize, scopes=[Scope.DATA_WRITE.value])]
TrainPrincipal = Annotated[Principal, Security(authorize, scopes=[Scope.TRAIN.value])]
DeployPrincipal = Annotated[Principal, Security(authorize, scopes=[Scope.DEPLOY.value])]
PredictPrincipal = Annotated[Principal, Security(authorize, scopes=[Scope.PREDICT.value])]
AdminPrincipal = Annotated[Principal, Security(authorize, scopes=[Scope.ADMIN.value])]

BackendsDep = Annotated[Backends, Depends(backends_of)]
TokensDep = Annotated[TokenService, Depends(tokens_of)]
QuotasDep = Annotated[QuotaService, Depends(quotas_of)]
ProjectPath = Annotated[str, Path(description="Project name.", min_length=1, max_length=128)]


def metadata(principal: Principal) -> tuple[tuple[str, str], ...]:
    """gRPC metadata of a backend call on the principal's behalf, with the request id (the
    predictor's pooled channels have no interceptor to add it)."""
    return ((ACTOR_HEADER, principal.actor), (REQUEST_ID_HEADER, request_id_var.get()))


async def admit_model(request: Request, principal: Principal, model: str) -> None:
    """Prediction routes: the model allow-list, then the token-wide and the model's quotas."""
    principal.check_model(model)
    request.state.rate_headers = await quotas_of(request).admit(principal, model=model)
