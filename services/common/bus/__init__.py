"""The NATS JetStream bus of DESIGN.md §3: one connection per process, three streams, protobuf
payloads with ``Nats-Msg-Id``, durable pull consumers, and core-NATS control messages.

Typical use in a service's ``main()``::

    bus = await connect(settings, name="trainer")
    await bus.ensure_streams()
    await bus.consume(stream=JOBS, durable="trainer-train", filter_subject="aimass.jobs.train",
                      message_type=TrainJob, handler=run_job, ack_wait=60, heartbeat=True)
    ...
    await bus.close(grace=settings.shutdown_grace_seconds)
"""

from services.common.bus.client import Bus, NoStreamForSubject, PublishAck
from services.common.bus.codec import CONTENT_TYPE_HEADER, MSG_ID_HEADER, Poison, content_type
from services.common.bus.connection import connect
from services.common.bus.consumer import Consumer, ConsumerOptions, Handler, Retry
from services.common.bus.delivery import Delivery
from services.common.bus.namespace import Namespace, subject_matches
from services.common.bus.streams import (
    CONTROL_PREFIX,
    EVENTS,
    JOBS,
    PREDICTIONS,
    StreamLimits,
    StreamOutcome,
    StreamSpec,
    default_streams,
)

__all__ = [
    "CONTENT_TYPE_HEADER",
    "CONTROL_PREFIX",
    "EVENTS",
    "JOBS",
    "MSG_ID_HEADER",
    "PREDICTIONS",
    "Bus",
    "Consumer",
    "ConsumerOptions",
    "Delivery",
    "Handler",
    "Namespace",
    "NoStreamForSubject",
    "Poison",
    "PublishAck",
    "Retry",
    "StreamLimits",
    "StreamOutcome",
    "StreamSpec",
    "connect",
    "content_type",
    "default_streams",
    "subject_matches",
]
