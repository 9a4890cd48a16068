"""Domain errors: the API's exception handler maps them to 400 and 409 answers."""

from __future__ import annotations

from django.utils.translation import gettext as _

from inquiries.reply_checks import Finding


class DomainError(Exception):
    """A request the domain refuses; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str = "non_field_errors", code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class Conflict(DomainError):
    """Valid, but it collides with the current state (another agent got there first)."""


class ReplyChecksFailed(DomainError):
    """A reply breaks marketplace messaging rules the agent has not confirmed; `findings` says which."""

    def __init__(self, findings: list[Finding], *, policy: str) -> None:
        names = ", ".join(finding.rule for finding in findings)
        super().__init__(
            _(
                "This reply may break the marketplace's messaging rules (%(policy)s): %(rules)s. "
                "Confirm each rule to send it anyway."
            )
            % {"policy": policy, "rules": names},
            field="reply_checks",
            code="reply_checks",
        )
        self.findings = findings
        self.policy = policy
