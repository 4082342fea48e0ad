"""The trainer's subjects: its job queues, its progress events and cancel messages."""

from __future__ import annotations

TRAIN_SUBJECT = "aimass.jobs.train"
TUNE_SUBJECT = "aimass.jobs.tune"
TRAIN_DURABLE = "trainer-train"
TUNE_DURABLE = "trainer-tune"
PROGRESS_SUBJECT = "aimass.trainer.run.progressed"
RUN_STATUS_SUBJECT = "aimass.registry.run.status_changed"
CANCEL_SUBJECTS = "aimass.control.run.*.cancel"


def cancel_subject(run_id: str) -> str:
    return f"aimass.control.run.{run_id}.cancel"


def run_id_of_cancel(subject: str) -> str:
    parts = subject.split(".")
    return parts[3] if len(parts) == 5 else ""
