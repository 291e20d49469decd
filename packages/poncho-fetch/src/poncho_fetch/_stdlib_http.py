"""HTTP GET with the standard library, for a Python that does not have `requests`.

`poncho_fetch.http` uses `requests` when it can be imported. The data fetcher a tarball
carries (``poncho/fetch.pyz``, run by ``bin/run_in_env`` with the environment's own
interpreter on a worker that has nothing else) holds poncho-fetch's sources but not
`requests` and its dependencies: there, `Session` stands in for ``requests.Session`` with
the little `poncho_fetch.http` uses of it (a streamed GET with timeouts and headers; the
status, reason, headers and raw ``read1`` of the response). Redirects, proxies
(``$http_proxy``...) and certificate checks are urllib's; the retry, deadline, rate and size
rules stay in `poncho_fetch.http`, the same for both.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from email.message import Message
from types import TracebackType
from typing import IO

__all__ = ["BROKEN", "CONNECTION", "Response", "Session"]

#: Errors before or while the body arrives that are worth another attempt: no connection,
#: a timeout, a reset (`urllib.error.URLError` and `TimeoutError` are `OSError`).
CONNECTION: tuple[type[BaseException], ...] = (OSError,)
#: A response cut or garbled on the way (a broken chunked body, a bad status line).
BROKEN: tuple[type[BaseException], ...] = (http.client.HTTPException,)


class Response:
    """What `poncho_fetch.http` reads of a response: `status_code`, `reason`, `headers`,
    and `raw` with ``read1(n, decode_content=False)`` (the bytes as served: urllib never
    decodes a Content-Encoding)."""

    def __init__(self, status: int, reason: str, headers: Message, body: IO[bytes]) -> None:
        self.status_code = status
        self.reason = reason
        self.headers = headers
        self.raw = self
        self._body = body

    def read1(self, size: int, decode_content: bool = False) -> bytes:
        """At most `size` bytes, as one receive got them."""
        read1 = getattr(self._body, "read1", None)
        return bytes(read1(size) if read1 is not None else self._body.read(size))

    def close(self) -> None:
        """Close the connection."""
        self._body.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Session:
    """A stand-in for ``requests.Session``: `get` and `close`."""

    def get(
        self, url: str, *, stream: bool, timeout: tuple[float, float], headers: dict[str, str]
    ) -> Response:
        """GET `url`; an HTTP error status is a response, not an exception.

        Raises ValueError for a URL that is not http(s) or cannot be sent, and the errors of
        `CONNECTION` and `BROKEN`."""
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {scheme!r} (http and https only)")
        request = urllib.request.Request(url, headers=headers)  # the scheme is checked above
        try:
            # One socket timeout bounds the connection and each read (requests' pair is
            # equal in poncho_fetch.http).
            resp = urllib.request.urlopen(request, timeout=max(timeout))
        except urllib.error.HTTPError as err:  # 4xx, 5xx: the caller decides
            return Response(err.code, str(err.reason), err.headers, err)
        return Response(resp.status, str(resp.reason), resp.headers, resp)

    def close(self) -> None:
        """Nothing to release: each response closes its own connection."""
