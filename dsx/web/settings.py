"""Web settings: what the dashboard needs beyond ``[web]`` in the config file.

Cookies are Secure and HSTS is sent whenever the public URL is https; a test on
http://127.0.0.1 turns both off explicitly. ``trust_proxy`` says a reverse proxy in
front of us terminates TLS and sets ``X-Forwarded-Proto``/``X-Forwarded-For``; without
it (or on a connection from anywhere but ``proxy_peers``) those headers are ignored,
since any client could send them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from coordinator.config import Config, EmergencyConfig
from dsx.web.ratelimit import DEFAULT_LIMITS, Limit, Scope


def rate_secret(pickle_key: str) -> bytes:
    """A key for the rate-limit counters that every process of the deployment shares,
    one-way from the pickle key (the web never holds the pickle key itself)."""
    return hmac.new(pickle_key.encode(), b"dsx web rate limits", hashlib.sha256).digest()


@dataclass(frozen=True)
class WebSettings:
    public_url: str = "http://127.0.0.1:8080"
    secure_cookies: bool = True
    hsts: bool = True  # only ever sent on a TLS request (direct, or via a trusted proxy)
    trust_proxy: bool = False
    proxy_peers: tuple[str, ...] = ("127.0.0.1", "::1")
    session_minutes: int = 60
    login_link_minutes: int = 10
    api_token_days: int = 7
    # Sign-in, public forms (per client; all stored submissions together) and the API,
    # each with its own budget per fixed window (dsx/web/ratelimit.py).
    limits: Mapping[Scope, Limit] = field(default_factory=lambda: DEFAULT_LIMITS)
    # Minutes before an unacknowledged urgent request is escalated (display only).
    sla_minutes_critical: int = 60
    sla_minutes_high: int = 120
    # Shown on the public pages beside the form, and the "Source" link of every page.
    emergency: EmergencyConfig = field(default_factory=EmergencyConfig)
    source_url: str = "/source"
    # Signs CSRF tokens; kept in memory only, so a restart invalidates open forms.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # Keys the rate-limit counters; every process of a deployment must share it, or each
    # counts its own clients apart. ``from_config`` derives it from the pickle key.
    rate_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @property
    def origin(self) -> str:
        return self.public_url.rstrip("/")

    @classmethod
    def from_config(cls, config: Config, **overrides: object) -> WebSettings:
        tls = config.web.public_url.startswith("https://")
        values: dict[str, object] = {
            "public_url": config.web.public_url,
            "secure_cookies": tls,
            "hsts": tls,
            "session_minutes": config.web.session_minutes,
            "api_token_days": config.web.api_token_days,
            "trust_proxy": config.web.trust_proxy,
            "proxy_peers": config.web.proxy_peers,
            "sla_minutes_critical": config.policy.sla_minutes_critical,
            "sla_minutes_high": config.policy.sla_minutes_high,
            "emergency": config.emergency,
            "source_url": config.web.source_url or "/source",
        }
        if config.matrix.pickle_key:
            values["rate_secret"] = rate_secret(config.matrix.pickle_key)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
