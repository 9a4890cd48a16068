"""Domain errors: the API's exception handler maps them to 400 and 409 answers."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str = "non_field_errors", code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class Conflict(DomainError):
    """Valid, but it collides with the current state (another agent got there first)."""
