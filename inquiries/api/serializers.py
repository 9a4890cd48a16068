"""API serializers. Input serializers are strict: wrong types are errors, not coerced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inquiries.api.permissions import ScopedSerializer
from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.html import bound_html, html_to_text, sanitize_html
from inquiries.ingestion.limits import CONTROL_RE
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.models import (
    Account,
    Channel,
    Clock,
    ClockState,
    Customer,
    Inquiry,
    InquiryEvent,
    Message,
    Status,
    Team,
    Topic,
)
from inquiries.selectors.marketplace_rules import clock_calendar
from inquiries.services.recording import Held
from inquiries.sla.presets import parse_relay_senders

MAX_BODY = 1_000_000


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and other non-strings instead of converting them."""

    default_error_messages = {
        "invalid": gettext_lazy("Must be a string."),
        "surrogate": gettext_lazy("Must be valid Unicode text (lone surrogate code points are not allowed)."),
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        # JSON's "\ud800" escape decodes to a lone surrogate that no database can store.
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": gettext_lazy("Must be true or false.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeField(serializers.Field):
    """ISO 8601 with a UTC offset; a timestamp without one is ambiguous and refused."""

    default_error_messages = {
        "invalid": gettext_lazy(
            "Must be an ISO 8601 timestamp with a UTC offset, e.g. 2026-11-26T09:30:00+01:00."
        ),
        "naive": gettext_lazy("The timestamp has no UTC offset; add one, e.g. +00:00 or Z."),
    }

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        try:
            value = parse_datetime(data.strip())
        except ValueError:
            value = None
        if value is None:
            self.fail("invalid")
        if timezone.is_naive(value):
            self.fail("naive")
        return value

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


def _text(max_length: int, **kwargs: Any) -> StrictCharField:
    return StrictCharField(
        max_length=max_length,
        # DRF fills in {max_length} (as in its own messages), in the request's language.
        error_messages={"max_length": gettext_lazy("At most {max_length} characters.")},
        **kwargs,
    )


class SenderSerializer(serializers.Serializer):
    address = _text(320, required=False, allow_blank=True, default="")
    name = _text(200, required=False, allow_blank=True, default="")

    def validate_address(self, value: str) -> str:
        error = sender_error(value)
        if error:
            raise serializers.ValidationError(error[0].upper() + error[1:] + ".")
        return value

    def validate_name(self, value: str) -> str:
        if CONTROL_RE.search(value):
            raise serializers.ValidationError(gettext("A name has no line breaks or control characters."))
        return value


class MessageInSerializer(serializers.Serializer):
    """One message pushed by an integration; `to_incoming()` turns it into an IncomingMessage."""

    channel = _text(64)
    external_id = _text(255)
    direction = serializers.ChoiceField(choices=[d.value for d in Direction])
    automatic = StrictBooleanField(required=False, default=False)
    sender = SenderSerializer(required=False)
    subject = _text(998, required=False, allow_blank=True, default="")
    body_text = _text(MAX_BODY, required=False, allow_blank=True, default="", trim_whitespace=False)
    body_html = _text(MAX_BODY, required=False, allow_blank=True, default="", trim_whitespace=False)
    thread_id = _text(255, required=False, allow_blank=True, default="")
    in_reply_to = _text(255, required=False, allow_blank=True, default="")
    received_at = AwareDateTimeField(required=False)
    order_id = _text(100, required=False, allow_blank=True, default="")
    sku = _text(100, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(
        choices=Status.values,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the conversation stood after this message (history from another system).",
    )
    solved_at = AwareDateTimeField(
        required=False,
        help_text="When the conversation was solved or closed; alone it means status solved.",
    )

    def validate_channel(self, value: str) -> Channel:
        channels: dict[str, Channel | None] = self.context["channels"]
        if value not in channels:
            channels[value] = (
                Channel.objects.select_related("account")
                .filter(slug=value, account__in=Account.objects.visible_to(self.context["request"].user))
                .first()
            )
        channel = channels[value]
        if channel is None:
            raise serializers.ValidationError(gettext("Unknown channel %(channel)r.") % {"channel": value})
        if not channel.is_active:
            raise serializers.ValidationError(
                gettext("Channel %(channel)r is inactive.") % {"channel": value}
            )
        return channel

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("body_text") and not attrs.get("body_html"):
            raise serializers.ValidationError({"body_text": gettext("Give body_text, body_html or both.")})
        if not attrs.get("body_text", "").strip() and not html_to_text(attrs.get("body_html", "")):
            raise serializers.ValidationError(
                {"body_text": gettext("The body is only white space: give the message's text.")}
            )
        sender = attrs.get("sender") or {}
        if (
            attrs["direction"] == Direction.INBOUND
            and not attrs.get("automatic")
            and not sender.get("address")
        ):
            raise serializers.ValidationError({"sender": gettext("A customer message needs sender.address.")})
        solved_at = attrs.get("solved_at")
        if solved_at is not None:
            if attrs.get("status") and attrs["status"] not in (Status.SOLVED, Status.CLOSED):
                raise serializers.ValidationError(
                    {
                        "solved_at": gettext("Given with status %(status)r: only solved or closed has one.")
                        % {"status": attrs["status"]}
                    }
                )
            if attrs.get("received_at") is not None and solved_at < attrs["received_at"]:
                raise serializers.ValidationError({"solved_at": gettext("Before the message's received_at.")})
        return attrs

    def to_incoming(self, data: dict[str, Any] | None = None) -> tuple[Channel, IncomingMessage]:
        """The validated data (this serializer's, or `data` from `run_validation`) as a message."""
        data = self.validated_data if data is None else data
        sender = data.get("sender") or {}
        body_html = sanitize_html(data["body_html"]) if data["body_html"] else ""
        body_text = data["body_text"]
        if not body_text and body_html:
            body_text = html_to_text(data["body_html"])
        return data["channel"], IncomingMessage(
            external_id=data["external_id"],
            direction=Direction(data["direction"]),
            sender_address=sender.get("address", ""),
            sender_name=sender.get("name", ""),
            subject=data["subject"],
            body_text=body_text,
            body_html=body_html,
            received_at=data.get("received_at"),
            automatic=data["automatic"],
            automatic_reason="marked automatic by the sender" if data["automatic"] else "",
            thread_id=data["thread_id"],
            in_reply_to=data["in_reply_to"],
            order_id=data["order_id"],
            sku=data["sku"],
            status=data.get("status", ""),
            solved_at=data.get("solved_at"),
            notes=bound_html(data["body_html"]).notes if data["body_html"] else (),
        )


@extend_schema_field(MessageInSerializer(many=True))
class MessageItemsField(serializers.ListField):
    """The batch's items, left unvalidated here: the view validates each one on its own, so a
    malformed item (even one that is not an object) rejects only itself."""

    child = serializers.JSONField(allow_null=True)


class BatchInSerializer(serializers.Serializer):
    messages = MessageItemsField(
        allow_empty=False,
        max_length=1000,
        error_messages={"max_length": gettext_lazy("At most {max_length} messages per batch.")},
    )


class RecordedSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    inquiry_id = serializers.IntegerField(allow_null=True)
    created = serializers.BooleanField()


class HeldSerializer(serializers.Serializer):
    """An agent's reply or note whose parent message has not arrived: held, and recorded into its
    parent's inquiry as soon as the parent arrives (by any route), or expired after some days."""

    held_id = serializers.IntegerField(help_text="The held message (Admin > Held messages).")
    waits_for = serializers.ListField(
        child=serializers.CharField(), help_text="The message ids it waits for (in_reply_to, references)."
    )
    thread_id = serializers.CharField(help_text='The thread id it waits for ("" for none).')
    expires_at = serializers.DateTimeField(help_text="Held until then if its parent never arrives.")
    created = serializers.BooleanField(help_text="False for another copy of an id already held.")


def held_body(outcome: Held) -> dict[str, Any]:
    return {
        "held_id": outcome.held.pk,
        "waits_for": list(outcome.waits_for),
        "thread_id": outcome.thread_id,
        "expires_at": outcome.held.expires_at.isoformat(),
        "created": outcome.created,
    }


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.IntegerField(
        help_text="201 created, 200 duplicate, 202 held (a reply or note whose parent message has not "
        "arrived: recorded when it does), 400 rejected"
    )
    message_id = serializers.IntegerField(required=False)
    inquiry_id = serializers.IntegerField(required=False, allow_null=True)
    created = serializers.BooleanField(required=False)
    held_id = serializers.IntegerField(required=False, help_text="With status 202.")
    waits_for = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="With status 202: the message ids it waits for.",
    )
    thread_id = serializers.CharField(
        required=False, help_text="With status 202: the thread id it waits for."
    )
    expires_at = serializers.DateTimeField(required=False, help_text="With status 202.")
    errors = serializers.DictField(required=False)  # type: ignore[assignment]  # djangorestframework-stubs: the serializer metaclass takes declared fields out of the class, so one named like a Field attribute overrides nothing


class BatchResultSerializer(serializers.Serializer):
    results = BatchItemResultSerializer(many=True)


# --- read side -------------------------------------------------------------------------


def clock_elapsed_seconds(clock: Clock, now: datetime | None = None) -> int | None:
    """Business seconds counted so far (or at the stop), excluding paused time."""
    if clock.elapsed_seconds is not None:
        return clock.elapsed_seconds
    now = now or timezone.now()
    at = clock.paused_at if clock.state == ClockState.PAUSED and clock.paused_at else now
    calendar = clock_calendar(clock)
    if at <= clock.started_at:
        return 0
    return max(0, calendar.elapsed(clock.started_at, at) - clock.paused_business_seconds)


class ClockSerializer(serializers.ModelSerializer):
    elapsed_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Clock
        fields = [
            "kind",
            "state",
            "started_at",
            "due_at",
            "stopped_at",
            "target_seconds",
            "rule_name",
            "elapsed_seconds",
        ]

    def get_elapsed_seconds(self, clock: Clock) -> int | None:
        return clock_elapsed_seconds(clock, now=self.context.get("now"))


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "address", "name"]


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "external_id",
            "direction",
            "automatic",
            "automatic_reason",
            "sender_address",
            "sender_name",
            "subject",
            "body_text",
            "body_html",
            "sent_at",
            "received_at",
            "answered_at",
            "response_due_at",
            "no_response_needed",
            "order_id",
            "sku",
            "delivery_state",
            "delivery_error",
            "accepted_at",
        ]


class InquiryListSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer()
    channel: serializers.SlugRelatedField[Channel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    topic: serializers.SlugRelatedField[Topic] = serializers.SlugRelatedField(
        slug_field="key", read_only=True
    )
    assignee: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Inquiry
        fields = [
            "id",
            "account",
            "channel",
            "customer",
            "subject",
            "status",
            "priority",
            "topic",
            "assignee",
            "team",
            "order_id",
            "sku",
            "opened_at",
            "last_inbound_at",
            "last_reply_at",
            "reply_delivery",
            "solved_at",
            "updated_at",
        ]


class InquiryDetailSerializer(InquiryListSerializer):
    messages = MessageSerializer(many=True, read_only=True)
    clocks = ClockSerializer(many=True, read_only=True)

    class Meta(InquiryListSerializer.Meta):
        fields = [*InquiryListSerializer.Meta.fields, "previous", "clocks", "messages"]


class EventSerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = InquiryEvent
        fields = ["id", "kind", "at", "recorded_at", "actor", "message", "clock", "data"]


NO_POLICY_WARNING = gettext_lazy(
    "No active SLA policy applies to this account: its inquiries run no first-reply, next-reply or "
    "resolution clock. Create one (or restore its default policy)."
)


class AccountSerializer(ScopedSerializer):
    has_sla_policy = serializers.SerializerMethodField(
        help_text="Whether any active SLA policy may apply to the account's inquiries."
    )
    warnings = serializers.SerializerMethodField(help_text="What the account is missing, in words.")

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "marketplace",
            "timezone",
            "reply_target_seconds",
            "reply_calendar",
            "is_active",
            "history_starts_on",
            "has_sla_policy",
            "warnings",
        ]

    def _has_policy(self, account: Account) -> bool:
        flag = getattr(account, "has_sla_policy", None)
        if flag is None:  # an instance not read through the view's queryset (an update)
            flag = not Account.objects.without_sla_policy().filter(pk=account.pk).exists()
        return bool(flag)

    def get_has_sla_policy(self, account: Account) -> bool:
        return self._has_policy(account)

    def get_warnings(self, account: Account) -> list[str]:
        return [] if self._has_policy(account) else [str(NO_POLICY_WARNING)]


class TeamSerializer(ScopedSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "accounts"]


class ChannelSerializer(ScopedSerializer):
    class Meta:
        model = Channel
        fields = [
            "id",
            "account",
            "slug",
            "name",
            "kind",
            "is_active",
            "address",
            "marketplace_senders",
            "reply_bcc_address",
        ]

    def validate_marketplace_senders(self, value: str) -> str:
        try:
            parse_relay_senders(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value
