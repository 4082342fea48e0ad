"""The one error vocabulary services raise; an interceptor maps it to gRPC status codes."""

from __future__ import annotations

import grpc


class AimassError(Exception):
    """Base class: the message is shown to the caller, so it must say what to fix."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(AimassError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(AimassError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(AimassError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(AimassError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(AimassError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(AimassError):
    code = grpc.StatusCode.UNAUTHENTICATED


class QuotaExceeded(AimassError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(AimassError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(AimassError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Internal(AimassError):
    """A fault on our side (a model that raised, say); the message says where to look, the cause
    goes to the logs, not to the caller."""

    code = grpc.StatusCode.INTERNAL


class Aborted(AimassError):
    """A concurrent change won; the caller may retry."""

    code = grpc.StatusCode.ABORTED


# Errors a retry cannot fix: a job that raises one fails at once instead of being redelivered.
DEFINITIVE_ERRORS: tuple[type[AimassError], ...] = (
    InvalidArgument,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    AlreadyExists,
)
