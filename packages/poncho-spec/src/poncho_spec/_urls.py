"""Whether a URL parses the same on every Python a spec is read with.

``urllib.parse.urlsplit`` raises ValueError for ``http://[`` and for a bad port (read
lazily, through ``.port``); Python 3.11+ also checks that a host in brackets is an IP
address (``https://[]/``), 3.10 does not. The check is done here, so that a spec valid on
one Python is valid on all of them, and so that no later reader trips on it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["parse_problem"]


def parse_problem(url: str) -> str | None:
    """Why `url` does not parse (``"<reason>"``), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or too big
        host = parts.netloc.rpartition("@")[2]
        if "[" in host or "]" in host:
            inner = host[host.find("[") + 1 : host.find("]")] if "]" in host else ""
            if not inner.startswith("v"):  # "v1.x": an IPvFuture literal
                _check_ipv6(inner.split("%", 1)[0])
    except ValueError as exc:
        return str(exc) or "cannot be parsed"
    return None


def _check_ipv6(text: str) -> None:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError("Invalid IPv6 URL") from None
