"""Download one URL to a file, retrying transient failures, checking the sha256.

Transient failures are: connection errors and timeouts, a connection dropped before the whole
body arrived (fewer bytes than Content-Length, or a broken chunked body), a transfer slower
than the policy's minimum rate, HTTP 5xx, 408 and 429. They are retried a few times with
exponential backoff, each time from the start (the partial file is truncated). Other HTTP
errors fail at once. The bytes are checked exactly as served (no transparent
Content-Encoding decoding), so the sha256 is that of the file on the server.

Every wait is bounded: each connection and each read by ``timeout``, the whole download of
an entry (all attempts and the pauses between them) by ``deadline``, and a server trickling
bytes (1 byte/s keeps every read alive) by ``min_rate`` over ``rate_window`` seconds. A
body larger than ``max_bytes`` is refused while it streams. Messages name the host and
port and say what happened in a few words (never urllib3's chain of wrapped exceptions).
`requests` is imported on first use, keeping ``import poncho_fetch`` light; a Python without
it (the fetcher a tarball carries for ``bin/run_in_env``) gets the standard library's HTTP
instead (`poncho_fetch._stdlib_http`), with the same rules and messages.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from poncho_core.errors import PonchoError
from poncho_fetch._version import __version__
from poncho_fetch.errors import ChecksumMismatch, DownloadError, FetchError, LimitExceeded

if TYPE_CHECKING:
    import requests

__all__ = ["RetryPolicy", "describe_error", "download", "where"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_RETRY_STATUS = frozenset({408, 429})


class RetryPolicy:
    """How hard to try, and how long at most.

    `retries` more attempts after the first, waiting `backoff`, 2*`backoff`, 4*`backoff`...
    seconds between them; `timeout` seconds for connecting and for each read; `deadline`
    seconds for the whole of one entry (every attempt included; also bounds a git clone and
    the wait for another process filling the same entry); `min_rate` bytes per second, the
    slowest transfer accepted once it has run `rate_window` seconds (0 turns the check off);
    `lock_wait` seconds, the longest wait for another process filling the same cache entry
    (default: `deadline` + 60, since that process has the same deadline).
    """

    def __init__(
        self,
        retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 60.0,
        *,
        deadline: float = 1800.0,
        min_rate: float = 1024.0,
        rate_window: float = 30.0,
        lock_wait: float | None = None,
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.deadline = deadline
        self.min_rate = min_rate
        self.rate_window = rate_window
        self.lock_wait = lock_wait if lock_wait is not None else deadline + 60

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"RetryPolicy({fields})"


class _Transient(Exception):
    """A failure worth another attempt."""


def download(
    url: str,
    dest: Path,
    *,
    key: str,
    sha256: str | None = None,
    policy: RetryPolicy | None = None,
    session: requests.Session | None = None,
    max_bytes: int | None = None,
) -> str:
    """Download `url` into the file `dest` and return the sha256 hex digest of its bytes.

    `key` names the spec entry in messages (e.g. ``http.DATA``). When `sha256` is given,
    a different digest raises ChecksumMismatch (`dest` is left for the caller to discard).
    A body over `max_bytes` raises LimitExceeded. Raises DownloadError when the download
    fails for good, or does not finish within the policy's deadline.
    """
    policy = policy or RetryPolicy()
    deadline = time.monotonic() + policy.deadline
    # Messages must print anywhere: a lone surrogate (from an API caller) is escaped.
    shown = url.encode("utf-8", "backslashreplace").decode("utf-8")
    own_session = session is None
    if session is None:
        session = _new_session()
    try:
        attempt = 0
        while True:
            try:
                digest = _download_once(session, url, shown, dest, key, policy, deadline, max_bytes)
                break
            except _Transient as exc:
                tries = f"tried {attempt + 1} time{'s' if attempt else ''}"
                delay = policy.backoff * 2**attempt
                if attempt >= policy.retries:
                    raise DownloadError(
                        f"{key}: cannot download {shown}: {exc} ({tries})"
                    ) from None
                if time.monotonic() + delay >= deadline:
                    raise DownloadError(
                        f"{key}: cannot download {shown}: {exc} ({tries}; no time left before "
                        f"the {policy.deadline:g} s deadline)"
                    ) from None
                attempt += 1
                log.warning(
                    "%s: %s; retrying in %.1fs (%d/%d)", key, exc, delay, attempt, policy.retries
                )
                time.sleep(delay)
    finally:
        if own_session:
            session.close()
    if sha256 is not None and digest != sha256.lower():
        raise ChecksumMismatch(key, shown, sha256.lower(), digest)
    return digest


class _Deadline(Exception):
    """The entry's deadline passed."""


def _new_session() -> requests.Session:
    try:
        import requests
    except ImportError:
        from poncho_fetch._stdlib_http import Session

        return Session()  # type: ignore[return-value]  # the part of requests.Session used
    return requests.Session()


def _error_classes() -> tuple[
    tuple[type[BaseException], ...], tuple[type[BaseException], ...], type[BaseException]
]:
    """The errors of the HTTP library in use: (no connection or a timeout, a body broken on
    the way, any other request error)."""
    try:
        import requests
        import urllib3
    except ImportError:
        from poncho_fetch import _stdlib_http

        return _stdlib_http.CONNECTION, _stdlib_http.BROKEN, _NoError
    connection = (requests.Timeout, requests.ConnectionError)
    broken = (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError)
    return connection, broken, requests.RequestException


class _NoError(Exception):
    """Never raised: the standard library has no catch-all request error."""


def _download_once(
    session: requests.Session,
    url: str,
    shown: str,
    dest: Path,
    key: str,
    policy: RetryPolicy,
    deadline: float,
    max_bytes: int | None,
) -> str:
    connection, broken, other = _error_classes()
    log.info("%s: downloading %s", key, url)
    headers = {"Accept-Encoding": "identity", "User-Agent": f"poncho-fetch/{__version__}"}
    host = where(url)
    started = time.monotonic()
    try:
        with session.get(
            url, stream=True, timeout=_timeout(policy, deadline), headers=headers
        ) as resp:
            status = resp.status_code
            if status >= 500 or status in _RETRY_STATUS:
                raise _Transient(f"{host}: HTTP {status} {_short(resp.reason)}")
            if status >= 400:
                raise DownloadError(
                    f"{key}: cannot download {shown}: {host}: HTTP {status} {_short(resp.reason)}"
                )
            expected = _content_length(resp.headers.get("Content-Length"))
            if max_bytes is not None and expected is not None and expected > max_bytes:
                raise LimitExceeded(
                    f"{key}: {shown} is {expected} bytes, over the {max_bytes} byte limit of one "
                    "entry (the cache's --max-size)"
                )
            digest = hashlib.sha256()
            size = 0
            window_start, window_size = started, 0
            with _open_for_writing(dest) as out:
                for chunk in _chunks(resp):
                    _write(out, chunk, dest)
                    digest.update(chunk)
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise LimitExceeded(
                            f"{key}: {shown} sent more than the {max_bytes} byte limit of one "
                            "entry (the cache's --max-size); download stopped"
                        )
                    now = time.monotonic()
                    if now >= deadline:
                        raise _Deadline
                    if policy.min_rate > 0 and now - window_start >= policy.rate_window:
                        rate = (size - window_size) / (now - window_start)
                        if rate < policy.min_rate:
                            raise _Transient(
                                f"{host}: too slow ({rate:.0f} bytes/s over the last "
                                f"{now - window_start:.0f} s, below the minimum of "
                                f"{policy.min_rate:g})"
                            )
                        window_start, window_size = now, size
    except PonchoError:  # FetchError, and poncho-core's LimitExceeded
        raise
    except _Deadline:
        raise _deadline_error(key, shown, policy) from None
    except connection as exc:
        if time.monotonic() >= deadline - 0.05:
            raise _deadline_error(key, shown, policy) from None
        raise _Transient(f"{host}: {describe_error(exc)}") from None
    except broken as exc:
        if time.monotonic() >= deadline - 0.05:
            raise _deadline_error(key, shown, policy) from None
        raise _Transient(f"{host}: connection broken: {describe_error(exc)}") from None
    except other as exc:
        raise DownloadError(f"{key}: cannot download {shown}: {describe_error(exc)}") from None
    except (UnicodeError, ValueError) as exc:  # a URL that cannot be sent as it is
        raise DownloadError(f"{key}: cannot download {shown}: invalid URL ({exc})") from None
    if expected is not None and size != expected:
        raise _Transient(f"{host}: connection closed after {size} of {expected} bytes")
    return digest.hexdigest()


def _deadline_error(key: str, url: str, policy: RetryPolicy) -> DownloadError:
    return DownloadError(
        f"{key}: cannot download {url}: {where(url)}: not finished within the deadline of "
        f"{policy.deadline:g} s (RetryPolicy.deadline, poncho_fetch --deadline)"
    )


def _timeout(policy: RetryPolicy, deadline: float) -> tuple[float, float]:
    """(connect, read) timeouts: the policy's, cut to what is left before the deadline."""
    left = max(deadline - time.monotonic(), 0.01)
    limit = min(policy.timeout, left)
    return limit, limit


def _chunks(resp: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: each read returns what one receive got (`read1`), so that
    deadlines and rates are checked even when a server trickles bytes."""
    raw = resp.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # pragma: no cover - urllib3 < 2.1
        stream: Iterator[bytes] = raw.stream(64 << 10, decode_content=False)
        return stream

    def chunks() -> Iterator[bytes]:
        while True:
            chunk = read1(_CHUNK, decode_content=False)
            if not chunk:
                return
            yield chunk

    return chunks()


def _open_for_writing(dest: Path) -> IO[bytes]:
    try:
        return open(dest, "wb")
    except OSError as exc:
        raise FetchError(f"cannot write {dest}: {exc.strerror or exc}") from exc


def _write(out: IO[bytes], chunk: bytes, dest: Path) -> None:
    try:
        out.write(chunk)
    except OSError as exc:
        raise FetchError(f"cannot write {dest}: {exc.strerror or exc}") from exc


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None and len(value) < 20 else None
    except ValueError:
        return None


def where(url: str) -> str:
    """``host:port`` of a URL, for messages (``?`` when it has none)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        host = parts.hostname or "?"
    except ValueError:
        return "?"
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


_ERRNO_WORDS = re.compile(r"\[Errno -?\d+\]\s*")
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>:?\s*")


def describe_error(exc: BaseException) -> str:
    """What happened, in a few words: the innermost cause of a requests/urllib3 (or
    urllib) error ("connection refused", "read timed out"), without the wrapping
    exceptions."""
    try:
        import requests
    except ImportError:
        pass
    else:
        if isinstance(exc, requests.ConnectTimeout):
            return "no connection within the timeout"
        if isinstance(exc, requests.ReadTimeout):
            return "no data within the timeout (read timed out)"
    seen: set[int] = set()
    innermost: BaseException = exc
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        innermost = current
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__]
        nested += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        todo.extend(n for n in nested if isinstance(n, BaseException))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror[0].lower() + current.strerror[1:]
    text = str(innermost) or type(innermost).__name__
    if isinstance(innermost, TimeoutError) or "timed out" in text:
        return "timed out"
    text = _OBJECT_REPR.sub("", _ERRNO_WORDS.sub("", text)).strip(" ('\")")
    return _short(text or type(innermost).__name__)


def _short(text: str | None) -> str:
    line = (text or "").splitlines()[0] if text else ""
    line = "".join(c if c.isprintable() else "?" for c in line)
    return line if len(line) <= 200 else line[:197] + "..."
