"""Which addresses the fetcher may connect to: public ones, and what the operator allows.

A feed anyone may publish must not make newsbot read its own machine or network (SSRF): every host
is resolved and each address checked here, and the connection goes to the address that was checked
(`GuardedBackend`), so a DNS answer cannot change between the check and the connect.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The spellings inet_aton accepts besides dotted quads: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)
_LOCAL_NAMES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address the fetcher must not connect to."""


@dataclass(frozen=True)
class Allow:
    """What the operator allows on top of the public internet (NEWSBOT_FETCH_ALLOW)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def address(self, address: IPAddress) -> bool:
        plain = unmapped(address)
        return any(plain.version == net.version and plain in net for net in self.networks)


def parse_allow(entries: Iterable[str]) -> Allow:
    """Host names and addresses or CIDR networks (`intranet.example`, `10.0.0.0/8`, `127.0.0.1`)."""
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return Allow(frozenset(hosts), tuple(networks))


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as one stands for, in any spelling a resolver accepts; else None."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if not _LEGACY_IPV4.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def unmapped(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or Teredo IPv6 address; else the address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if inner is not None:
            return inner
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_problem(address: IPAddress) -> str | None:
    """Why newsbot must not connect to `address` (loopback, private, …), or None for a public one."""
    plain = unmapped(address)
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(plain, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not plain.is_global:
        return f"{address} is not a public address"
    return None


def host_problem(host: str, allow: Allow) -> str | None:
    """Why a host is refused by its name or literal address alone, before any lookup; None if not."""
    if allow.host(host):
        return None
    name = host.lower().rstrip(".")
    if not name:
        return "no host"
    address = literal_address(name)
    if address is not None:
        return None if allow.address(address) else address_problem(address)
    if name == "localhost" or name.endswith(_LOCAL_NAMES):
        return f"{host} is a local name"
    return None


def checked_addresses(host: str, infos: Sequence[tuple[Any, ...]], allow: Allow) -> list[str]:
    """The resolved addresses to connect to; AddressRefused when any is forbidden.

    All must pass, not just one: otherwise which address is used would be up to the resolver."""
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not addresses:
        raise AddressRefused(f"{host} did not resolve")
    if allow.host(host):
        return addresses
    for text in addresses:
        address = ipaddress.ip_address(text)
        problem = None if allow.address(address) else address_problem(address)
        if problem:
            raise AddressRefused(f"refused {host}: {problem}")
    return addresses


async def resolve(host: str, port: int, allow: Allow) -> list[str]:
    """The checked addresses of `host`; AddressRefused for a forbidden or unresolvable one."""
    problem = host_problem(host, allow)
    if problem:
        raise AddressRefused(f"refused {host}: {problem}")
    try:
        infos = await anyio.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise AddressRefused(f"{host} did not resolve ({err})") from err
    return checked_addresses(host, infos, allow)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to checked addresses of each host.

    httpcore still sends the host name in the Host header and for TLS (SNI and certificate check)."""

    def __init__(self, allow: Allow, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allow = allow
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, self.allow)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                error = err
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(allow: Allow, ssl_context: ssl.SSLContext | None = None) -> Any:
    """An httpx transport whose every connection (each redirect hop too) goes through `GuardedBackend`."""
    import httpx

    transport = httpx.AsyncHTTPTransport(verify=ssl_context or True, trust_env=False)
    pool = transport._pool  # httpx offers no public way to pass a network backend
    pool._network_backend = GuardedBackend(allow)
    return transport
