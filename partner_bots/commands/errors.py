"""The one error type the command layer returns: a code for tools, a message and an example for
people. Parsing never raises anything else to its caller."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    UNKNOWN_COMMAND = "unknown_command"
    MISSING_ARGUMENT = "missing_argument"
    BAD_VALUE = "bad_value"
    UNKNOWN_OPTION = "unknown_option"
    DUPLICATE_OPTION = "duplicate_option"
    EXTRA_ARGUMENT = "extra_argument"
    TOO_LONG = "too_long"
    UNBALANCED_QUOTE = "unbalanced_quote"
    NOT_ALLOWED = "not_allowed"
    STAFF_ONLY = "staff_only"
    UNTRUSTED_DEVICE = "untrusted_device"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class CommandError(Exception):
    """A refused command. Messages never echo the offending value: it may be personal data."""

    code: str
    message: str
    example: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def with_example(self, example: str | None) -> CommandError:
        if self.example is not None or example is None:
            return self
        return CommandError(self.code, self.message, example)
