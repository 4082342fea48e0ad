"""Bus namespaces: one prefix on every subject and stream, so tests and tenants share one server.

Production runs with the empty namespace, so subjects and streams are exactly those of DESIGN.md §3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIX = re.compile(r"[A-Za-z0-9_-]*")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_TOKEN = re.compile(r"[^\s.*>]+")


@dataclass(frozen=True)
class Namespace:
    """``Namespace("t1")`` maps ``aimass.jobs.train`` to ``t1.aimass.jobs.train`` and the stream
    ``AIMASS_JOBS`` to ``t1_AIMASS_JOBS`` (stream names cannot hold dots)."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"bus namespace {self.prefix!r} may hold only letters, digits, '-' and '_'"
            )

    def subject(self, subject: str) -> str:
        return f"{self.prefix}.{subject}" if self.prefix else subject

    def stream(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def logical_subject(self, subject: str) -> str:
        """The subject as the application names it: the namespace stripped off."""
        head = f"{self.prefix}."
        if self.prefix and subject.startswith(head):
            return subject[len(head) :]
        return subject


def validate_subject(subject: str, *, wildcards: bool = False) -> str:
    """Refuse empty tokens, whitespace and (unless ``wildcards``) ``*`` and ``>``, clearly."""
    tokens = subject.split(".")
    for index, token in enumerate(tokens):
        if wildcards and (token == "*" or (token == ">" and index == len(tokens) - 1)):
            continue
        if not _TOKEN.fullmatch(token):
            raise ValueError(
                f"invalid NATS subject {subject!r}: tokens are non-empty, dot-separated, without "
                "whitespace" + (", '*' or a final '>'" if wildcards else " or wildcards")
            )
    return subject


def validate_name(name: str, what: str) -> str:
    """Stream and consumer names: letters, digits, '-' and '_' (no dots, wildcards or spaces)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid {what} {name!r}: use letters, digits, '-' and '_' only")
    return name


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` is one or more tokens."""
    want = pattern.split(".")
    have = subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(have) == len(want)
