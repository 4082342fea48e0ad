"""Keys, URIs, staging names and the store URL of the artifact store (no I/O).

A *key* is a relative ``/``-separated path inside the store, e.g.
``datasets/iris/3/part-00000.parquet``. Keys are validated before any filesystem call, so nothing a
caller sends can name a path outside the store root.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from services.common.errors import InvalidArgument
from services.common.hashing import digest_hex

BLOBS = "blobs/sha256"  # content-addressed objects: blobs/sha256/<ab>/<hex>
S3_ENDPOINT_ENV = "AIMASS_S3_ENDPOINT_URL"
STAGING = "_staging"  # reserved top-level prefix: in-flight writes, never listed or addressed
MAX_KEY_LENGTH = 1024  # S3's limit, in bytes
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._=+@,-]{0,254}")
_STAGING_NAME_RE = re.compile(r"(\d{13})-[0-9a-f]{32}")
_SEGMENT_RULE = (
    "each '/'-separated segment starts with a letter, digit or '_' and holds only letters, digits "
    "and . _ = + @ , - (no '..', no absolute path, no backslash, no empty segment)"
)

Scheme = Literal["file", "s3"]


def validate_key(key: str, *, what: str = "key", reserved_ok: bool = False) -> str:
    """Return ``key`` if it is a safe relative key, else raise InvalidArgument."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{what} is empty")
    if len(key.encode()) > MAX_KEY_LENGTH:
        raise InvalidArgument(f"{what} is longer than {MAX_KEY_LENGTH} bytes")
    for segment in key.split("/"):
        if not _SEGMENT_RE.fullmatch(segment):
            raise InvalidArgument(f"{what} {key!r} is not allowed: {_SEGMENT_RULE}")
    if not reserved_ok and key.split("/", 1)[0] == STAGING:
        raise InvalidArgument(f"{what} {key!r} is inside the reserved prefix {STAGING!r}")
    return key


def validate_prefix(prefix: str, *, root_ok: bool = False, what: str = "prefix") -> str:
    """A key prefix (a "directory"); one trailing '/' is tolerated; '' means the root if allowed."""
    stripped = prefix[:-1] if prefix.endswith("/") else prefix
    if not stripped:
        if root_ok:
            return ""
        raise InvalidArgument(f"{what} is empty: the whole store cannot be addressed here")
    return validate_key(stripped, what=what)


def blob_key(digest: str) -> str:
    """``blobs/sha256/<first two hex digits>/<hex>``: the content address of a digest."""
    try:
        hexdigest = digest_hex(digest)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from exc
    return f"{BLOBS}/{hexdigest[:2]}/{hexdigest}"


def join_key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def relative_to(key: str, prefix: str) -> str | None:
    """``key`` relative to ``prefix`` if it lies strictly under it, else None."""
    if not prefix:
        return key
    return key[len(prefix) + 1 :] if key.startswith(prefix + "/") else None


def new_staging_key(now: float | None = None) -> str:
    """``_staging/<unix ms>-<uuid>``: the time in the name lets GC age entries without mtimes."""
    millis = int((time.time() if now is None else now) * 1000)
    return f"{STAGING}/{millis:013d}-{uuid.uuid4().hex}"


def staging_created_at(name: str) -> float | None:
    """Creation time (unix seconds) of a staging entry name, None if the name is not one of ours."""
    match = _STAGING_NAME_RE.fullmatch(name)
    return int(match.group(1)) / 1000 if match else None


@dataclass(frozen=True)
class StoreRoot:
    """Where the store lives: ``protocol`` and the fsspec path of its root (no trailing '/')."""

    protocol: Scheme
    root: str  # "/abs/dir" for file, "bucket/prefix" or "bucket" for s3

    @property
    def url(self) -> str:
        if self.protocol == "file":
            return Path(self.root).as_uri()
        return f"s3://{self.root}"

    def path(self, key: str) -> str:
        """fsspec path of a key ('' is the root); the key must already be validated."""
        return f"{self.root}/{key}" if key else self.root

    def uri(self, key: str) -> str:
        # keys hold no character that needs percent-encoding, so appending is exact
        return f"{self.url}/{key}" if key else self.url

    def key_of_path(self, path: str) -> str | None:
        """The key of an fsspec path under the root, None if it is not under it."""
        return relative_to(path.rstrip("/"), self.root)

    def key_for(self, uri: str) -> str:
        """The key a URI names; InvalidArgument unless the URI is strictly inside this store."""
        parts = urlsplit(uri)
        if parts.query or parts.fragment:
            raise InvalidArgument(f"{uri!r}: a store URI has no query or fragment")
        if self.protocol == "file":
            if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
                raise InvalidArgument(f"{uri!r} is outside the artifact store {self.url}")
            path = unquote(parts.path)
        else:
            if parts.scheme != "s3" or not parts.netloc:
                raise InvalidArgument(f"{uri!r} is outside the artifact store {self.url}")
            path = f"{parts.netloc}{parts.path}"
        key = relative_to(path, self.root)
        if not key:
            raise InvalidArgument(f"{uri!r} is outside the artifact store {self.url}")
        return validate_key(key, what="URI key")


def s3_options_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """s3fs options from ``AIMASS_S3_ENDPOINT_URL`` (MinIO, moto, Ceph...).

    Credentials and region come from botocore's own chain (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3``, profiles, instance roles).
    """
    env = os.environ if env is None else env
    endpoint = env.get(S3_ENDPOINT_ENV, "")
    return {"endpoint_url": endpoint} if endpoint else {}


def parse_store_url(url: str) -> StoreRoot:
    """``file:///abs/dir`` (or a plain local path) or ``s3://bucket[/prefix]``."""
    if not url:
        raise InvalidArgument("the store URL is empty")
    if "://" not in url and not url.startswith("file:"):
        return _local_root(url, Path(url))
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise InvalidArgument(f"store URL {url!r} must not have a query or fragment")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"store URL {url!r}: file URLs name a local path (file:///dir)")
        return _local_root(url, Path(unquote(parts.path)))
    if parts.scheme == "s3":
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise InvalidArgument(f"store URL {url!r}: {bucket!r} is not a valid bucket name")
        if prefix:
            validate_key(prefix, what="store URL prefix")
        return StoreRoot("s3", f"{bucket}/{prefix}" if prefix else bucket)
    raise InvalidArgument(f"store URL {url!r}: unsupported scheme; use file:// or s3://")


def _local_root(url: str, path: Path) -> StoreRoot:
    root = path.expanduser().resolve()
    if root == Path(root.anchor):
        raise InvalidArgument(f"store URL {url!r}: the filesystem root cannot be the store")
    return StoreRoot("file", root.as_posix())
