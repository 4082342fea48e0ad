"""The HTTP core of :class:`aimass.Client`: configuration, one request with error mapping,
pagination that follows ``next_page_token``, Server-Sent Events and streamed uploads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
API = "/api/v1"
CHUNK_BYTES = 1024 * 1024

Params = Mapping[str, Any]
Progress = Callable[[int, int], None]


class ApiError(Exception):
    """An error answer of the gateway: its HTTP ``status``, ``code`` (``NOT_FOUND``, ...),
    ``message`` and ``request_id``; ``retry_after`` (seconds) with a 429. Status 0: no HTTP
    status, because the gateway could not be reached or a stream failed after it began."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.code else self.message
        return f"{text} (request id {self.request_id})" if self.request_id else text


@dataclass(frozen=True)
class ServerEvent:
    """One Server-Sent Event: its name (``message`` when unnamed) and its JSON data."""

    event: str
    data: Any
    id: str = ""


def segment(value: str | int) -> str:
    """A path segment: names may hold characters that are not URL-safe."""
    return quote(str(value), safe="")


def project_path(project: str, *parts: str | int) -> str:
    return "/".join([f"{API}/projects/{segment(project)}", *(segment(p) for p in parts)])


def default_token(environ: Mapping[str, str] | None = None) -> str | None:
    """``$AIMASS_TOKEN``, else the admin token a local gateway saved under its home folder."""
    env = os.environ if environ is None else environ
    if env.get("AIMASS_TOKEN"):
        return env["AIMASS_TOKEN"]
    home = Path(env.get("AIMASS_HOME") or ".aimass").expanduser()
    saved = home / "admin-token"
    try:
        return saved.read_text().strip() or None
    except OSError:
        return None


def error_from_response(response: httpx.Response) -> ApiError:
    """The error body of /api/v1 (``{"error": {...}}``) or of the spec routes (a string)."""
    request_id = response.headers.get("x-request-id", "")
    retry_after = _seconds(response.headers.get("retry-after", ""))
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return ApiError(
            response.status_code,
            str(error.get("code", "")),
            str(error.get("message", "")),
            str(error.get("request_id") or request_id),
            retry_after,
        )
    message = error if isinstance(error, str) else (response.text.strip() or response.reason_phrase)
    code = f"HTTP_{response.status_code}"
    return ApiError(response.status_code, code, message, request_id, retry_after)


def _seconds(header: str) -> float | None:
    try:
        return float(header)
    except ValueError:
        return None


def parse_sse(lines: Iterable[str]) -> Iterator[ServerEvent]:
    """Events of a text/event-stream (comments and retry fields ignored)."""
    event, event_id = "", ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield ServerEvent(event or "message", _json_or_text("\n".join(data)), event_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
    if data:
        yield ServerEvent(event or "message", _json_or_text("\n".join(data)), event_id)


def payloads(events: Iterable[ServerEvent], name: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of the stream's ``name`` events (others are skipped); an ``error`` event
    raises :class:`ApiError` (status 0: the stream had begun with 200)."""
    for event in events:
        data = event.data
        if event.event == "error":
            error = data.get("error", data) if isinstance(data, dict) else {"message": data}
            if not isinstance(error, dict):
                error = {"message": str(error)}
            raise ApiError(
                0,
                str(error.get("code", "STREAM_ERROR")),
                str(error.get("message", "")),
                str(error.get("request_id", "")),
            )
        if event.event == name and isinstance(data, dict):
            yield data


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def next_page_token(body: Mapping[str, Any]) -> str:
    """Proto lists carry ``page.next_page_token``; the gateway's own lists carry it at the top."""
    page = body.get("page")
    if isinstance(page, Mapping) and page.get("next_page_token"):
        return str(page["next_page_token"])
    return str(body.get("next_page_token") or "")


def file_chunks(path: Path, total: int, progress: Progress | None) -> Iterator[bytes]:
    sent = 0
    if progress:
        progress(0, total)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
            sent += len(chunk)
            if progress:
                progress(sent, total)


class BaseClient:
    """Connection settings and the request primitives the resource methods are built on."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("AIMASS_URL") or DEFAULT_URL).rstrip("/")
        self.timeout = timeout
        secret = token or default_token()
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        headers["User-Agent"] = "aimass-sdk"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One call; the decoded JSON answer, or :class:`ApiError`."""
        try:
            response = self._http.request(
                method, path, params=_query(params), json=json, content=content, headers=headers
            )
        except httpx.TransportError as error:
            raise ApiError(0, "UNAVAILABLE", f"cannot reach {self.url}: {error}") from error
        if response.is_error:
            raise error_from_response(response)
        return response.json() if response.content else {}

    def paginate(
        self, path: str, field: str, params: Params | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list route, page after page, up to ``limit`` items."""
        query = dict(params or {})
        count = 0
        while True:
            body = self.request("GET", path, params=query)
            for item in body.get(field, []):
                if limit is not None and count >= limit:
                    return
                count += 1
                yield item
            token = next_page_token(body)
            if not token:
                return
            query["page_token"] = token

    def events(self, path: str, params: Params | None = None) -> Iterator[ServerEvent]:
        """A Server-Sent Events stream, until the server ends it."""
        timeout = httpx.Timeout(self.timeout, read=None)
        headers = {"Accept": "text/event-stream"}
        try:
            with self._http.stream(
                "GET", path, params=_query(params), headers=headers, timeout=timeout
            ) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                yield from parse_sse(response.iter_lines())
        except httpx.TransportError as error:
            raise ApiError(0, "UNAVAILABLE", f"stream from {self.url} broke: {error}") from error

    def stream_file(self, path: str, file: Path, params: Params, progress: Progress | None) -> Any:
        """POST a file as the raw body, read in chunks (never whole in memory)."""
        total = file.stat().st_size
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(total)}
        body = file_chunks(file, total, progress)
        return self.request("POST", path, params=params, content=body, headers=headers)


def _query(params: Params | None) -> dict[str, Any] | None:
    """Drop unset values; booleans as the lowercase words FastAPI reads."""
    if params is None:
        return None
    query: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or value == "" or value == []:
            continue
        query[key] = str(value).lower() if isinstance(value, bool) else value
    return query
