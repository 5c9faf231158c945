"""Errors a user can meet.

Every one of them is turned by the CLI into a single line on stderr and a
non-zero exit code, so they carry a message written for an analyst, not a
stack trace. Anything that is not a TracerError is a bug.
"""

from __future__ import annotations


class TracerError(Exception):
    """Base class: a failure with a message fit to show the user as-is."""

    exit_code = 1


class InputError(TracerError):
    """The user asked for something malformed (address, case, option value)."""

    exit_code = 2


class StoreError(TracerError):
    """The SQLite store cannot be used (missing directory, foreign or corrupt file)."""

    exit_code = 4


class StoreBusyError(StoreError):
    """Another run holds the store."""

    exit_code = 5


class SourceError(TracerError):
    """A data source (explorer or node) failed in a way retrying did not fix."""

    exit_code = 6


class RateLimitError(SourceError):
    """The source kept answering 'rate limit' after every back-off."""


class QuotaError(SourceError):
    """The source refuses further calls (invalid key, daily quota): retrying cannot help."""


class MalformedResponseError(SourceError):
    """The source answered something that is not the API's shape."""


class OutputError(TracerError):
    """An output file (GraphML, export, report) could not be written; the previous one is intact."""

    exit_code = 7


def read_json(text: str, where: str, hint: str = "") -> object:
    """An untrusted JSON document (a feed, a user's labels file), or one InputError line saying why not: a
    syntax error where it is, and what the parser cannot take at all (a number too long to read, nesting too
    deep) by name, never as an internal error."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}not JSON ({exc.msg} at line {exc.lineno}){hint}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{where}not JSON this tool reads ({type(exc).__name__}){hint}") from None
