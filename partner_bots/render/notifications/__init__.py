"""One renderer per notification kind: the core's typed values as Matrix content.

The core queues what happened (``coordinator.notifications``); delivery decodes the row,
resolves the rooms it names, and calls the kind's renderer here, at send time. A renderer
gets the value and ``Where`` it goes, and returns event content; nothing else writes the
text of a core notification. Adding a kind: docs/architecture.md, "Adding a notification
kind".
"""

from __future__ import annotations

from partner_bots.render.notifications import cases, engagements, proposals, staff
from partner_bots.render.notifications.registry import RENDERERS, Where, render, renders

__all__ = ["RENDERERS", "Where", "cases", "engagements", "proposals", "render", "renders", "staff"]
