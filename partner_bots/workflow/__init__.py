"""The partner workflow: room commands and reactions wired to the coordinator's use cases.

``sink`` turns incoming Matrix events into authorized commands (``partner_bots.commands``,
which call the core) and replies through the outbox; ``posted`` keeps proposal copies
and request threads by key; ``rooms`` renders the core's notifications at delivery,
places them in their request's thread, creates engagement rooms exactly once and
resolves the outbox's logical room names.
"""
