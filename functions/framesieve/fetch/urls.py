"""Parse and check client URLs before anything is fetched from them.

A URL is checked where the fetch will actually go: the host is resolved
once, every address it resolves to must be allowed, and the download then
connects to one of those checked addresses instead of resolving again. That
order is what stops DNS rebinding and names that point at internal services.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit

from framesieve.errors import BadRequest
from framesieve.fetch.addresses import IPAddress, forbidden_reason, parse_ipv4_host
from framesieve.fetch.policy import FetchPolicy


MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
_HOSTNAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
# Characters left as they are when a path or query is percent-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class UrlRejected(BadRequest):
    """The URL is malformed or points somewhere the policy does not allow."""


class ForbiddenAddress(UrlRejected):
    """The URL's host is, or resolves to, an address the policy forbids."""

    def __init__(self, description: str, address: IPAddress, reason: str) -> None:
        super().__init__(description)
        self.address = address
        self.reason = reason


@dataclass(frozen=True)
class HttpTarget:
    """An http(s) URL that passed the checks, with the addresses it may connect to."""

    url: str
    scheme: str
    host: str
    port: int
    request_target: str
    host_header: str
    addresses: tuple[IPAddress, ...]


def check_url(url: object, policy: FetchPolicy, field: str = "url") -> str:
    """Validate a client URL at request time and return it normalised.

    Raises BadRequest (as UrlRejected) saying what is wrong: the type, length,
    scheme, credentials, host, a file outside the media root, or a host that
    resolves to a forbidden address. ``field`` names the URL in the message.
    """
    parts = parse_url(url, field)
    scheme = parts.scheme.lower()

    if scheme == "file":
        return resolve_file_url(parts, policy, field).as_uri()

    if scheme not in DEFAULT_PORTS:
        allowed = "http, https or file" if policy.allow_file_urls else "http or https"
        raise UrlRejected(f"{field} scheme must be {allowed}, got {parts.scheme or 'none'!r}")

    return resolve_http_url(parts, policy, field).url


def parse_url(url: object, field: str = "url") -> SplitResult:
    """Split a URL after the type, length and character checks of :func:`check_url`."""
    text = _validate_text(url, field)
    try:
        return urlsplit(text)
    except ValueError as exc:
        # Python 3.11.4+ rejects a bracketed host that is not an IPv6 address here.
        raise UrlRejected(f"{field} is not a valid URL: {exc}") from exc


def _validate_text(url: object, field: str) -> str:
    if not isinstance(url, str):
        raise UrlRejected(f"{field} must be a string")

    text = url.strip()
    if not text:
        raise UrlRejected(f"{field} must not be empty")

    if len(text) > MAX_URL_LENGTH:
        raise UrlRejected(f"{field} is too long ({len(text)} characters, max {MAX_URL_LENGTH})")

    match = _FORBIDDEN_CHARACTERS.search(text)
    if match:
        raise UrlRejected(f"{field} contains a forbidden character {match.group()!r} at position {match.start()}")

    return text


def resolve_file_url(parts: SplitResult, policy: FetchPolicy, field: str = "url") -> Path:
    """Return the real path of a file:// URL after checking it stays inside the media root."""
    if not policy.allow_file_urls or policy.media_root is None:
        if policy.backend == "aws":
            raise UrlRejected("file:// URLs are not accepted by this deployment")
        raise UrlRejected(
            "file:// URLs are not accepted; set FRAMESIEVE_MEDIA_ROOT to a folder "
            "to allow fetching videos from files under it"
        )

    if parts.netloc not in ("", "localhost"):
        raise UrlRejected(f"{field} file:// URL must have no host, got {parts.netloc!r}")

    if parts.query or parts.fragment:
        raise UrlRejected(f"{field} file:// URL must not have a query or fragment")

    raw_path = unquote(parts.path)
    if "\x00" in raw_path or not raw_path.startswith("/"):
        raise UrlRejected(f"{field} file:// URL must contain an absolute path")

    # resolve() follows every symlink and ".." before the containment check.
    root = policy.media_root.resolve()
    try:
        path = Path(raw_path).resolve()
    except (OSError, RuntimeError) as exc:
        # RuntimeError is how Python 3.11 reports a symlink loop here.
        raise UrlRejected(f"{field} file path could not be resolved: {exc}") from exc
    if not path.is_relative_to(root):
        raise UrlRejected(f"{field} points outside FRAMESIEVE_MEDIA_ROOT ({root})")

    if not path.is_file():
        raise UrlRejected(f"{field} file not found under FRAMESIEVE_MEDIA_ROOT: {path.relative_to(root)}")

    return path


def resolve_http_url(parts: SplitResult, policy: FetchPolicy, field: str = "url") -> HttpTarget:
    """Check an http(s) URL, resolve its host once and check every address it resolves to."""
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UrlRejected(f"{field} scheme must be http or https, got {parts.scheme or 'none'!r}")

    if parts.username is not None or parts.password is not None:
        # The URL is stored and returned in job and frame records, so a
        # password in it would leak to everyone who reads the project.
        raise UrlRejected(f"{field} must not contain a user name or password; use a signed URL instead")

    try:
        explicit_port = parts.port
    except ValueError as exc:
        raise UrlRejected(f"{field} has an invalid port: {exc}") from exc
    port = DEFAULT_PORTS[scheme] if explicit_port is None else explicit_port
    if port == 0:
        raise UrlRejected(f"{field} has an invalid port 0")

    host, literal = _parse_host(parts, field)
    addresses = (literal,) if literal is not None else _resolve(host, port, field)

    for address in addresses:
        reason = forbidden_reason(address, policy.allow_loopback)
        if reason is not None:
            raise ForbiddenAddress(_forbidden_message(field, host, address, reason, policy), address, reason)

    host_in_url = f"[{host}]" if ":" in host else host
    authority = host_in_url if port == DEFAULT_PORTS[scheme] else f"{host_in_url}:{port}"
    request_target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        request_target += "?" + quote(parts.query, safe=_QUERY_SAFE)

    return HttpTarget(
        url=f"{scheme}://{authority}{request_target}",
        scheme=scheme,
        host=host,
        port=port,
        request_target=request_target,
        host_header=authority,
        addresses=addresses,
    )


def _parse_host(parts: SplitResult, field: str) -> tuple[str, IPAddress | None]:
    """Return the normalised host and, when the host is an address literal, that address."""
    raw = parts.hostname
    if not raw:
        raise UrlRejected(f"{field} has no host")

    if "[" in parts.netloc:
        try:
            address = ipaddress.IPv6Address(unquote(raw))
        except ValueError as exc:
            raise UrlRejected(f"{field} has an invalid IPv6 address {raw!r}") from exc
        return str(address), address

    try:
        host = raw.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise UrlRejected(f"{field} has an invalid host name {raw!r}") from exc

    if not _HOSTNAME.match(host) or len(host) > 253:
        raise UrlRejected(f"{field} has an invalid host name {raw!r}")

    address = parse_ipv4_host(host)
    if address is not None:
        return str(address), address

    # A name whose last label is a number is an IPv4 spelling that failed to
    # parse ("256.1.1.1", "1.2.3.4.5"). It is rejected here, not sent to a resolver.
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if _NUMERIC_LABEL.match(last_label):
        raise UrlRejected(f"{field} has an invalid IPv4 address {raw!r}")

    return host.rstrip("."), None


def _resolve(host: str, port: int, field: str) -> tuple[IPAddress, ...]:
    # RFC 6761 reserves "localhost" and every name under it for loopback;
    # answering here keeps those names away from /etc/hosts and DNS entirely.
    if host == "localhost" or host.endswith(".localhost"):
        return (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRejected(f"{field} host {host!r} could not be resolved: {exc}") from exc

    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)

    if not addresses:
        raise UrlRejected(f"{field} host {host!r} resolved to no IPv4 or IPv6 address")
    return tuple(addresses)


def _forbidden_message(field: str, host: str, address: IPAddress, reason: str, policy: FetchPolicy) -> str:
    target = f"host {host}" if host == str(address) else f"host {host} resolves to {address}, which"
    message = f"{field} {target} is a forbidden address: {reason}. Only public addresses are fetched."
    if reason.startswith("loopback") and policy.backend != "aws":
        message += " Set FRAMESIEVE_ALLOW_LOOPBACK_URLS=true to fetch from this machine."
    return message


def redact_url(url: str) -> str:
    """Return the URL without its query, fragment and credentials, for logs and messages.

    Signed URLs carry their signature in the query string.
    """
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    suffix = "?..." if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{suffix}"

