"""Macros: saving them (admin and API), and sending a reply written from one.

Sending from a macro is the same reply and the same property changes an agent makes by
hand: one transaction, and each action writes the event its manual counterpart writes
(status, priority and topic changes), with the macro named in the reply's event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inquiries.models import Inquiry, Macro, Message
from inquiries.services import actions
from inquiries.services.errors import DomainError


@transaction.atomic
def save_macro(*, macro: Macro, author: User) -> Macro:
    """Save a new or changed macro. A macro for no team is personal: its owner is its author."""
    if macro.team_id is None and macro.owner_id is None:
        macro.owner = author
    if macro.team_id is not None:
        macro.owner = None
    try:
        macro.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=field if field != "__all__" else "non_field_errors") from None
    macro.save()
    return macro


@transaction.atomic
def delete_macro(*, macro: Macro) -> None:
    macro.delete()


@transaction.atomic
def reply_with_macro(
    *,
    inquiry: Inquiry,
    author: User,
    body_text: str,
    macro: Macro | None,
    body_html: str = "",
    status: str | None = None,
    confirmed_checks: Iterable[str] = (),
    now: datetime | None = None,
) -> Message:
    """Send a public reply, then apply the macro's actions (topic, priority, status).

    `macro` must be one the author may use (the caller got it through `selectors.macros.macros_for`).
    The reply text is the agent's, as edited after the macro filled it in. A status chosen in
    the reply box wins over the macro's.
    """
    now = now or timezone.now()
    status = status or (macro.set_status if macro is not None else "") or None
    message = actions.reply(
        inquiry=inquiry,
        author=author,
        body_text=body_text,
        body_html=body_html,
        status=status,
        confirmed_checks=confirmed_checks,
        macro_id=macro.pk if macro is not None else None,
        now=now,
    )
    if macro is None:
        return message
    if macro.set_topic_id is not None:
        actions.change_topic(inquiry=inquiry, topic=macro.set_topic, actor=author, now=now)
    if macro.set_priority:
        actions.change_priority(inquiry=inquiry, priority=macro.set_priority, actor=author, now=now)
    return message
