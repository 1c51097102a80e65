"""The DSX coordination service: domain, use cases, routing, storage, web and CLI.

The core (domain, use cases, store, routing) imports neither ``partner_bots`` nor the
web layer; only the composition root in ``dsx.cli`` knows every part.
"""

from coordinator.version import current as _current

__version__ = _current()
