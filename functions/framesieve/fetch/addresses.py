"""Classify IP addresses that a fetch must not reach, and parse IPv4 host spellings.

The lists are explicit instead of relying on ``ipaddress.is_global``, because
Python 3.11.7 calls ``::ffff:8.8.8.8``, ``64:ff9b::a9fe:a9fe`` and 224.0.0.1
global, and the result changes between patch releases. An IPv6 address that
carries an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4) is judged by
the IPv4 address it carries, since that is where the packets end up.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

LOOPBACK_V4 = _V4("127.0.0.0/8")
LOOPBACK_V6 = ipaddress.IPv6Address("::1")

_FORBIDDEN_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT"),
    (LOOPBACK_V4, "loopback"),
    (_V4("169.254.0.0/16"), "link-local, the cloud metadata range"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved for IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "reserved for documentation"),
    (_V4("192.88.99.0/24"), "reserved for 6to4 relay anycast"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "reserved for benchmarking"),
    (_V4("198.51.100.0/24"), "reserved for documentation"),
    (_V4("203.0.113.0/24"), "reserved for documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved or broadcast"),
)

_FORBIDDEN_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "private, local-use NAT64"),
    (_V6("100::/64"), "reserved for discard"),
    (_V6("2001::/23"), "reserved for IETF protocol assignments and Teredo"),
    (_V6("2001:db8::/32"), "reserved for documentation"),
    (_V6("fc00::/7"), "private unique-local, which includes the EC2 metadata address fd00:ec2::254"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "reserved, formerly site-local"),
    (_V6("ff00::/8"), "multicast"),
)

_IPV4_COMPATIBLE = _V6("::/96")
_IPV4_TRANSLATED = _V6("::ffff:0:0:0/96")
_NAT64_WELL_KNOWN = _V6("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address carries, or None when it carries none."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped

    if address.sixtofour is not None:
        return address.sixtofour

    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64_WELL_KNOWN or address in _IPV4_TRANSLATED:
        return low32

    # "::" and "::1" sit in ::/96 too, but they are the IPv6 unspecified and
    # loopback addresses, not IPv4-compatible forms of 0.0.0.0 and 0.0.0.1.
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return low32

    return None


def forbidden_reason(address: IPAddress, allow_loopback: bool) -> str | None:
    """Return why a fetch must not connect to ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "scoped IPv6 address"

        carried = embedded_ipv4(address)
        if carried is not None:
            reason = forbidden_reason(carried, allow_loopback)
            return None if reason is None else f"{reason}, carried as IPv4 address {carried}"

        if allow_loopback and address == LOOPBACK_V6:
            return None

        for network, label in _FORBIDDEN_V6:
            if address in network:
                return label

        return None if address.is_global else "not a public address"

    if allow_loopback and address in LOOPBACK_V4:
        return None

    for network, label in _FORBIDDEN_V4:
        if address in network:
            return label

    return None if address.is_global else "not a public address"


_IPV4_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """Parse every IPv4 spelling that ``inet_aton`` and browsers accept, or return None.

    Covers dotted decimal plus the legacy forms "2130706433", "0177.0.0.1",
    "0x7f.1" and "127.1". These hosts must be checked as the addresses they
    name, because a resolver turns them into 127.0.0.1 without any DNS lookup.
    """
    text = host[:-1] if host.endswith(".") else host
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.match(part) for part in parts):
        return None

    values: list[int] = []
    for part in parts:
        if part[:2].lower() == "0x":
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            values.append(int(part, 8))
        else:
            values.append(int(part))

    # The last part fills every byte the earlier parts left, as inet_aton does.
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (4 - len(leading)):
        return None

    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)
