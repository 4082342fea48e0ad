"""Where a file source's bytes are: local paths or fsspec URLs (s3://, ...), globs expanded, sizes
checked against the limit, and non-local filesystems registered with the DuckDB connection."""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import fsspec
from fsspec.implementations.local import LocalFileSystem

from services.common.errors import InvalidArgument, NotFound, Unavailable

GLOB_CHARS = "*?["
# storage_options keys that hold secrets: used to open the filesystem, never written back.
SECRET_OPTIONS = frozenset(
    {"key", "secret", "token", "password", "session_token", "aws_secret_access_key"}
    | {"aws_access_key_id", "aws_session_token", "account_key", "sas_token", "client_secret"}
)
# Per connection: protocol -> token of the fsspec filesystem registered for it.
_REGISTERED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[str, str]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class FileSet:
    """The files a location names, in sorted order, as DuckDB reads them."""

    paths: list[str]  # local paths, or full URLs (protocol://...) of a registered filesystem
    sizes: list[int]
    fs: fsspec.AbstractFileSystem
    location: str  # how messages name the source (its URL, or the upload)

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def head(self, size: int = 65536) -> bytes:
        """The first bytes of the first file (format, encoding and BOM detection)."""
        with self.fs.open(self._fs_path(self.paths[0]), "rb") as handle:
            data: bytes = handle.read(size)
            return data

    def open(self, path: str) -> Any:
        return self.fs.open(self._fs_path(path), "rb")

    def _fs_path(self, path: str) -> str:
        return path if self.is_local else self.fs._strip_protocol(path)


def storage_options(options: Mapping[str, str]) -> dict[str, Any]:
    """fsspec keyword arguments from the proto's string map: "true"/"false" become booleans and
    region / region_name goes where s3fs expects it."""
    result: dict[str, Any] = {}
    for key, value in options.items():
        if key in ("region", "region_name"):
            result.setdefault("client_kwargs", {})["region_name"] = value
        elif value.lower() in ("true", "false"):
            result[key] = value.lower() == "true"
        else:
            result[key] = value
    return result


def public_options(options: Mapping[str, str]) -> dict[str, str]:
    """The storage options safe to record in a resolved recipe (secrets removed)."""
    return {key: value for key, value in options.items() if key.lower() not in SECRET_OPTIONS}


def resolve_files(
    con: duckdb.DuckDBPyConnection,
    location: str,
    options: Mapping[str, str],
    label: str = "",
) -> FileSet:
    """The files at `location` (a path, a URL, or a glob of either); NotFound when none.

    `label` names the location in messages (default: the location itself)."""
    shown = label or repr(location)
    try:
        fs, path = fsspec.core.url_to_fs(location, **storage_options(options))
    except (ValueError, ImportError) as exc:
        raise InvalidArgument(f"cannot open {shown}: {exc}") from exc
    is_glob = any(c in path for c in GLOB_CHARS)
    try:
        found = sorted(fs.glob(path)) if is_glob else [path]
        infos = [fs.info(item) for item in found]
    except FileNotFoundError:
        raise NotFound(f"no file at {shown}: check the path or URL") from None
    except PermissionError as exc:
        raise InvalidArgument(f"{shown} cannot be read: permission denied") from exc
    except OSError as exc:
        raise Unavailable(f"cannot reach {shown}: {exc}") from exc
    files = [(item, int(info.get("size") or 0)) for item, info in zip(found, infos, strict=True)]
    files = [
        (item, size)
        for (item, size), info in zip(files, infos, strict=True)
        if info.get("type") != "directory"
    ]
    if not files:
        raise NotFound(f"no file matches {shown}: check the path or glob")
    if is_glob and isinstance(fs, LocalFileSystem):
        _inside_glob_root(path, [item for item, _ in files], shown)
    if not isinstance(fs, LocalFileSystem):
        protocol = register_filesystem(con, fs)
        paths = [f"{protocol}://{item}" for item, _ in files]
    else:
        paths = [item for item, _ in files]
    return FileSet(paths, [size for _, size in files], fs, shown)


def _inside_glob_root(pattern: str, matched: list[str], shown: str) -> None:
    """A local glob may not lead out of its root (the folder before the first glob character,
    which is what the URL check saw) through a symbolic link among the matches."""
    cut = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=len(pattern))
    root = os.path.realpath(pattern[:cut].rpartition("/")[0] or "/")
    for item in matched:
        real = os.path.realpath(item)
        if os.path.commonpath([root, real]) != root:
            raise InvalidArgument(
                f"{shown} matches {item!r}, a link to a file outside {root!r}; links are not "
                "followed out of a glob's folder: name the file itself, or copy it there"
            )


def register_filesystem(con: duckdb.DuckDBPyConnection, fs: fsspec.AbstractFileSystem) -> str:
    """Make `fs` readable by DuckDB on this connection; returns the protocol DuckDB routes to it.

    A connection holds one filesystem per protocol: a second source on the same protocol must use
    the same storage options (fsspec then hands out the same instance)."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    registered = _REGISTERED.setdefault(con, {})
    token = str(getattr(fs, "_fs_token", id(fs)))
    if protocol in registered:
        if registered[protocol] != token:
            raise InvalidArgument(
                f"two {protocol}:// sources of one recipe use different storage options or "
                "credentials; read them with the same options (or stage one as an upload)"
            )
        return protocol
    con.register_filesystem(fs)
    registered[protocol] = token
    return protocol


def check_size(files: FileSet, max_bytes: int) -> None:
    """INVALID_ARGUMENT when the files together exceed `max_bytes` (0: no limit)."""
    if max_bytes <= 0 or files.total_bytes <= max_bytes:
        return
    count = len(files.paths)
    what = "the file is" if count == 1 else f"the {count} files are"
    raise InvalidArgument(
        f"{files.location}: {what} {files.total_bytes:,} bytes, over the limit of "
        f"{max_bytes:,} bytes: split the input or ask the operator to raise the limit"
    )
