"""The web adapter: staff dashboard, public intake forms and JSON API (aiohttp, Jinja2).

It calls the coordinator's use cases and reads the store; it imports neither the
Matrix side nor nio.
"""

from coordinator.web.app import create_app, start_site
from coordinator.web.auth import NotStaff, StaffAuth
from coordinator.web.compose import WebStack, build_web
from coordinator.web.services import WebServices
from coordinator.web.settings import WebSettings

__all__ = [
    "NotStaff",
    "StaffAuth",
    "WebServices",
    "WebSettings",
    "WebStack",
    "build_web",
    "create_app",
    "start_site",
]
