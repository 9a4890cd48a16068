"""The inquiry page and its actions: the thread, clocks and timeline, reply and note, claim,
properties, the linked order, "no response needed", attachments and inline images.

Every view reaches inquiries through `get_inquiry_for_user` (`selectors.inquiry`), so another
team's inquiry is a 404 exactly like a missing one, for pages and POSTs alike. Writes call one
service per inquiry and redirect (post/redirect/get).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from inquiries import display, macro_text, services
from inquiries.forms import NoteForm, OrderForm, PropertiesForm, ReplyForm
from inquiries.ingestion.email import safe_filename
from inquiries.models import (
    ACTIVE_CLOCK_STATES,
    Account,
    Attachment,
    ChannelKind,
    Clock,
    ClockKind,
    ClockState,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Priority,
    Status,
    Topic,
)
from inquiries.reply_checks import Finding
from inquiries.selectors import inquiry as inquiry_selectors
from inquiries.selectors.clusters import clusters_for_inquiry
from inquiries.selectors.inquiry import (
    attachment_for,
    customer_inquiries,
    get_inquiry_for_user,
    inquiry_page_for,
    timeline,
)
from inquiries.selectors.macros import macro_values, macros_for
from inquiries.selectors.people import assignable_users
from inquiries.services import macros, mail, outbox
from inquiries.views.badges import CLOCK_BADGES, Badge, countdown, rule_duration, show_on
from inquiries.views.http import AuthedRequest, attachment_header


@require_GET
@login_required
def detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """The inquiry page; `?resend=<reply id>` puts a failed reply's text in the reply form to edit."""
    inquiry = get_inquiry_for_user(request.user, pk, inquiry_page_for(request.user))
    failed = next((m for m in inquiry.messages.all() if str(m.pk) == request.GET.get("resend")), None)
    forms = {}
    if failed is not None and failed.delivery_state in (
        Message.DeliveryState.FAILED,
        Message.DeliveryState.BOUNCED,
    ):
        forms["reply_form"] = ReplyForm(initial={"body_text": failed.body_text})
    return render(request, "inquiries/detail.html", _detail_context(request, inquiry, **forms))


INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
INLINE_IMAGE_SECONDS = 3600
_CID_SRC_RE = re.compile(r'src="cid:([^"]+)"')


def _with_inline_images(inquiry: Inquiry) -> list[Message]:
    """The thread, each message's HTML with its `cid:` images pointed at signed URLs.

    The formatted version is shown in a sandboxed frame with an opaque origin, which sends no
    session cookie; a short-lived signed URL lets it load the mail's own pictures and nothing else.
    """
    signer = signing.TimestampSigner(salt="inline-image")
    thread = list(inquiry.messages.all())
    for message in thread:
        if "cid:" not in message.body_html:
            continue
        images = {
            unquote(a.content_id).strip("<>"): a.pk
            for a in message.attachments.all()
            if a.content_id and a.content_type.split(";")[0].strip().lower() in INLINE_IMAGE_TYPES
        }

        def point(match: re.Match[str], images: dict[str, int] = images) -> str:
            key = html.unescape(match.group(1)).strip("<>")
            if key not in images:
                return match.group(0)
            token = signer.sign(f"{inquiry.pk}:{images[key]}")
            url = reverse("inquiries:inline-image", args=[inquiry.pk, images[key], token])
            return f'src="{html.escape(url)}"'

        message.body_html = _CID_SRC_RE.sub(point, message.body_html)
    return thread


@require_GET
def inline_image(request: HttpRequest, pk: int, attachment_pk: int, token: str) -> HttpResponse:
    """A picture of a mail, for its formatted version: the signed URL is the permission."""
    try:
        value = signing.TimestampSigner(salt="inline-image").unsign(token, max_age=INLINE_IMAGE_SECONDS)
    except signing.BadSignature:
        raise Http404(_("No such image.")) from None
    if value != f"{pk}:{attachment_pk}":
        raise Http404(_("No such image."))
    item = inquiry_selectors.inline_image(pk, attachment_pk, INLINE_IMAGE_TYPES)
    response = HttpResponse(_stored_bytes(item), content_type=item.content_type.split(";")[0].strip().lower())
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = f"private, max-age={INLINE_IMAGE_SECONDS}"
    return response


def _detail_context(request: AuthedRequest, inquiry: Inquiry, **forms: object) -> dict[str, object]:
    now = timezone.now()
    topics = list(Topic.objects.all())
    users = assignable_users(request.user, inquiry.account_id)
    if inquiry.assignee is not None and inquiry.assignee not in users:
        users.append(inquiry.assignee)
    clocks = list(inquiry.clocks.all())
    for clock in clocks:
        _present_clock(clock, now, inquiry.account)
    thread = _with_inline_images(inquiry)
    for message in thread:
        _present_delivery(message, inquiry.channel.kind)
    names = {u.pk: u.get_username() for u in users}
    topic_names = {t.key: t.name for t in topics}
    events = [(event, _describe(event, names, topic_names)) for event in timeline(inquiry)]
    initial: dict[str, object] = {
        "status": inquiry.status,
        "priority": inquiry.priority,
        "topic": inquiry.topic.key if inquiry.topic else "",
        "assignee": inquiry.assignee_id,
    }
    first_words = next((m.body_text for m in thread if m.direction == Direction.INBOUND), "")
    return {
        "inquiry": inquiry,
        "title": display.title(inquiry.subject, first_words, empty=_("(no subject)")),
        "inquiry_clusters": clusters_for_inquiry(inquiry),
        "thread": thread,
        "clocks": clocks,
        "events": events,
        "others": customer_inquiries(request.user, inquiry),
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "macros": _macro_choices(request.user, inquiry),
        "note_form": forms.get("note_form") or NoteForm(),
        "properties_form": PropertiesForm(initial=initial, users=users, topics=topics),
        "can_claim": inquiry.assignee_id is None,
        "has_reply_clocks": any(
            c.state in ACTIVE_CLOCK_STATES and c.kind != ClockKind.RESOLUTION for c in clocks
        ),
    }


def _macro_choices(user: User, inquiry: Inquiry) -> list[dict[str, object]]:
    """The picker's macros, each filled in for this inquiry (two queries, whatever the count)."""
    rows = list(macros_for(user, inquiry).select_related("set_topic"))
    if not rows:
        return []
    values = macro_values(inquiry, user)
    statuses, priorities = dict(Status.choices), dict(Priority.choices)
    choices = []
    for macro in rows:
        actions = [
            f"status: {statuses[macro.set_status]}" if macro.set_status else "",
            f"priority: {priorities[macro.set_priority]}" if macro.set_priority else "",
            f"topic: {macro.set_topic.name}" if macro.set_topic else "",
        ]
        choices.append(
            {
                "pk": macro.pk,
                "name": macro.name,
                "scope": "personal" if macro.owner_id else "team",
                "text": macro_text.render(macro.body, values).text,
                "actions": ", ".join(a for a in actions if a),
            }
        )
    return choices


DELIVERY_TAGS: dict[str, tuple[str, str]] = {
    Message.DeliveryState.QUEUED: ("waiting", "clock"),
    Message.DeliveryState.SENT: ("ok", "check"),
    Message.DeliveryState.DELIVERED: ("ok", "check"),
    Message.DeliveryState.FAILED: ("failed", "cross"),
    Message.DeliveryState.BOUNCED: ("failed", "cross"),
}


def _present_delivery(message: Message, channel_kind: str) -> None:
    """The delivery tag of a reply written here: what it says, and whether it can be sent again."""
    state = message.delivery_state
    if message.direction != Direction.OUTBOUND or state not in DELIVERY_TAGS:
        show_on(message, delivery_tag=None, can_resend=False)
        return
    email = channel_kind == ChannelKind.EMAIL
    labels: dict[str, str] = {
        Message.DeliveryState.QUEUED: _("Not delivered yet: sending by e-mail")
        if email
        else _("Not delivered yet: waiting for the integration"),
        Message.DeliveryState.SENT: _("Accepted by the mail server") if email else _("Accepted for delivery"),
        Message.DeliveryState.DELIVERED: _("Delivered"),
        Message.DeliveryState.FAILED: _("Not delivered"),
        Message.DeliveryState.BOUNCED: _("Bounced"),
    }
    key, icon = DELIVERY_TAGS[state]
    show_on(
        message,
        delivery_tag=Badge(key, labels[state], icon),
        can_resend=state in (Message.DeliveryState.FAILED, Message.DeliveryState.BOUNCED),
    )


def marketplace_clock_rule(clock: Clock, account: Account) -> str:
    """Which rule set a marketplace clock's target: "Walmart: Regulator complaint, 1h"."""
    from inquiries.selectors.marketplace_rules import preset_rule

    rule = preset_rule(account.marketplace, clock.rule_name)
    if rule is None:
        name = clock.rule_name or _("general target")
        duration = rule_duration(clock.target_seconds, business_days=False)
    else:
        name, duration = rule.name, rule_duration(clock.target_seconds, business_days=rule.business_days)
    return _("%(marketplace)s: %(rule)s, %(target)s") % {
        "marketplace": account.get_marketplace_display(),
        "rule": name,
        "target": duration,
    }


def _present_clock(clock: Clock, now: datetime, account: Account) -> None:
    is_live = clock.state in ACTIVE_CLOCK_STATES
    # Target and elapsed time count on the clock's calendar: business hours stay hours.
    business = clock.calendar is not None and not clock.calendar.is_24x7
    suffix = _("business hours")
    elapsed = clock.elapsed_seconds
    took = display.target_duration(elapsed, business=business, suffix=suffix) if elapsed is not None else ""
    is_market = clock.kind == ClockKind.MARKETPLACE_REPLY
    show_on(
        clock,
        badge=CLOCK_BADGES[ClockState(clock.state)],
        is_live=is_live,
        countdown=countdown(clock.due_at, now) if is_live else "",
        target=display.target_duration(clock.target_seconds, business=business, suffix=suffix),
        took=took,
        rule_label=marketplace_clock_rule(clock, account) if is_market else "",
    )


def _describe(event: InquiryEvent, names: dict[int, str], topics: dict[str, str]) -> str:
    """One line of the timeline, from the event's facts."""
    data = event.data or {}
    kind = event.kind
    if kind in (EventKind.STATUS_CHANGED, EventKind.PRIORITY_CHANGED):
        labels = dict(Status.choices) | dict(Priority.choices)
        before, after = (labels.get(data.get(k) or "", "?") for k in ("from", "to"))
        return f"{event.get_kind_display()}: {before} → {after}"
    if kind == EventKind.TOPIC_CHANGED:
        before, after = (topics.get(data.get(k) or "", _("none")) for k in ("from", "to"))
        return _("Topic changed: %(before)s → %(after)s") % {"before": before, "after": after}
    if kind == EventKind.ORDER_CHANGED:
        order = data.get("to") or {}
        return _("Order set to %(order)s, SKU %(sku)s") % {
            "order": order.get("order_id") or _("none"),
            "sku": order.get("sku") or _("none"),
        }
    if kind == EventKind.ASSIGNED:
        to = data.get("to")
        who = names.get(to, _("user #%(number)s") % {"number": to}) if to else _("nobody")
        if data.get("claimed"):
            return _("Claimed by %(name)s") % {"name": who}
        if data.get("auto"):
            return _("Assigned to %(name)s automatically (%(reason)s)") % {
                "name": who,
                "reason": data.get("reason", ""),
            }
        return _("Assigned to %(name)s") % {"name": who}
    if kind == EventKind.NO_RESPONSE_NEEDED:
        count = data.get("messages", 0)
        text = ngettext(
            "Marked no response needed (%(count)d message excluded)",
            "Marked no response needed (%(count)d messages excluded)",
            count,
        )
        return text % {"count": count}
    if kind in (EventKind.REPLY_FAILED, EventKind.REPLY_BOUNCED) and data.get("reason"):
        return f"{event.get_kind_display()}: {data['reason']}"
    if data.get("clock_kind") in ClockKind.values:
        text = f"{event.get_kind_display()}: {ClockKind(data['clock_kind']).label}"
        return (
            _("%(text)s (reply not delivered)") % {"text": text}
            if data.get("reason") == "reply not delivered"
            else text
        )
    return event.get_kind_display()


def _back_to(request: AuthedRequest, inquiry: Inquiry) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(target)
    return redirect("inquiries:detail", pk=inquiry.pk)


def _inquiry(request: AuthedRequest, pk: int) -> Inquiry:
    return get_inquiry_for_user(request.user, pk)


@require_POST
@login_required
def reply(request: AuthedRequest, pk: int, internal: bool = False) -> HttpResponse:
    """A public reply (optionally from a macro, followed by a status) or, with `internal`, a note.

    A reply that trips the marketplace's messaging rules comes back with the warnings and a
    checkbox per rule; it is sent once the agent has ticked each one."""
    inquiry = _inquiry(request, pk)
    form = (NoteForm if internal else ReplyForm)(request.POST)
    findings: list[Finding] = []
    if form.is_valid():
        try:
            _send(request, inquiry, form.cleaned_data, internal)
        except services.ReplyChecksFailed as exc:
            findings = exc.findings
        except services.DomainError as exc:
            form.add_error("body_text", exc.message)
        else:
            done = (
                _("Note added.")
                if internal
                else _("Reply queued: it answers the customer once it is delivered.")
            )
            messages.success(request, done)
            return redirect("inquiries:detail", pk=inquiry.pk)
    inquiry = get_inquiry_for_user(request.user, pk, inquiry_page_for(request.user))
    key = "note_form" if internal else "reply_form"
    context = _detail_context(request, inquiry, **{key: form})
    context["reply_findings"] = findings
    return render(request, "inquiries/detail.html", context, status=400)


def _send(request: AuthedRequest, inquiry: Inquiry, data: Mapping[str, Any], internal: bool) -> None:
    """Send the reply or note of a valid form (`data`: its cleaned data)."""
    if internal:
        services.reply(inquiry=inquiry, author=request.user, body_text=data["body_text"], internal=True)
        return
    macro = None
    if data.get("macro"):
        macro = macros_for(request.user, inquiry).filter(pk=data["macro"]).first()
        if macro is None:
            raise services.DomainError(_("That macro is not one of yours or your team's."), field="body_text")
    macros.reply_with_macro(
        inquiry=inquiry,
        author=request.user,
        body_text=data["body_text"],
        macro=macro,
        status=data.get("status") or None,
        confirmed_checks=data.get("confirm") or (),
    )


@require_POST
@login_required
def retry_reply(request: AuthedRequest, pk: int, message_pk: int) -> HttpResponse:
    """Send a failed or bounced reply again, unchanged: by e-mail, or back to the outbox."""
    inquiry = _inquiry(request, pk)
    reply = inquiry.messages.filter(pk=message_pk, direction=Direction.OUTBOUND).first()
    if reply is None:
        raise Http404(_("No such reply."))
    if inquiry.channel.kind == ChannelKind.EMAIL:
        if mail.retry_failed(message=reply, actor=request.user):
            messages.success(request, _("Sending the reply again."))
        else:
            messages.warning(request, _("This reply cannot be sent again: it is not failed or bounced."))
    elif outbox.put_back(message=reply, actor=request.user):
        messages.success(request, _("The reply is back in the outbox: it waits for the integration again."))
    else:
        messages.warning(request, _("This reply cannot be sent again: it is not failed or bounced."))
    return redirect("inquiries:detail", pk=inquiry.pk)


@require_POST
@login_required
def update(request: AuthedRequest, pk: int) -> HttpResponse:
    """Status, priority, topic and assignee: a service call for each field that changed."""
    inquiry = _inquiry(request, pk)
    topics = list(Topic.objects.all())
    users = assignable_users(request.user, inquiry.account_id)
    if inquiry.assignee is not None and inquiry.assignee not in users:
        users.append(inquiry.assignee)
    form = PropertiesForm(request.POST, users=users, topics=topics)
    if not form.is_valid():
        messages.error(request, _("Please choose valid values."))
        return redirect("inquiries:detail", pk=inquiry.pk)
    data, now, actor = form.cleaned_data, timezone.now(), request.user
    try:
        with transaction.atomic():  # all the changes or none
            if data["priority"] != inquiry.priority:
                inquiry = services.change_priority(
                    inquiry=inquiry, priority=data["priority"], actor=actor, now=now
                )
            if (data["topic"] or None) != (inquiry.topic.key if inquiry.topic else None):
                topic = next((t for t in topics if t.key == data["topic"]), None)
                inquiry = services.change_topic(inquiry=inquiry, topic=topic, actor=actor, now=now)
            if data["assignee"] != inquiry.assignee_id:
                assignee = next((u for u in users if u.pk == data["assignee"]), None)
                inquiry = services.assign(inquiry=inquiry, assignee=assignee, actor=actor, now=now)
            if data["status"] != inquiry.status:
                inquiry = services.change_status(inquiry=inquiry, status=data["status"], actor=actor, now=now)
    except services.DomainError as exc:
        # For example the assignee lost access to the account since the page was loaded.
        messages.error(request, _("Nothing changed: %(error)s") % {"error": exc.message})
        return redirect("inquiries:detail", pk=pk)
    messages.success(request, _("Inquiry updated."))
    return redirect("inquiries:detail", pk=inquiry.pk)


@require_POST
@login_required
def set_order(request: AuthedRequest, pk: int) -> HttpResponse:
    """The order id and SKU an agent sets or corrects on the inquiry page."""
    inquiry = _inquiry(request, pk)
    form = OrderForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[f].label}: {' '.join(map(str, e))}" for f, e in form.errors.items())
        messages.error(request, _("Nothing changed: %(reason)s") % {"reason": errors})
        return redirect("inquiries:detail", pk=pk)
    try:
        inquiry = services.set_order(
            inquiry=inquiry,
            order_id=form.cleaned_data["order_id"],
            sku=form.cleaned_data["sku"],
            actor=request.user,
        )
    except services.DomainError as exc:
        messages.error(request, _("Nothing changed: %(reason)s") % {"reason": exc.message})
        return redirect("inquiries:detail", pk=pk)
    if inquiry.order_id and inquiry.linked_order_id is None:
        messages.success(
            request,
            _("Order set to %(order)s; no order with that id is on file for this account yet.")
            % {"order": inquiry.order_id},
        )
    else:
        messages.success(request, _("Order and SKU updated."))
    return redirect("inquiries:detail", pk=inquiry.pk)


@require_POST
@login_required
def claim(request: AuthedRequest, pk: int) -> HttpResponse:
    """Take the inquiry; when someone was faster, say who has it."""
    inquiry = _inquiry(request, pk)
    try:
        services.claim(inquiry=inquiry, user=request.user)
    except services.Conflict as exc:
        messages.error(request, f"#{inquiry.pk}: {exc.message}")
    else:
        messages.success(request, _("#%(number)d is yours.") % {"number": inquiry.pk})
    return _back_to(request, inquiry)


@require_POST
@login_required
def no_response_needed(request: AuthedRequest, pk: int) -> HttpResponse:
    inquiry = _inquiry(request, pk)
    count = services.mark_no_response_needed(inquiry=inquiry, actor=request.user)
    text = ngettext(
        "Marked no response needed: %(count)d message excluded, reply clocks stopped.",
        "Marked no response needed: %(count)d messages excluded, reply clocks stopped.",
        count,
    )
    messages.success(request, text % {"count": count})
    return redirect("inquiries:detail", pk=inquiry.pk)


@require_GET
@login_required
def attachment(request: AuthedRequest, pk: int, attachment_pk: int) -> HttpResponse:
    """Always a download: customer files are never rendered in our origin."""
    item = attachment_for(request.user, pk, attachment_pk)
    response = HttpResponse(_stored_bytes(item), content_type="application/octet-stream")
    # Named again by today's rules: rows stored before a rule was added are served safely too.
    filename = safe_filename(item.filename, index=item.pk, content_type=item.content_type)
    response["Content-Disposition"] = attachment_header(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def _stored_bytes(item: Attachment) -> bytes:
    """An attachment's bytes: the selectors return only attachments whose content is stored."""
    assert item.content is not None, "the selectors filter on content__isnull=False"
    return bytes(item.content)
