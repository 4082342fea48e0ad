"""Ingest's bus traffic: the outbox relay, job subjects, progress events and cancel messages.

Jobs and events leave through the common transactional outbox (services.common.outbox);
MESSAGE_TYPES are the payloads its relay may publish.
"""

from __future__ import annotations

import logging

from google.protobuf.message import Message

from aimass.events.v1 import events_pb2
from aimass.ingest.v1 import ingest_pb2

logger = logging.getLogger(__name__)

JOBS_SUBJECT = "aimass.jobs.ingest"
PROGRESS_SUBJECT = "aimass.ingest.job.progressed"
CANCEL_SUBJECTS = "aimass.control.ingest.*.cancel"
JOBS_DURABLE = "ingest-jobs"

IDLE_POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 5.0
FINAL_FLUSH_SECONDS = 5.0

MESSAGE_TYPES: tuple[type[Message], ...] = (ingest_pb2.IngestTask, events_pb2.Event)


def cancel_subject(job_id: str) -> str:
    return f"aimass.control.ingest.{job_id}.cancel"


def job_id_of_cancel(subject: str) -> str:
    parts = subject.split(".")
    return parts[3] if len(parts) == 5 else ""
