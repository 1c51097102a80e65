"""Web settings: what the dashboard needs beyond ``[web]`` in the config file.

Cookies are Secure and HSTS is sent whenever the public URL is https; a test on
http://127.0.0.1 turns both off explicitly. ``trust_proxy`` says a reverse proxy in
front of us terminates TLS and sets ``X-Forwarded-Proto``/``X-Forwarded-For``; without
it those headers are ignored, since any client could send them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from coordinator.config import Config


@dataclass(frozen=True)
class WebSettings:
    public_url: str = "http://127.0.0.1:8080"
    secure_cookies: bool = True
    hsts: bool = True  # only ever sent on a TLS request (direct, or via a trusted proxy)
    trust_proxy: bool = False
    session_minutes: int = 60
    login_link_minutes: int = 10
    api_token_days: int = 7
    # Public form posts per client: a burst, then one every ``client_refill_seconds``.
    client_burst: int = 5
    client_refill_seconds: float = 60.0
    # All public form posts together, whoever sends them (a flood from many addresses).
    global_burst: int = 60
    global_refill_seconds: float = 2.0
    # Minutes before an unacknowledged urgent request is escalated (display only).
    sla_minutes_critical: int = 60
    sla_minutes_high: int = 120
    # Signs CSRF tokens; kept in memory only, so a restart invalidates open forms.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

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
            "sla_minutes_critical": config.policy.sla_minutes_critical,
            "sla_minutes_high": config.policy.sla_minutes_high,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
