"""The partner workflow: room commands and reactions wired to the coordinator's use cases.

``services`` implements the commands' ``Services`` on the use cases; ``sink`` turns incoming
Matrix events into authorized commands and replies through the outbox; ``rooms`` creates
engagement rooms exactly once and resolves the outbox's logical room names.
"""
