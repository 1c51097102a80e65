"""Destructive dashboard actions ask twice, without JavaScript.

The first POST (no ``confirm`` field) only renders a page saying what will happen, with
the reason code picked from the list below; the second POST, with ``confirm=yes`` and
the session's CSRF token, acts. A code not on the list is refused before anything runs.
"""

from __future__ import annotations

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"

# (code kept in the audit log, what staff read on the confirmation page)
REFUSE_CODES: tuple[tuple[str, str], ...] = (
    ("out_of_mandate", "outside the DSX mandate"),
    ("hate_agenda", "the organization espouses hatred or division"),
    ("not_civil_society", "not a civil-society organization"),
    ("duplicate", "a duplicate of another request"),
    ("unreachable", "the organization cannot be reached"),
)
REMOVE_CODES: tuple[tuple[str, str], ...] = (
    ("conduct", "broke the code of conduct"),
    ("security_concern", "a security concern about this member"),
    ("inactive", "no longer active"),
    ("member_request", "asked to leave"),
    ("staff_removal", "other staff decision"),
)


def confirmed(form: dict[str, str]) -> bool:
    return form.get(CONFIRM_FIELD) == CONFIRM_VALUE


def listed(code: str, codes: tuple[tuple[str, str], ...]) -> bool:
    return code in {c for c, _label in codes}
