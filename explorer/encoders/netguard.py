"""Refuse API base URLs that point inside the server's network (server-side request forgery), in public mode.

A hosted app that lets a visitor name an OpenAI-compatible endpoint must not let that visitor make the server
call its own loopback, its private network or the cloud's metadata service (169.254.169.254 hands out
credentials). Checking the host name once is not enough: DNS can answer a public address to the check and
127.0.0.1 to the connection ("DNS rebinding"), and a public server can redirect to the metadata address. So
the address is checked where the connection is made: :class:`GuardedBackend` is an httpcore2 network backend
(the openai client sends through httpx2) that resolves the host itself, refuses any blocked address, connects
to the address it checked (never resolving twice) and checks the connected socket's peer address again.
Every connection of the client goes through it, redirects included (the encoder's client follows none).
:func:`check_base_url` is the early check that gives the visitor the same one-line message before any work.

Hand-written on purpose: httpx2 and the openai client offer no hook on the connected address, and the
address classes come from the standard library's :mod:`ipaddress`. Locally (not public mode) nothing is
checked: a ``localhost`` endpoint is the normal case there.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2

from explorer.core.errors import ModelError

Resolver = Callable[[str, int], list[str]]
"""``resolver(host, port)``: the IP addresses to try for ``host``, in order."""

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean... (also link-local)
    "169.254.170.2",  # AWS ECS task credentials
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",  # Azure wire server
    "fd00:ec2::254",  # AWS over IPv6
))
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: a provider's internal network


class BlockedAddressError(Exception):
    """A connection to a loopback, private, link-local or metadata address was refused (public mode)."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {address}, a {why} address")
        self.host, self.address, self.why = host, address, why

    def user_message(self) -> str:
        """The one-line message for the visitor: what was refused and what to give instead."""
        return (f"The base URL's host {self.host} resolves to {self.address}, a {self.why} address, which the hosted "
                "app may not call; give a public https:// endpoint (a local server only works when you run the "
                "app yourself).")


def blocked_reason(address: str) -> str | None:
    """Why ``address`` may not be called in public mode ("loopback", "private"...), or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "cloud-metadata"
    checks = (("loopback", ip.is_loopback), ("link-local", ip.is_link_local), ("unspecified", ip.is_unspecified),
              ("multicast", ip.is_multicast), ("reserved", ip.is_reserved),
              ("private", ip.is_private or (ip.version == 4 and ip in SHARED_NETWORK)))
    return next((name for name, hit in checks if hit), None)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for ``host`` (both families, in its order)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore2.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int, resolver: Resolver) -> list[str]:
    """``host``'s addresses, all of them allowed; raises :class:`BlockedAddressError` if any is blocked (a host
    that answers one public and one private address is refused: which one a connection takes is the
    resolver's choice, not ours)."""
    addresses = resolver(host, port)
    for address in addresses:
        why = blocked_reason(address)
        if why:
            raise BlockedAddressError(host, address, why)
    return addresses


def check_base_url(url: str, *, public: bool, resolver: Resolver = system_resolver) -> None:
    """Refuse a base URL the app may not call: one with credentials in it (always: it would be stored with the
    run), a scheme other than http(s), and in public mode one whose host resolves to a blocked address.

    Raises:
        ModelError: the one-line reason and the fix. An unresolvable host is not refused here; the request
            will say the server cannot be reached.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelError(f"The base URL must start with http:// or https:// and name a host, e.g. "
                         f"https://api.openai.com/v1; got {_safe_url(url)!r}.")
    if parts.username or parts.password:
        raise ModelError("The base URL contains a user name or password; remove them and pass the key in "
                         "OPENAI_API_KEY instead (a base URL is stored with the run).")
    if not public:
        return
    try:
        checked_addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), resolver)
    except BlockedAddressError as exc:
        raise ModelError(exc.user_message()) from None
    except httpcore2.ConnectError:
        return


def _safe_url(url: str) -> str:
    """``url`` without user information, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        return parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl()
    return url


class GuardedBackend(httpcore2.SyncBackend):
    """httpcore2's socket backend that connects only to allowed addresses (see the module docstring)."""

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore2.NetworkStream:
        last: Exception | None = None
        for address in checked_addresses(host, port, self.resolver):
            try:
                return self._connect(host, address, port, timeout, local_address, socket_options)
            except httpcore2.ConnectError as exc:
                last = exc
        raise last or httpcore2.ConnectError(f"no address for {host}")

    def _connect(self, host: str, address: str, port: int, timeout: float | None, local_address: str | None,
                 socket_options: Any) -> httpcore2.NetworkStream:
        stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
        peer = str(stream.get_extra_info("socket").getpeername()[0])
        why = blocked_reason(peer)
        if why:  # the address connected to is not the one checked: refuse it all the same
            stream.close()
            raise BlockedAddressError(host, peer, why)
        return stream


def guarded_transport(resolver: Resolver = system_resolver, **kwargs: Any) -> httpx2.HTTPTransport:
    """An httpx2 transport (the openai client's HTTP library) whose every connection goes through
    :class:`GuardedBackend`; ``kwargs`` go to :class:`httpx2.HTTPTransport`. Give its client
    ``trust_env=False``: a proxy from the environment would resolve the host itself."""
    transport = httpx2.HTTPTransport(**kwargs)
    # HTTPTransport takes no network backend: its connection pool's is swapped, keeping every other setting.
    # tests/encoders/test_netguard.py fails if this stops guarding connections.
    transport._pool._network_backend = GuardedBackend(resolver)
    return transport


def blocked_cause(exc: BaseException) -> BlockedAddressError | None:
    """The :class:`BlockedAddressError` behind ``exc`` (httpx2 and the openai client wrap it), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BlockedAddressError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
