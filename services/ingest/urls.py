"""Where FileSource urls may point: under an operator-allowed prefix, never into ingest's own
state (the artifact store is read through dataset sources, which check visibility)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import make_url

from services.common.errors import InvalidArgument
from services.ingest.config import IngestSettings

SCHEMES = ("file", "s3")
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class UrlPolicy:
    allowed: tuple[str, ...]
    denied: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> UrlPolicy:
        denied = [
            settings.resolved_store_url(),
            settings.work_dir().as_uri(),
            settings.secret_key_file().as_uri(),
            # file: secret references live here; a broad allowed prefix must not expose them
            *(Path(directory).resolve().as_uri() for directory in settings.ingest_secret_dirs),
        ]
        return cls(
            allowed=tuple(normalise(p, "allowed prefix") for p in settings.allowed_url_prefixes()),
            denied=tuple(normalise(p, "denied prefix") for p in denied),
        )


def _under(url: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return url == prefix or url.startswith(prefix + "/")


def normalise(url: str, what: str = "url") -> str:
    """Canonical form: file:// paths resolved (no '..', no symlink escape), s3 without '..'."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise InvalidArgument(
            f"{what} {url[:80]!r} must be a file:// or s3:// URL (or upload the file)"
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"{what} {url[:80]!r}: file URLs name a local path (file:///)")
        return _resolve_local(unquote(parts.path))
    path = parts.path
    if ".." in path.split("/"):
        raise InvalidArgument(f"{what} {url[:80]!r} may not contain '..'")
    return f"s3://{parts.netloc}{posixpath.normpath(path) if path else ''}"


def _resolve_local(path: str) -> str:
    # Resolve the part before any glob character, so a symlink cannot lead outside the prefix.
    cut = min((path.find(c) for c in GLOB_CHARS if c in path), default=-1)
    if cut < 0:
        return Path(path).resolve().as_uri()
    head, _, _ = path[:cut].rpartition("/")
    rest = path[len(head) :]
    if ".." in rest.split("/"):
        raise InvalidArgument(f"file url {path[:80]!r} may not contain '..' after a glob")
    return Path(head or "/").resolve().as_uri().rstrip("/") + rest


def check_file_url(url: str, policy: UrlPolicy, where: str = "url") -> str:
    canonical = normalise(url, where)
    if any(_under(canonical, prefix) for prefix in policy.denied):
        raise InvalidArgument(
            f"{where} {url[:80]!r} points into ingest's own storage or secrets; read stored "
            "datasets with a dataset source instead"
        )
    if not any(_under(canonical, prefix) for prefix in policy.allowed):
        raise InvalidArgument(
            f"{where} {url[:80]!r} is not under an allowed prefix "
            f"({', '.join(policy.allowed)}); upload the file, or ask the operator to add its "
            "location to AIMASS_INGEST_ALLOWED_URL_PREFIXES"
        )
    return canonical


def local_path(url: str) -> str | None:
    """The local path of a file:// URL, else None."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == "file" else None


def check_sqlite_url(url: str, policy: UrlPolicy, where: str) -> None:
    """A SQLite source is a local file: it must sit under an allowed prefix like any file source
    (otherwise a recipe could read the services' own databases). Other databases pass."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    file_url = Path(parsed.database).expanduser().resolve().as_uri()
    check_file_url(file_url, policy, f"{where} (the SQLite file {parsed.database!r})")
