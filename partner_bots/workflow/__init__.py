"""The partner workflow: room commands and reactions wired to the coordinator's use cases.

``sink`` turns incoming Matrix events into authorized commands (``partner_bots.commands``,
which call the core) and replies through the outbox; ``presenting`` renders and threads
for the rooms what a use case queued, inside its transaction; ``rooms`` creates
engagement rooms exactly once and resolves the outbox's logical room names.
"""
