"""What a SQL source may do: the URL (no password in it, a driver that is installed, SQLite opened
read-only, no MySQL connection options that run SQL or read files), one SELECT / WITH statement
only (read the way the database will read it), and database errors as messages without secrets."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from services.common.errors import (
    AimassError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)

# backend -> the synchronous driver used for it (installed with the ingest extra).
DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql", "sqlite": "pysqlite"}
MYSQL_BACKENDS = ("mysql", "mariadb")
# URL query parameters that would carry a password to the driver (PyMySQL and libpq take them).
_PASSWORD_KEYS = frozenset({"password", "passwd"})
# The only URL query parameters a MySQL/MariaDB URL may set: PyMySQL takes every parameter as a
# connect argument, and others run SQL before the session is read-only (init_command), let the
# server read the worker's files (local_infile, client_flag) or read them here (read_default_file).
MYSQL_URL_PARAMETERS = frozenset(
    {"charset", "ssl_ca", "ssl_capath", "ssl_cert", "ssl_key", "ssl_cipher", "ssl_check_hostname"}
)
# Words that make a SELECT / WITH write (PostgreSQL's data-modifying WITH, SELECT INTO, MySQL's
# INTO OUTFILE, FOR UPDATE locks); the read-only transaction is the second line of defence.
_FORBIDDEN = frozenset(
    "insert update delete merge upsert into outfile dumpfile copy call lock create drop alter "
    "truncate grant revoke attach detach vacuum".split()
)
# Strings, quoted identifiers and comments: skipped when looking at the statement's words.
_SKIPPED = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|--[^\n]*|/\*.*?\*/|\$(\w*)\$.*?\$\1\$", re.S
)


def _mysql_skipped(escapes: bool) -> re.Pattern[str]:
    """The same as MySQL/MariaDB read it: backslash escapes in strings (unless the server runs
    with NO_BACKSLASH_ESCAPES, so both readings are checked), `#` comments, `--` a comment only
    before a space (`1 --1` is 1 - -1), and /*! ... */ or /*M! ... */ run, they are no comment."""
    single, double = (r"[^'\\]|\\.", r'[^"\\]|\\.') if escapes else ("[^']", '[^"]')
    return re.compile(
        rf"'(?:{single}|'')*'|\"(?:{double}|\"\")*\"|`(?:[^`]|``)*`"
        r"|#[^\n]*|--(?=\s|\Z)[^\n]*|/\*(?!M?!).*?\*/",
        re.S,
    )


_MYSQL_SKIPPED = (_mysql_skipped(escapes=True), _mysql_skipped(escapes=False))
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_AUTH_STATES = {"28000", "28P01", "3D000", "42501"}
_AUTH_WORDS = (
    "password authentication failed",
    "access denied",
    "does not exist",
    "unknown database",
    "no password supplied",
    "authentication",
    "permission denied",
)


def parse_url(raw: str, username: str, password: str | None) -> tuple[URL, str]:
    """The URL to connect with (driver set, credentials in) and how to show it (no secret)."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise InvalidArgument(
            "sql.url is not a SQLAlchemy URL: use e.g. 'postgresql://reader@db:5432/sales', "
            "'mysql://reader@host/db' or 'sqlite:///path/to/file.db'"
        ) from None
    # shown in messages: no password and no query parameters (whose values could be secrets)
    shown = url.set(query={}).render_as_string(hide_password=True)
    if url.password is not None or _PASSWORD_KEYS.intersection(k.lower() for k in url.query):
        raise InvalidArgument(
            f"sql.url {shown!r} contains a password: remove it and pass it as credentials "
            "(secret_ref or secret)"
        )
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise InvalidArgument(
            f"sql.url {shown!r}: {backend!r} databases are not supported; use PostgreSQL, "
            "MySQL/MariaDB or SQLite"
        )
    refused = sorted(set(url.query) - MYSQL_URL_PARAMETERS) if backend in MYSQL_BACKENDS else []
    if refused:
        raise InvalidArgument(
            f"sql.url {shown!r}: the parameter {refused[0]!r} is not allowed for MySQL/MariaDB; "
            f"remove it (allowed: {', '.join(sorted(MYSQL_URL_PARAMETERS))})"
        )
    url = url.set(drivername=f"{backend}+{DRIVERS[backend]}")
    if backend == "sqlite":
        return _sqlite_read_only(url, shown), shown
    if username:
        url = url.set(username=username)
    if password:
        url = url.set(password=password)
    return url, shown


def _sqlite_read_only(url: URL, shown: str) -> URL:
    path = url.database or ""
    if not path or path == ":memory:":
        raise InvalidArgument(f"sql.url {shown!r} names no database file")
    query = dict(url.query)
    query.update(mode="ro", uri="true")
    database = path if path.startswith("file:") else f"file:{path}"
    return url.set(database=database, query=query)


def check_query(query: str, backend: str = "") -> str:
    """The query without a trailing ';'; INVALID_ARGUMENT unless it is one SELECT / WITH, read
    as `backend` reads it (MySQL/MariaDB lex strings and comments differently)."""
    text = query.strip().rstrip(";").strip()
    for skipped in _MYSQL_SKIPPED if backend in MYSQL_BACKENDS else (_SKIPPED,):
        _check_words(skipped.sub(" ", text))
    return text


def _check_words(visible: str) -> None:
    if ";" in visible:
        raise InvalidArgument("sql.query must be one statement: remove the ';' between statements")
    words = [word.lower() for word in _WORD.findall(visible)]
    if not words or words[0] not in ("select", "with"):
        raise InvalidArgument("sql.query must be a read-only SELECT (or WITH ... SELECT) statement")
    forbidden = sorted(_FORBIDDEN.intersection(words))
    if forbidden:
        raise InvalidArgument(
            f"sql.query may only read: {forbidden[0].upper()} is not allowed in a source query"
        )


def split_table(table: str) -> tuple[str | None, str]:
    """'public.orders' -> ('public', 'orders'); a name in double quotes (or MySQL's backticks)
    may contain dots."""
    pieces = re.findall(r'"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^."`]+', table)
    parts = [_unquote(piece) for piece in pieces]
    if not parts or len(parts) > 2 or any(not part for part in parts):
        raise InvalidArgument(
            f"sql.table {table[:100]!r} must be a table or view name, optionally schema-qualified "
            "('public.orders')"
        )
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _unquote(piece: str) -> str:
    quote = piece[0]
    if quote in '"`' and len(piece) > 1 and piece.endswith(quote):
        return piece[1:-1].replace(quote * 2, quote)
    return piece.strip()


def connection_error(exc: BaseException, shown: str, password: str | None) -> AimassError:
    """UNAVAILABLE when the database cannot be reached, FAILED_PRECONDITION when it refuses the
    credentials (or the database does not exist); never with the password in the text."""
    orig = getattr(exc, "orig", None) or exc
    message = " ".join(str(orig).split())[:500]
    if password:
        message = message.replace(password, "***")
    state = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
    code = orig.args[0] if getattr(orig, "args", None) else None
    if "unable to open database file" in message:
        return NotFound(f"cannot open {shown}: the SQLite file does not exist or is unreadable")
    refused = state in _AUTH_STATES or code in (1044, 1045, 1049, 1698)
    if refused or any(word in message.lower() for word in _AUTH_WORDS):
        return FailedPrecondition(
            f"{shown} refused the connection ({message}): check the user name, the credentials "
            "and the database name"
        )
    return Unavailable(
        f"cannot reach {shown} ({message}): check the host, port and that the database is up"
    )
