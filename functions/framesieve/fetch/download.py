"""Download a checked URL to a local file, streaming, within the policy's limits.

Each http(s) hop resolves its host once, checks every address, and connects
to a checked address by IP while sending the original Host header and, for
HTTPS, the host name for SNI and certificate verification. Redirects are
followed here one by one so each hop gets the same checks. Environment
proxies are not used, because a proxy would make its own DNS lookup.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from framesieve.errors import VideoError
from framesieve.fetch.addresses import IPAddress
from framesieve.fetch.policy import FetchPolicy
from framesieve.fetch.urls import (
    DEFAULT_PORTS,
    ForbiddenAddress,
    HttpTarget,
    UrlRejected,
    parse_url,
    redact_url,
    resolve_file_url,
    resolve_http_url,
)

try:
    import certifi
except ImportError:  # pragma: no cover - certifi ships with botocore's dependencies here
    certifi = None

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "framesieve-fetch/1"


@dataclass(frozen=True)
class FetchResult:
    size_bytes: int
    content_type: str
    final_url: str


def fetch_to_file(url: str, dest: Path, policy: FetchPolicy) -> FetchResult:
    """Download ``url`` into ``dest`` and return its size, content type and final URL.

    Raises VideoError with a reason a person can act on. ``dest`` is removed
    when the download fails part way.
    """
    dest = Path(dest)
    started = time.monotonic()
    try:
        parts = parse_url(url)
        if parts.scheme.lower() == "file":
            result = _copy_file(resolve_file_url(parts, policy), dest, policy)
        else:
            result = _download(url, dest, policy, deadline=started + policy.total_timeout_seconds)
    except UrlRejected as exc:
        dest.unlink(missing_ok=True)
        raise VideoError(f"download rejected: {exc.description}") from exc
    except BaseException:
        dest.unlink(missing_ok=True)
        raise

    logger.info(
        "fetch finished: url=%s size_bytes=%d content_type=%s seconds=%.2f",
        redact_url(result.final_url),
        result.size_bytes,
        result.content_type,
        time.monotonic() - started,
    )
    return result


def format_size(size_bytes: int) -> str:
    """Format a byte count the way the limit settings are usually written (4 GiB, 512 MiB)."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size_bytes >= factor and size_bytes % factor == 0:
            return f"{size_bytes // factor} {unit}"
    return f"{size_bytes} bytes"


def _limit_message(policy: FetchPolicy) -> str:
    return f"download exceeded the {format_size(policy.max_bytes)} limit (FRAMESIEVE_MAX_VIDEO_BYTES)"


def _download(url: str, dest: Path, policy: FetchPolicy, deadline: float) -> FetchResult:
    current = url
    for hop in range(policy.max_redirects + 1):
        try:
            target = resolve_http_url(parse_url(current), policy)
        except ForbiddenAddress as exc:
            if hop == 0:
                raise
            raise VideoError(f"redirect to a forbidden address {exc.address} rejected: {exc.reason}") from exc
        except UrlRejected as exc:
            if hop == 0:
                raise
            raise VideoError(f"redirect rejected: {exc.description}") from exc

        response = _open(target, policy, deadline)
        try:
            if response.status in REDIRECT_STATUSES:
                current = _redirect_location(target, response.status, response.headers.get("Location"))
                logger.info("fetch redirected: from=%s to=%s", redact_url(target.url), redact_url(current))
                continue

            if response.status != 200:
                raise VideoError(f"download failed: HTTP {response.status} from {redact_url(target.url)}")

            size = _stream_to_file(response, target, dest, policy, deadline)
            content_type = response.headers.get("Content-Type", "application/octet-stream")
            return FetchResult(size_bytes=size, content_type=content_type, final_url=target.url)
        finally:
            response.release_conn()

    raise VideoError(f"too many redirects (more than {policy.max_redirects}) starting at {redact_url(url)}")


def _redirect_location(target: HttpTarget, status: int, location: str | None) -> str:
    if not location:
        raise VideoError(f"download failed: HTTP {status} redirect without a Location header from {redact_url(target.url)}")

    next_url = urljoin(target.url, location.strip())
    scheme = next_url.split(":", 1)[0].lower()
    if scheme not in DEFAULT_PORTS:
        # A server must never be able to point the fetch at a local file.
        raise VideoError(f"redirect to a {scheme}: URL rejected; only http and https redirects are followed")
    return next_url


def _open(target: HttpTarget, policy: FetchPolicy, deadline: float) -> urllib3.BaseHTTPResponse:
    """Send the GET to the first checked address that accepts a connection."""
    failures: list[str] = []
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise VideoError(f"timed out after {policy.total_timeout_seconds:g} s (total download time limit)")

        timeout = urllib3.Timeout(connect=min(policy.timeout_seconds, remaining), read=policy.timeout_seconds)
        pool = _connection_pool(target, address, timeout, policy)
        try:
            return pool.urlopen(
                "GET",
                target.request_target,
                headers={
                    "Host": target.host_header,
                    "User-Agent": USER_AGENT,
                    "Accept-Encoding": "identity",
                },
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except NewConnectionError as exc:
            failures.append(f"{address}: {_cause(exc)}")
        except ConnectTimeoutError:
            failures.append(f"{address}: timed out after {timeout.connect_timeout:g} s")
        except ReadTimeoutError as exc:
            raise VideoError(
                f"timed out after {policy.timeout_seconds:g} s waiting for a response from {redact_url(target.url)}"
            ) from exc
        except SSLError as exc:
            raise VideoError(f"TLS connection to host {target.host} failed: {_cause(exc)}") from exc
        except HTTPError as exc:
            raise VideoError(f"download failed from {redact_url(target.url)}: {_cause(exc)}") from exc

    raise VideoError(f"could not connect to host {target.host} port {target.port} ({'; '.join(failures)})")


def _connection_pool(
    target: HttpTarget, address: IPAddress, timeout: urllib3.Timeout, policy: FetchPolicy
) -> urllib3.HTTPConnectionPool:
    if target.scheme == "http":
        return urllib3.HTTPConnectionPool(str(address), target.port, timeout=timeout, maxsize=1, retries=False)

    if policy.ca_bundle is not None:
        ca_certs: str | None = str(policy.ca_bundle)
    else:
        ca_certs = certifi.where() if certifi is not None else None
    return urllib3.HTTPSConnectionPool(
        str(address),
        target.port,
        timeout=timeout,
        maxsize=1,
        retries=False,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_certs,
        server_hostname=target.host,
        assert_hostname=target.host,
    )


def _stream_to_file(
    response: urllib3.BaseHTTPResponse, target: HttpTarget, dest: Path, policy: FetchPolicy, deadline: float
) -> int:
    announced = response.headers.get("Content-Length")
    if announced is not None and announced.isdigit() and int(announced) > policy.max_bytes:
        raise VideoError(f"{_limit_message(policy)}: the server announced {int(announced)} bytes")

    written = 0
    try:
        with open(dest, "wb") as handle:
            # read1 returns what one socket read delivers, so the deadline is
            # checked even while a slow server trickles. The check can come late
            # by at most one read timeout.
            while chunk := response.read1(CHUNK_BYTES, decode_content=True):
                written += len(chunk)
                if written > policy.max_bytes:
                    raise VideoError(_limit_message(policy))

                handle.write(chunk)
                if time.monotonic() > deadline:
                    raise VideoError(
                        f"timed out after {policy.total_timeout_seconds:g} s (total download time limit)"
                    )
    except ReadTimeoutError as exc:
        raise VideoError(
            f"timed out after {policy.timeout_seconds:g} s waiting for data from {redact_url(target.url)}"
        ) from exc
    except ProtocolError as exc:
        raise VideoError(f"download failed: connection to host {target.host} broke: {_cause(exc)}") from exc
    except HTTPError as exc:
        raise VideoError(f"download failed from {redact_url(target.url)}: {_cause(exc)}") from exc

    return written


def _copy_file(source: Path, dest: Path, policy: FetchPolicy) -> FetchResult:
    """Copy a file that :func:`resolve_file_url` placed inside the media root."""
    assert policy.media_root is not None
    root = policy.media_root.resolve()

    try:
        # O_NOFOLLOW: the resolved path has no symlink in its last part unless it was swapped since.
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise VideoError(f"could not open file {source}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        _check_opened_file(handle, root, source)

        size = os.fstat(handle.fileno()).st_size
        if size > policy.max_bytes:
            raise VideoError(f"{_limit_message(policy)}: the file has {size} bytes")

        written = _copy_limited(handle, dest, policy)

    return FetchResult(size_bytes=written, content_type="application/octet-stream", final_url=source.as_uri())


def _check_opened_file(handle: BinaryIO, root: Path, source: Path) -> None:
    # A folder on the path could be swapped for a symlink between the check
    # and the open, so the check is repeated on what was actually opened.
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        raise VideoError(f"file:// URL does not point at a regular file: {source}")

    proc_link = Path(f"/proc/self/fd/{handle.fileno()}")
    if proc_link.exists():
        opened = Path(os.readlink(proc_link))
        if not opened.is_relative_to(root):
            raise VideoError(f"file:// URL points outside FRAMESIEVE_MEDIA_ROOT ({root})")
    # NOTE: without /proc (macOS), a folder swapped during the open is not detected.


def _copy_limited(handle: BinaryIO, dest: Path, policy: FetchPolicy) -> int:
    written = 0
    with open(dest, "wb") as out:
        while chunk := handle.read(CHUNK_BYTES):
            written += len(chunk)
            if written > policy.max_bytes:
                raise VideoError(_limit_message(policy))
            out.write(chunk)
    return written


def _cause(exc: BaseException) -> str:
    """Return the underlying reason of a urllib3 error without urllib3's own wrapping text."""
    if isinstance(exc.__cause__, OSError):
        return str(exc.__cause__)

    # ProtocolError("Connection broken: ...", original_error)
    if isinstance(exc, ProtocolError) and len(exc.args) == 2:
        return str(exc.args[1])

    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc)
