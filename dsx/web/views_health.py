"""``/healthz`` (the process answers) and ``/readyz`` (it can do its job), for probes.

Both answer JSON without ids, rooms or users, so a proxy may expose them; neither
needs a session. Metrics are served on their own loopback port (``[metrics]``), not here.
The bot role of ``dsx run`` has no web app: it answers the same two paths beside
``/metrics`` on that port (:func:`probe_routes`).
"""

from __future__ import annotations

from aiohttp import web

from coordinator import __version__
from coordinator.health import Probe, Readiness, database_check
from dsx.web.services import SERVICES

routes = web.RouteTableDef()
NO_STORE = {"Cache-Control": "no-store"}


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Alive, and which release (the same as ``dsx --version`` and ``/source``)."""
    return web.json_response({"alive": True, "version": __version__}, headers=NO_STORE)


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if services.probe is not None:
        readiness = await services.probe.readiness()
    else:
        readiness = Readiness((await database_check(services.engine),))
    return _answer(readiness)


def _answer(readiness: Readiness) -> web.Response:
    return web.json_response(
        readiness.to_dict(), status=200 if readiness.ready else 503, headers=NO_STORE
    )


def probe_routes(probe: Probe) -> list[web.RouteDef]:
    """``/healthz`` and ``/readyz`` of a process without the web app (the bot role)."""

    async def ready(request: web.Request) -> web.Response:
        return _answer(await probe.readiness())

    return [web.get("/healthz", healthz), web.get("/readyz", ready)]
