"""Process lifecycle shared by every service: run until SIGTERM/SIGINT, then unwind in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from services.common.logs import configure_logging
from services.common.settings import CommonSettings

logger = logging.getLogger(__name__)


async def wait_for_shutdown_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def run_service(
    name: str,
    settings: CommonSettings,
    build: Callable[[contextlib.AsyncExitStack], Awaitable[object]],
) -> None:
    """Build a service inside one exit stack, serve until signalled, then stop everything.

    ``build`` registers what it creates on the stack in dependency order (engine, bus, consumers,
    server), so unwinding stops the server first and disposes the engine last.
    """
    configure_logging(settings.log_level, settings.log_format, service=name)
    async with contextlib.AsyncExitStack() as stack:
        await build(stack)
        logger.info("%s started", name)
        await wait_for_shutdown_signal()
        logger.info("%s stopping", name)
    logger.info("%s stopped", name)


class BackgroundTask:
    """A loop owned by an ``async with`` block: ``run()`` starts on enter and is cancelled on exit,
    then ``after_stop()`` runs (a final flush, say)."""

    task_name = "background-task"

    _task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        raise NotImplementedError

    async def after_stop(self) -> None:
        """Called once the loop is cancelled."""

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self.run(), name=self.task_name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.after_stop()


def default_worker_id() -> str:
    """host:pid, naming a job worker in run attempts and logs unless configured."""
    return f"{socket.gethostname()}:{os.getpid()}"
