"""Where a store is: a file path (or sqlite:///path) is an SQLite file; postgresql://… (or postgres://…) is a case on
a PostgreSQL server, its schema named by the URL's `case` parameter. The URL's other parameters are libpq's
(sslmode, connect_timeout, …) and go to the server's client library untouched; only what is printed is
stripped of the password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import InputError

SCHEMES = ("postgresql://", "postgres://")
DEFAULT_CASE = "default"
# a case is a schema: lower-case letters, digits, '-' and '_', at most PostgreSQL's 63 bytes; pg_* is the server's
CASE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def is_postgres_url(target: str) -> bool:
    return target.strip().lower().startswith(SCHEMES)


@dataclass(frozen=True)
class PostgresTarget:
    conninfo: str  # what libpq connects with: the URL less `case` (password and all: never printed)
    case: str
    shown: str  # the URL as safe to print: no password, `case` kept


def parse_postgres_url(url: str) -> PostgresTarget:
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise InputError(f"--db: not a valid PostgreSQL URL ({exc})") from None
    del port
    query = parse_qsl(parts.query, keep_blank_values=True)
    cases = [v for k, v in query if k == "case"]
    if len(cases) > 1:
        raise InputError("--db: the URL names more than one case")
    case = cases[0] if cases else DEFAULT_CASE
    if not CASE_NAME.match(case) or case.startswith("pg_"):
        raise InputError(f"--db: case {case[:70]!r} is not a valid case name (lower-case letters, digits, '-' and "
                         "'_', at most 63, not starting with pg_)")
    rest = [(k, v) for k, v in query if k != "case"]
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    host = netloc[2]
    shown_query = [(k, "***" if k == "password" else v) for k, v in rest] + [("case", case)]
    shown = urlunsplit((parts.scheme, f"{user}@{host}" if user else host, parts.path, urlencode(shown_query), ""))
    return PostgresTarget(conninfo, case, shown)


def shown_store(target: str) -> str:
    """How to name a store in output: a PostgreSQL URL without its password, a path as given."""
    if is_postgres_url(target):
        try:
            return parse_postgres_url(target).shown
        except InputError:
            return "the PostgreSQL store"
    return target
