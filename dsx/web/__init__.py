"""The web adapter: staff dashboard, public intake forms and JSON API (aiohttp, Jinja2).

It calls the coordinator's use cases and reads the store; it imports neither the
Matrix side nor nio.
"""

from dsx.web.app import create_app, start_site
from dsx.web.auth import NotStaff, StaffAuth
from dsx.web.compose import WebStack, build_web
from dsx.web.services import WebServices
from dsx.web.settings import WebSettings

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
