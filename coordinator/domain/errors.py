"""Typed domain errors: a stable machine code for tools plus a message for people.

The Matrix bot shows both to users, so messages name the problem and, where it helps,
what to do next; they never contain organization personal data.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refused operation; nothing was written."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class NotFound(DomainError):
    def __init__(self, what: str, ident: str):
        super().__init__(f"unknown_{what}", f"No {what.replace('_', ' ')} with id {ident!r}.")


class Forbidden(NotFound):
    """Something that exists but is not the caller's to see or change.

    Its code and message are exactly those of ``NotFound``, so a refusal reveals nothing
    (not even existence); ``reason`` is for the audit log only, never shown.
    """

    def __init__(self, what: str, ident: str, reason: str):
        super().__init__(what, ident)
        self.reason = reason


class Refused(DomainError):
    """A caller who may not do this at all, whatever they name (staff answering a
    proposal in a partner's name). Nothing is hidden by it, so it has its own code;
    like ``Forbidden`` it is audited, ``reason`` for the audit log only."""

    def __init__(self, code: str, message: str, reason: str):
        super().__init__(code, message)
        self.reason = reason


class IllegalTransition(DomainError):
    """A state machine was asked for a transition it does not allow."""

    def __init__(self, machine: str, current: str, target: str):
        self.machine = machine
        self.current = current
        self.target = target
        super().__init__(
            "illegal_transition",
            f"A {machine} that is {current} cannot become {target}.",
        )


class InvalidInput(DomainError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__("invalid_input", f"{field}: {message}")
