"""Who is asking, as far as rate limiting needs: the client address, never stored.

Behind the shipped proxy examples (``deploy/proxy/``), the proxy *sets*
``X-Forwarded-For`` to the address it sees, replacing whatever the client sent; the app
believes that header only with ``trust_proxy`` on and only on a connection from one of
``proxy_peers``, and takes its rightmost value (the one the proxy wrote, even behind a
proxy that appends). Anyone reaching the app directly is keyed by their own address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from dsx.web.settings import WebSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(peers: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in peers)


def from_trusted_proxy(request: web.BaseRequest, settings: WebSettings) -> bool:
    """True when the forwarding headers of this request may be believed."""
    if not settings.trust_proxy or not request.remote:
        return False
    try:
        peer = ipaddress.ip_address(request.remote.split("%", 1)[0])
    except ValueError:
        return False  # a Unix socket or the like: not a configured proxy peer
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer in net for net in _networks(settings.proxy_peers))


def client_address(request: web.BaseRequest, settings: WebSettings) -> str:
    """The peer; from a trusted proxy, the rightmost X-Forwarded-For value."""
    if from_trusted_proxy(request, settings):
        forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"


def set_cookie(
    response: web.StreamResponse,
    settings: WebSettings,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    """Every cookie we set: HttpOnly, SameSite=Strict, Secure unless configured off."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="Strict",
    )
