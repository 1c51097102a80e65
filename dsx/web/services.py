"""What the web layer is handed by the composition root, and where it keeps it."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator.audit_key import AuditKey
from coordinator.health import Probe
from dsx.web.actions import StaffActions
from dsx.web.auth import StaffAuth
from dsx.web.csrf import Csrf
from dsx.web.intake import IntakeService
from dsx.web.ratelimit import RateLimiter
from dsx.web.trust import TrustExplainer


@dataclass(frozen=True)
class WebServices:
    engine: AsyncEngine  # read model queries only; writes go through ``intake``/``actions``
    intake: IntakeService
    auth: StaffAuth
    actions: StaffActions
    trust: TrustExplainer
    audit_key: AuditKey  # to verify the chain on the audit page (coordinator/audit_key.py)
    probe: Probe | None = None  # /readyz; None: only the database is checked


SERVICES: web.AppKey[WebServices] = web.AppKey("dsx_web_services", WebServices)
CSRF: web.AppKey[Csrf] = web.AppKey("dsx_web_csrf", Csrf)
LIMITER: web.AppKey[RateLimiter] = web.AppKey("dsx_web_limiter", RateLimiter)
