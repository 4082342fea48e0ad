"""Which deployment a prediction goes to, and the call to the predictor.

A token acts in one project: the deployment it names must be that project's, checked through the
registry (positive answers kept a few seconds per (project, name)); a deployment of another
project answers 404 exactly like an unknown one. OIP ModelMetadata is kept briefly per
(name, version): the TF-Serving routes need the input names and datatypes to map JSON rows."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from fastapi import Request

from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.predictor.v1 import predictor_pb2 as ppb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import DeadlineExceeded, NotFound, Unavailable
from services.common.ttl_cache import TtlCache
from services.gateway.api.deps import admit_model, backends_of, metadata, quotas_of
from services.gateway.auth import Principal
from services.gateway.clients import Backends

DEPLOYMENT_TTL_SECONDS = 5.0
METADATA_TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000
_SERVED_LIST = re.compile(r"; served: .*$", re.DOTALL)
_TRANSPORT_WORDS = ("failed to connect", "socket closed", "connection", "unavailable")


def not_served(name: str) -> NotFound:
    return NotFound(f"model {name!r} is not served")


@dataclass(frozen=True)
class ModelInfo:
    meta: oip.ModelMetadataResponse
    inputs: dict[str, str]  # input name -> OIP datatype, in the model's order


class PredictTargets:
    """Per-app caches of deployment ownership and model metadata. When an entry expires under
    load, one look-up refreshes it and the requests arriving meanwhile share its answer."""

    def __init__(self) -> None:
        # Only positive answers are kept: an unknown deployment raises, and failures are not.
        self.owned: TtlCache[tuple[str, str], bool] = TtlCache(
            DEPLOYMENT_TTL_SECONDS, max_entries=MAX_ENTRIES
        )
        self.metadata: TtlCache[tuple[str, str], ModelInfo] = TtlCache(
            METADATA_TTL_SECONDS, max_entries=MAX_ENTRIES
        )

    async def check_owner(
        self, backends: Backends, principal: Principal, project: str, name: str
    ) -> None:
        """NotFound unless deployment ``name`` is ``project``'s."""
        fetch = functools.partial(self._fetch_owner, backends, principal, project, name)
        await self.owned.get((project, name), fetch)

    async def _fetch_owner(
        self, backends: Backends, principal: Principal, project: str, name: str
    ) -> bool:
        request = rpb.GetDeploymentRequest(project=project, deployment=name)
        try:
            await backends.registry.GetDeployment(request, metadata=metadata(principal))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise not_served(name) from None
            raise
        return True

    async def model_metadata(
        self, backends: Backends, principal: Principal, name: str, version: str
    ) -> ModelInfo:
        fetch = functools.partial(self._fetch_metadata, backends, principal, name, version)
        return await self.metadata.get((name, version), fetch)

    async def _fetch_metadata(
        self, backends: Backends, principal: Principal, name: str, version: str
    ) -> ModelInfo:
        request = oip.ModelMetadataRequest(name=name, version=version)
        try:
            answer = await backends.inference.ModelMetadata(
                request, metadata=metadata(principal), timeout=backends.predict_timeout
            )
        except grpc.aio.AioRpcError as error:
            raise predictor_error(name, error) from None
        return ModelInfo(answer, {tensor.name: tensor.datatype for tensor in answer.inputs})


def targets_of(request: Request) -> PredictTargets:
    state = request.app.state
    targets: PredictTargets | None = getattr(state, "predict_targets", None)
    if targets is None:
        targets = state.predict_targets = PredictTargets()
    return targets


@dataclass
class ModelCall:
    """An admitted prediction request: who, which deployment, and the backends to call."""

    request: Request
    principal: Principal
    name: str
    backends: Backends
    targets: PredictTargets
    ok: bool = False

    async def metadata(self, version: str = "") -> ModelInfo:
        return await self.targets.model_metadata(self.backends, self.principal, self.name, version)

    async def infer(self, request: oip.ModelInferRequest) -> oip.ModelInferResponse:
        backends, timeout = self.backends, self.backends.predict_timeout
        calls_metadata = metadata(self.principal)

        async def send(outgoing: oip.ModelInferRequest) -> oip.ModelInferResponse:
            return await backends.inference.ModelInfer(
                outgoing, metadata=calls_metadata, timeout=timeout
            )

        try:
            response = await backends.coalescer.infer(request, send, timeout)
        except grpc.aio.AioRpcError as error:
            raise predictor_error(self.name, error) from None
        except TimeoutError:
            raise too_late(self.name, f"no answer within {timeout:g} s") from None
        self.ok = True
        return response

    async def label_version(self, label: str) -> str:
        """The number of the loaded version that alias ``label`` names (NotFound if none)."""
        request = ppb.ListLoadedModelsRequest(model=self.name)
        try:
            listed = await self.backends.predictor_admin.ListLoadedModels(
                request, metadata=metadata(self.principal), timeout=self.backends.predict_timeout
            )
        except grpc.aio.AioRpcError as error:
            raise predictor_error(self.name, error) from None
        for loaded in listed.models:
            if label in loaded.aliases:
                return str(loaded.version)
        raise NotFound(f"model {self.name!r} has no loaded version with the label {label!r}")

    async def ready(self, version: str) -> bool:
        request = oip.ModelReadyRequest(name=self.name, version=version)
        try:
            answer = await self.backends.inference.ModelReady(
                request, metadata=metadata(self.principal), timeout=self.backends.predict_timeout
            )
        except grpc.aio.AioRpcError as error:
            raise predictor_error(self.name, error) from None
        return bool(answer.ready)


@contextlib.asynccontextmanager
async def model_call(
    request: Request,
    principal: Principal,
    name: str,
    project: str | None = None,
    *,
    record: bool = True,
) -> AsyncIterator[ModelCall]:
    """Admit a call of deployment ``name`` (allow-list, quota, project) and, for predictions
    (``record``), count its outcome. ``project`` defaults to the token's own; the all-projects
    token skips the check then."""
    await admit_model(request, principal, name)
    call = ModelCall(request, principal, name, backends_of(request), targets_of(request))
    try:
        owner = principal.project if project is None else project
        if owner:
            await call.targets.check_owner(call.backends, principal, owner, name)
        yield call
    finally:
        if record:
            quotas_of(request).record(principal, name, call.ok)


def too_late(name: str, details: str) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"model {name!r} did not answer in time ({details}); retry, send fewer rows per "
        "request, or raise the deployment's timeout_ms"
    )


def predictor_error(name: str, error: grpc.aio.AioRpcError) -> Exception:
    """A predictor failure in words a REST caller can act on; INVALID_ARGUMENT and the rest go
    to the gateway's gRPC error handler unchanged."""
    code, details = error.code(), error.details() or ""
    if code == grpc.StatusCode.NOT_FOUND:
        if details.startswith("no model"):
            return NotFound(
                f"model {name!r} is not served (a deployment made a moment ago is served once "
                "a predictor has loaded it: retry in a few seconds)"
            )
        return NotFound(_SERVED_LIST.sub("", details))
    if code == grpc.StatusCode.UNAVAILABLE:
        if not details or any(word in details.lower() for word in _TRANSPORT_WORDS):
            details = "the predictor cannot be reached"
        return Unavailable(f"{details}; retry later")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return too_late(name, details)
    return error
