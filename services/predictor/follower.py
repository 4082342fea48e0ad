"""Keeping a predictor on the registry's deployments: every aimass.registry.deployment.changed
event (every replica sees every event: a core-NATS subscription, no shared consumer), plus a full
re-read at start and then periodically, for events missed while disconnected."""

from __future__ import annotations

import asyncio
import logging

from nats.aio.subscription import Subscription

from aimass.events.v1 import events_pb2
from services.common.bus import Bus
from services.common.lifecycle import BackgroundTask
from services.predictor.serving import ModelRepository

logger = logging.getLogger(__name__)

DEPLOYMENT_CHANGED = "aimass.registry.deployment.changed"
RETRY_SECONDS = 2.0


class DeploymentFollower(BackgroundTask):
    task_name = "deployment-follower"

    def __init__(self, bus: Bus, repository: ModelRepository, resync_seconds: float) -> None:
        self.bus = bus
        self.repository = repository
        self.resync_seconds = resync_seconds
        self._applying: set[asyncio.Task[None]] = set()
        self._subscription: Subscription | None = None

    async def __aenter__(self) -> DeploymentFollower:
        self._subscription = await self.bus.listen(
            DEPLOYMENT_CHANGED, events_pb2.Event, self._on_event
        )
        await super().__aenter__()
        return self

    async def run(self) -> None:
        while True:
            try:
                await self.repository.sync()
            except Exception:
                logger.warning("reading deployments from the registry failed", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await asyncio.sleep(self.resync_seconds)

    async def after_stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        for task in list(self._applying):
            task.cancel()
        await asyncio.gather(*self._applying, return_exceptions=True)

    async def _on_event(self, event: events_pb2.Event) -> None:
        if event.WhichOneof("body") != "deployment_changed":
            return
        change = event.deployment_changed
        # Applied in a task: loading a model takes seconds and must not hold the subscription.
        task = asyncio.create_task(self._apply(change))
        self._applying.add(task)
        task.add_done_callback(self._applying.discard)

    async def _apply(self, change: events_pb2.DeploymentChanged) -> None:
        deployment = change.deployment
        try:
            if change.change == "deleted":
                await self.repository.remove(deployment.name)
            else:
                await self.repository.apply(deployment)
        except Exception:
            logger.exception("deployment %s (%s) not applied", deployment.name, change.change)
