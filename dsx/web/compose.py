"""Wiring for the composition root (``dsx run``): one call builds the app and the
sign-in service the bot hands ``!dsx login`` to."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from coordinator.config import Config
from coordinator.health import Probe
from coordinator.sealing import PublicSealer
from coordinator.usecases import Coordinator
from dsx.web.actions import StaffActions
from dsx.web.app import create_app
from dsx.web.auth import DatabaseSecretStore, StaffAuth
from dsx.web.intake import CoreIntake
from dsx.web.services import WebServices
from dsx.web.settings import WebSettings
from dsx.web.trust import CoordinatorTrust


@dataclass(frozen=True)
class WebStack:
    app: web.Application
    auth: StaffAuth  # delivery calls ``auth.create_login_link(staff)`` for !dsx login
    settings: WebSettings


def staff_auth(coordinator: Coordinator, config: Config, settings: WebSettings) -> StaffAuth:
    """Sign-in links and sessions, kept in the database: the bot role mints the links of
    ``!dsx login`` with it and the web role redeems them, in two processes."""
    return StaffAuth(
        public_url=settings.public_url,
        staff_members=config.staff.members,
        session_minutes=settings.session_minutes,
        login_link_minutes=settings.login_link_minutes,
        api_token_days=settings.api_token_days,
        # Survives restarts, shared by every web process.
        store=DatabaseSecretStore(coordinator.engine, coordinator.audit_key),
    )


def build_web(
    coordinator: Coordinator,
    config: Config,
    sealer: PublicSealer,
    *,
    settings: WebSettings | None = None,
    actions: StaffActions | None = None,
    probe: Probe | None = None,
) -> WebStack:
    """The web process gets the PUBLIC sealing key only; it cannot open what it stores."""
    settings = settings or WebSettings.from_config(config)
    auth = staff_auth(coordinator, config, settings)
    if not isinstance(sealer, PublicSealer):
        # Anything that can open blobs must never reach the web process; the submissions
        # themselves are sealed by the core with its own public key (usecases/intake.py).
        raise TypeError("the web process takes a PublicSealer (public key) only")
    intake = CoreIntake(coordinator)
    services = WebServices(
        engine=coordinator.engine,
        intake=intake,
        auth=auth,
        actions=actions or coordinator,
        trust=CoordinatorTrust(coordinator),
        probe=probe,
        audit_key=coordinator.audit_key,
    )
    return WebStack(create_app(settings, services), auth, settings)
