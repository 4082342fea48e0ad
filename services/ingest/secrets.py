"""Secrets: inline ones encrypted at rest (Fernet), references resolved only by the worker.

A reference is one of ``env:NAME`` (NAME must start with the operator's allowed prefix, so a recipe
cannot send, say, the store's cloud credentials to a database it controls), ``file:/path`` (under an
allowed directory, /run/secrets by default), ``stored:<id>`` (an inline secret ingest keeps) or
``source:<id>`` (a saved source's). Plain secrets never appear in messages, logs or errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.ingest.v1 import ingest_pb2
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.ingest import convert, models
from services.ingest.config import IngestSettings
from services.ingest.core import new_id

REF_KINDS = ("env", "file", "stored", "source")
MAX_SECRET = 64 * 1024


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise FailedPrecondition(
                "AIMASS_INGEST_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with cryptography.fernet.Fernet.generate_key()"
            ) from exc

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> SecretBox:
        configured = settings.ingest_secret_key.get_secret_value()
        if configured:
            return cls(configured.encode())
        return cls(_local_key(settings.secret_key_file()))

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise FailedPrecondition(
                "a stored secret cannot be decrypted with the current AIMASS_INGEST_SECRET_KEY; "
                "restore the key it was stored with, or save the credentials again"
            ) from None


def _local_key(path: Path) -> bytes:
    """The key of a local installation: generated once, readable by its owner only."""
    if path.is_file():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def validate_ref(ref: str, settings: IngestSettings) -> str:
    kind, _, value = ref.partition(":")
    if kind not in REF_KINDS or not value:
        # not echoed: a secret pasted here by mistake must not come back in an error
        raise InvalidArgument(
            "secret_ref is not a reference (its value is not shown, in case it is a secret): "
            "use env:NAME, file:/path, stored:<id> or source:<id>, or put the secret itself in "
            "credentials.secret"
        )
    if kind == "env" and not value.startswith(settings.ingest_secret_env_prefix):
        raise InvalidArgument(
            f"secret_ref env:{value} is not allowed: environment secrets must be named "
            f"{settings.ingest_secret_env_prefix}*"
        )
    if kind == "file":
        _allowed_file(value, settings)
    return ref


def _allowed_file(value: str, settings: IngestSettings) -> Path:
    path = Path(value).resolve()
    for directory in settings.ingest_secret_dirs:
        if path.is_relative_to(Path(directory).resolve()):
            return path
    raise InvalidArgument(
        f"secret_ref file:{value} is outside the secret directories "
        f"({', '.join(str(d) for d in settings.ingest_secret_dirs)}); mount the secret there"
    )


async def seal(
    session: AsyncSession,
    box: SecretBox,
    project_id: str,
    credentials: ingest_pb2.Credentials,
    settings: IngestSettings,
) -> str | None:
    """Replace an inline secret by a stored reference (in place); returns the new secret id."""
    secret_id = None
    if credentials.secret:
        if credentials.secret_ref:
            raise InvalidArgument("credentials: give secret or secret_ref, not both")
        if len(credentials.secret) > MAX_SECRET:
            raise InvalidArgument(f"credentials.secret is longer than {MAX_SECRET} characters")
        secret_id = new_id()
        session.add(
            models.Secret(
                id=secret_id, project_id=project_id, ciphertext=box.encrypt(credentials.secret)
            )
        )
        credentials.secret = ""
        credentials.secret_ref = f"stored:{secret_id}"
    elif credentials.secret_ref:
        validate_ref(credentials.secret_ref, settings)
    if credentials.secret_ref:
        credentials.has_secret = True
    return secret_id


class SecretResolver:
    """Turns a reference into the secret, for the worker that is about to read a source."""

    def __init__(self, box: SecretBox, settings: IngestSettings) -> None:
        self.box = box
        self.settings = settings

    async def resolve(
        self, session: AsyncSession, project_id: str, ref: str, depth: int = 0
    ) -> str:
        kind, _, value = validate_ref(ref, self.settings).partition(":")
        if kind == "env":
            secret = os.environ.get(value)
            if secret is None:
                raise FailedPrecondition(f"environment variable {value} is not set on ingest")
            return secret
        if kind == "file":
            path = _allowed_file(value, self.settings)
            if not path.is_file():
                raise FailedPrecondition(f"secret file {value} does not exist on ingest")
            return path.read_text().rstrip("\r\n")
        if kind == "stored":
            row = await session.get(models.Secret, value)
            if row is None or row.project_id != project_id:
                raise NotFound(f"stored secret {value!r} does not exist in this project")
            return self.box.decrypt(row.ciphertext)
        source = await session.get(models.SourceDefinition, value)
        if source is None or source.project_id != project_id:
            raise NotFound(f"source {value!r} does not exist in this project")
        inner = source_credentials(source).secret_ref
        if not inner or depth > 0:
            raise FailedPrecondition(f"source {source.name!r} has no secret to use")
        return await self.resolve(session, project_id, inner, depth + 1)


def source_credentials(row: models.SourceDefinition) -> ingest_pb2.Credentials:
    return convert.definition_of(row).credentials
