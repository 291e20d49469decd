"""Download one URL to a file, retrying transient failures, checking the sha256.

Transient failures are: connection errors and timeouts, a connection dropped before the whole
body arrived (fewer bytes than Content-Length, or a broken chunked body), HTTP 5xx, 408 and
429. They are retried a few times with exponential backoff, each time from the start (the
partial file is truncated). Other HTTP errors fail at once. The bytes are checked exactly as
served (no transparent Content-Encoding decoding), so the sha256 is that of the file on the
server. `requests` is imported on first use, keeping ``import poncho_fetch`` light.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from poncho_fetch import __version__
from poncho_fetch.errors import ChecksumMismatch, DownloadError, FetchError

if TYPE_CHECKING:
    import requests

__all__ = ["RetryPolicy", "download"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_RETRY_STATUS = frozenset({408, 429})


class RetryPolicy:
    """How hard to try: `retries` more attempts after the first, waiting `backoff`,
    2*`backoff`, 4*`backoff`... seconds between them; `timeout` seconds for connecting and
    for each read."""

    def __init__(self, retries: int = 3, backoff: float = 1.0, timeout: float = 60.0) -> None:
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout


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
) -> str:
    """Download `url` into the file `dest` and return the sha256 hex digest of its bytes.

    `key` names the spec entry in messages (e.g. ``http.DATA``). When `sha256` is given,
    a different digest raises ChecksumMismatch (`dest` is left for the caller to discard).
    Raises DownloadError when the download fails for good.
    """
    import requests

    policy = policy or RetryPolicy()
    own_session = session is None
    session = session or requests.Session()
    try:
        attempt = 0
        while True:
            try:
                digest = _download_once(session, url, dest, key, policy.timeout)
                break
            except _Transient as exc:
                if attempt >= policy.retries:
                    raise DownloadError(
                        f"{key}: cannot download {url}: {exc} (tried {attempt + 1} times)"
                    ) from exc
                delay = policy.backoff * 2**attempt
                attempt += 1
                log.warning(
                    "%s: %s; retrying in %.1fs (%d/%d)", key, exc, delay, attempt, policy.retries
                )
                time.sleep(delay)
    finally:
        if own_session:
            session.close()
    if sha256 is not None and digest != sha256.lower():
        raise ChecksumMismatch(key, url, sha256.lower(), digest)
    return digest


def _download_once(
    session: requests.Session, url: str, dest: Path, key: str, timeout: float
) -> str:
    import requests
    import urllib3

    log.info("%s: downloading %s", key, url)
    headers = {"Accept-Encoding": "identity", "User-Agent": f"poncho-fetch/{__version__}"}
    try:
        with session.get(url, stream=True, timeout=timeout, headers=headers) as resp:
            status = resp.status_code
            if status >= 500 or status in _RETRY_STATUS:
                raise _Transient(f"HTTP {status} {resp.reason}")
            if status >= 400:
                raise DownloadError(f"{key}: cannot download {url}: HTTP {status} {resp.reason}")
            expected = _content_length(resp.headers.get("Content-Length"))
            digest = hashlib.sha256()
            size = 0
            with _open_for_writing(dest) as out:
                for chunk in resp.raw.stream(_CHUNK, decode_content=False):
                    _write(out, chunk, dest)
                    digest.update(chunk)
                    size += len(chunk)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Transient(_reason(exc)) from exc
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError) as exc:
        raise _Transient(f"connection broken: {_reason(exc)}") from exc
    except requests.RequestException as exc:
        raise DownloadError(f"{key}: cannot download {url}: {exc}") from exc
    if expected is not None and size != expected:
        raise _Transient(f"connection closed after {size} of {expected} bytes")
    return digest.hexdigest()


def _open_for_writing(dest: Path) -> IO[bytes]:
    try:
        return open(dest, "wb")
    except OSError as exc:
        raise FetchError(f"cannot write {dest}: {exc}") from exc


def _write(out: IO[bytes], chunk: bytes, dest: Path) -> None:
    try:
        out.write(chunk)
    except OSError as exc:
        raise FetchError(f"cannot write {dest}: {exc}") from exc


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
