"""Forms of the agent's pages: they parse input; the services decide what is allowed.

Choices are passed in as lists already read by the view, so rendering and validating a
form never runs a query of its own (the pages' query counts are pinned in tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inquiries.models import OPEN_STATUSES, Account, Channel, Marketplace, Priority, Status, Topic
from inquiries.reply_checks import RULE_NAMES
from inquiries.selectors.queue import QueueFilters, Urgency
from inquiries.services.actions import MAX_BODY

ANY = ("", gettext_lazy("Any"))


def _user_label(user: User) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's own copy of a declared choice field, to set its choices: `form.fields` is
    typed as plain fields."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField), f"{name} is not a choice field"
    return field


class QueueFilterForm(forms.Form):
    """The queue's filters, read from the query string so that a bookmark is a saved view."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label=gettext_lazy("Search"),
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": gettext_lazy("Subject, message, customer or order id"),
                "accesskey": "s",
            }
        ),
    )
    account = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=gettext_lazy("Account")
    )
    channel = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=gettext_lazy("Channel")
    )
    marketplace = forms.ChoiceField(
        required=False, label=gettext_lazy("Marketplace"), choices=[ANY, *Marketplace.choices]
    )
    status = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Status"),
        choices=[("", gettext_lazy("Any open")), *Status.choices, ("all", gettext_lazy("All, closed too"))],
    )
    topic = forms.ChoiceField(required=False, label=gettext_lazy("Topic"))
    priority = forms.ChoiceField(
        required=False, label=gettext_lazy("Priority"), choices=[ANY, *Priority.choices]
    )
    assignee = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Assignee"),
        choices=[
            ("", gettext_lazy("Anyone")),
            ("me", gettext_lazy("Me")),
            ("none", gettext_lazy("Unassigned")),
        ],
    )
    clock = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Clock"),
        choices=[
            ANY,
            ("breached", gettext_lazy("Breached")),
            ("at_risk", gettext_lazy("At risk")),
            ("rescue", gettext_lazy("On a rescue list")),
        ],
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        *,
        accounts: Sequence[Account],
        channels: Sequence[Channel],
        topics: Sequence[Topic],
    ) -> None:
        super().__init__(data)
        choice_field(self, "account").choices = [ANY, *((a.pk, a.name) for a in accounts)]
        choice_field(self, "channel").choices = [
            ANY,
            *((c.pk, f"{c.account.name}: {c.name}") for c in channels),
        ]
        choice_field(self, "topic").choices = [
            ANY,
            ("none", _("No topic")),
            *((t.key, t.name) for t in topics),
        ]

    def filters(self) -> QueueFilters:
        """The valid filters; a value that is not a choice (another team's account...) is ignored."""
        self.is_valid()
        data = self.cleaned_data
        status = data.get("status") or ""
        statuses = tuple(OPEN_STATUSES) if status == "" else () if status == "all" else (status,)
        clock = data.get("clock") or ""
        return QueueFilters(
            account=data.get("account"),
            channel=data.get("channel"),
            marketplace=data.get("marketplace") or "",
            statuses=statuses,
            topic=data.get("topic") or "",
            priority=data.get("priority") or "",
            assignee=data.get("assignee") or "",
            urgency={"breached": Urgency.BREACHED, "at_risk": Urgency.AT_RISK}.get(clock),
            q=data.get("q") or "",
            rescue=clock == "rescue",
        )


@dataclass(frozen=True, slots=True)
class BulkAction:
    kind: str  # "assign", "status", "priority" or "topic"
    value: str  # a user id, "me", "none", a status, a priority or a topic key


class BulkForm(forms.Form):
    """One action for the selected inquiries, encoded as "kind:value" in a single select."""

    action = forms.ChoiceField(label=gettext_lazy("Bulk action"), required=False)
    quick = forms.ChoiceField(
        required=False, choices=[("assign:me", gettext_lazy("Assign to me"))]
    )  # the one-click button
    ids = forms.Field(widget=forms.MultipleHiddenInput, required=False)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        users: Iterable[User] = (),
        topics: Iterable[Topic] = (),
    ) -> None:
        super().__init__(data)
        assign = [("assign:me", _("Assign to me")), ("assign:none", _("Unassign"))]
        assign += [(f"assign:{u.pk}", _("Assign to %(name)s") % {"name": _user_label(u)}) for u in users]
        choice_field(self, "action").choices = [
            ("", _("Choose an action…")),
            (_("Assign"), assign),
            (
                _("Status"),
                [
                    (f"status:{value}", _("Set status: %(value)s") % {"value": label})
                    for value, label in Status.choices
                ],
            ),
            (
                _("Priority"),
                [
                    (f"priority:{value}", _("Set priority: %(value)s") % {"value": label})
                    for value, label in Priority.choices
                ],
            ),
            (_("Topic"), [(f"topic:{t.key}", _("Set topic: %(value)s") % {"value": t.name}) for t in topics]),
        ]

    def clean_ids(self) -> list[int]:
        raw = self.cleaned_data.get("ids") or []
        try:
            ids = sorted({int(value) for value in raw})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Invalid selection.")) from None
        if not ids:
            raise forms.ValidationError(_("Select at least one inquiry."))
        return ids

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        data["action"] = data.get("quick") or data.get("action")
        if not data["action"] and "action" not in self.errors:
            self.add_error("action", _("Choose an action."))
        return data

    def bulk_action(self) -> BulkAction:
        kind, _sep, value = self.cleaned_data["action"].partition(":")
        return BulkAction(kind, value)


class ReplyForm(forms.Form):
    body_text = forms.CharField(
        label=gettext_lazy("Reply to the customer"),
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": gettext_lazy("The reply is empty.")},
    )
    status = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Then set status"),
        choices=[("", gettext_lazy("Keep (new becomes open)")), *Status.choices],
    )
    # Set by the macro picker: the macro whose actions are applied on send.
    macro = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    # The marketplace rules the agent confirmed after seeing the warnings (reply_checks).
    confirm = forms.MultipleChoiceField(
        required=False,
        choices=[(name, name) for name in sorted(RULE_NAMES)],
        widget=forms.CheckboxSelectMultiple,
    )


class NoteForm(forms.Form):
    body_text = forms.CharField(
        label=gettext_lazy("Internal note (never sent to the customer)"),
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": gettext_lazy("The note is empty.")},
    )

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, auto_id="note_%s")  # the reply form on the same page owns id_body_text


class PropertiesForm(forms.Form):
    """Status, priority, topic and assignee of one inquiry; each change is its own service call."""

    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=Status.choices)
    priority = forms.ChoiceField(label=gettext_lazy("Priority"), choices=Priority.choices)
    topic = forms.ChoiceField(label=gettext_lazy("Topic"), required=False)
    assignee = forms.TypedChoiceField(
        label=gettext_lazy("Assignee"), required=False, coerce=int, empty_value=None
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        initial: dict[str, object] | None = None,
        users: Iterable[User] = (),
        topics: Iterable[Topic] = (),
    ) -> None:
        super().__init__(data, initial=initial)
        choice_field(self, "topic").choices = [("", _("No topic")), *((t.key, t.name) for t in topics)]
        choice_field(self, "assignee").choices = [
            ("", _("Unassigned")),
            *((u.pk, _user_label(u)) for u in users),
        ]


class OrderForm(forms.Form):
    """The order id and SKU of an inquiry, as an agent sets or corrects them (empty: none)."""

    order_id = forms.CharField(label=gettext_lazy("Order id"), max_length=100, required=False, strip=True)
    sku = forms.CharField(label=gettext_lazy("SKU"), max_length=100, required=False, strip=True)
