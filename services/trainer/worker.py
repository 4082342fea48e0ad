"""The trainer worker: durable pull consumers on aimass.jobs.train and aimass.jobs.tune (any
number of replicas share them) and cancel messages on core NATS."""

from __future__ import annotations

import logging
from types import TracebackType

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.bus import JOBS, Consumer
from services.common.lifecycle import default_worker_id
from services.trainer.cancel import CancelToken
from services.trainer.context import TrainerContext
from services.trainer.events import (
    CANCEL_SUBJECTS,
    TRAIN_DURABLE,
    TRAIN_SUBJECT,
    TUNE_DURABLE,
    TUNE_SUBJECT,
    run_id_of_cancel,
)
from services.trainer.runner import JobRunner
from services.trainer.tuner import TuneRunner

logger = logging.getLogger(__name__)


class TrainerWorker:
    def __init__(self, ctx: TrainerContext) -> None:
        self.ctx = ctx
        self.worker_id = ctx.settings.trainer_worker_id or default_worker_id()
        # The jobs running here: run id (train) or <run id>/<worker index> (tune) -> its token.
        self.tokens: dict[str, CancelToken] = {}
        self.runner = JobRunner(ctx, self.worker_id, self.tokens)
        self.tuner = TuneRunner(self.runner)
        self.consumers: list[Consumer[tpb.TrainerTask]] = []

    async def __aenter__(self) -> TrainerWorker:
        settings = self.ctx.settings
        await self.ctx.bus.subscribe_control(CANCEL_SUBJECTS, tpb.CancelRequest, self._on_cancel)
        for subject, durable, handler in (
            (TRAIN_SUBJECT, TRAIN_DURABLE, self.runner.handle),
            (TUNE_SUBJECT, TUNE_DURABLE, self.tuner.handle),
        ):
            consumer = await self.ctx.bus.consume(
                stream=JOBS,
                durable=durable,
                filter_subject=subject,
                message_type=tpb.TrainerTask,
                handler=handler,
                ack_wait=settings.trainer_ack_wait_seconds,
                # one more than the attempts: the last delivery only records a run whose last
                # attempt's worker died as FAILED (runner.py)
                max_deliver=settings.trainer_max_deliver + 1,
                batch=settings.trainer_worker_concurrency,
                concurrency=settings.trainer_worker_concurrency,
                heartbeat=True,
            )
            self.consumers.append(consumer)
        logger.info(
            "trainer worker %s consuming %s and %s", self.worker_id, TRAIN_SUBJECT, TUNE_SUBJECT
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Jobs still running are not cancelled: unacknowledged, they go to another worker.
        for consumer in self.consumers:
            await consumer.stop(self.ctx.settings.shutdown_grace_seconds)

    async def _on_cancel(self, request: tpb.CancelRequest, subject: str) -> None:
        run_id = request.run_id or run_id_of_cancel(subject)
        for key, token in list(self.tokens.items()):
            if key == run_id or key.startswith(f"{run_id}/"):  # a tune run's jobs: <run>/<index>
                logger.info("cancelling run %s: %s", key, request.reason)
                token.cancel(request.reason or "cancelled")
        return None
