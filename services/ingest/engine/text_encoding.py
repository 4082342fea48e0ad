"""Text encodings of CSV files: names normalised, UTF-16 detected by its byte order mark, and the
encodings DuckDB cannot read itself transcoded to UTF-8 in a streaming way (bounded memory)."""

from __future__ import annotations

import codecs
import uuid
from pathlib import Path

from services.common.errors import InvalidArgument
from services.ingest.engine.filesystems import FileSet

CHUNK = 1 << 20
# Python codec name -> the name DuckDB's CSV reader knows (it reads these without help).
_NATIVE = {"utf-8": "utf-8", "iso8859-1": "latin-1", "utf-16": "utf-16", "utf-16-le": "utf-16"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def codec_name(encoding: str) -> str:
    """The canonical name of an encoding ('latin1' -> 'iso8859-1'); INVALID_ARGUMENT if unknown."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidArgument(
            f"csv.encoding {encoding!r} is not a known encoding: use e.g. 'utf-8', 'latin-1', "
            "'utf-16' or 'cp1252'"
        ) from None


def detect(head: bytes) -> str:
    """The encoding when none is given: the byte order mark's, else UTF-8."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return "utf-8"


def display_name(codec: str) -> str:
    """The name written back into the recipe."""
    return {"iso8859-1": "latin-1"}.get(codec, codec)


def duckdb_encoding(codec: str, head: bytes) -> str | None:
    """DuckDB's name for the encoding, or None when the file must be transcoded first."""
    if codec == "utf-16" and head.startswith(codecs.BOM_UTF16_BE):
        return None  # DuckDB's UTF-16 is little-endian only
    return _NATIVE.get(codec)


def _shown(files: FileSet, path: str) -> str:
    if len(files.paths) == 1:
        return files.location
    return f"{files.location} (file {path.rsplit('/', 1)[-1]})"


def transcode(files: FileSet, codec: str, folder: Path) -> list[Path]:
    """Each file re-encoded as UTF-8 into `folder`, a chunk at a time; returns the new paths.

    The caller deletes them once read. Undecodable bytes are INVALID_ARGUMENT with the offset
    (and nothing is left behind)."""
    folder.mkdir(parents=True, exist_ok=True)
    outputs: list[Path] = []
    try:
        for path in files.paths:
            outputs.append(folder / f"aimass-transcoded-{uuid.uuid4().hex}.csv")
            _transcode_one(files, path, codec, outputs[-1])
    except BaseException:
        for output in outputs:
            output.unlink(missing_ok=True)
        raise
    return outputs


def _transcode_one(files: FileSet, path: str, codec: str, target: Path) -> None:
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    offset = 0
    with files.open(path) as source, target.open("w", encoding="utf-8", newline="") as out:
        while True:
            chunk = source.read(CHUNK)
            try:
                out.write(decoder.decode(chunk, final=not chunk))
            except UnicodeDecodeError as exc:
                raise InvalidArgument(
                    f"{_shown(files, path)}: the bytes at offset {offset + exc.start} are not "
                    f"valid {display_name(codec)}: set csv.encoding to the file's encoding"
                ) from None
            if not chunk:
                return
            offset += len(chunk)
