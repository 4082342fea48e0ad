"""Stopping a running job from another thread or task: a flag the job checks between phases and
that its progress listener turns into TrainingStopped inside iterative learners."""

from __future__ import annotations

import threading

from services.trainer.library.base import TrainingStopped


class JobCancelled(TrainingStopped):
    """The run was cancelled (or ran past its timeout) while the job ran."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def check(self) -> None:
        if self._event.is_set():
            raise JobCancelled(self.reason or "cancelled")
