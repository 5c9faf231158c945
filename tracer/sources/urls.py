"""Checking a source URL the user gave, before any request is sent.

An empty value is the usual trace of an unset shell variable
(`--explorer-url "$EXPLORER"`); treating it as "not given" would quietly
send the case's addresses to the public default explorer, a third party.
So an empty or malformed URL is an InputError (one line, exit 2).

Messages never repeat the URL's path, query or user info: provider URLs
carry API keys there (https://host/v3/KEY, https://user:pass@host).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ..errors import InputError

_WHAT = {"--explorer-url": "explorer URL", "--rpc-url": "RPC URL", "--btc-url": "Esplora URL"}
_ENV = {"--explorer-url": "TRACER_EXPLORER_URL", "--rpc-url": "TRACER_RPC_URL", "--btc-url": "TRACER_BTC_URL"}
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def validate_url(value: str, option_name: str) -> str:
    """`value` if it is an http(s) URL with a usable host and port; otherwise an InputError."""
    what = _WHAT.get(option_name, "URL")

    def bad(problem: str) -> InputError:
        return InputError(f"{option_name}: the {what} {problem}")

    if not isinstance(value, str) or not value.strip():
        named = f"{option_name} (or {_ENV[option_name]})" if option_name in _ENV else option_name
        raise InputError(f"{named}: the {what} is empty (an unset variable?); give an http(s):// URL, "
                         "or leave it out")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise bad("contains spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise bad("is not a valid URL (a malformed [IPv6] host?)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        named = value.lower().startswith(f"{scheme}://") and re.fullmatch(r"[a-z][a-z0-9+.-]{0,15}", scheme)
        raise bad(f"must be http(s)://host[:port]/... (it has {f'{scheme}://' if named else 'no http(s)://'})")
    try:
        port = parts.port
    except ValueError:
        raise bad("has an invalid port (it must be a number from 1 to 65535)") from None
    if port == 0:
        raise bad("has an invalid port (it must be a number from 1 to 65535)")
    host = parts.hostname
    if not host:
        raise bad("has no host (http(s)://host[:port]/...)")
    problem = _host_problem(host, bracketed="[" in parts.netloc)
    if problem:
        raise bad(problem)
    return value


def _host_problem(host: str, bracketed: bool) -> str | None:
    if bracketed:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return "has an invalid IPv6 host"
        return None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return "has an invalid IPv4 host"
        return None
    name = host[:-1] if host.endswith(".") else host
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return "has an invalid host name"
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return "has an invalid host name"
    return None
