"""What a notification says: its title and body for each event, in the language active when
they are written (`services.notifications` writes each recipient's row in their language)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from inquiries.complaints.rates import subject_of, title_of
from inquiries.models import ClusterEvent, EventKind, InquiryEvent

CLOCK_LABEL = {
    "first_reply": gettext_noop("first reply"),
    "next_reply": gettext_noop("next reply"),
    "resolution": gettext_noop("resolution"),
    "marketplace_reply": gettext_noop("marketplace reply"),
}
# A cluster notification's title per event, written in its recipient's language.
CLUSTER_TITLES = {
    "opened": gettext_noop("Cluster opened: %(subject)s (%(account)s)"),
    "escalated": gettext_noop("Cluster severity rose: %(subject)s (%(account)s)"),
    "acknowledged": gettext_noop("Cluster acknowledged: %(subject)s (%(account)s)"),
    "action_taken": gettext_noop("Cluster corrective action recorded: %(subject)s (%(account)s)"),
    "resolved": gettext_noop("Cluster resolved: %(subject)s (%(account)s)"),
    "members_removed": gettext_noop("Cluster re-tagged members removed: %(subject)s (%(account)s)"),
    "merged": gettext_noop("Cluster merged: the same incident as another cluster: %(subject)s (%(account)s)"),
}


def one_line(text: str, limit: int = 200) -> str:
    """Customer text in a header: no CR/LF (header injection), bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clock_text(event: InquiryEvent) -> tuple[str, str]:
    inquiry = event.inquiry
    kind = event.data.get("clock_kind", "")
    label = _(CLOCK_LABEL[kind]) if kind in CLOCK_LABEL else "SLA"
    due = event.clock.due_at if event.clock else event.at
    values = {
        "number": inquiry.pk,
        "clock": label,
        "subject": one_line(inquiry.subject, 120),
        "account": inquiry.account.name,
        "customer": inquiry.customer.address,
        "due": f"{due:%Y-%m-%d %H:%M}",
    }
    if event.kind == EventKind.CLOCK_BREACHED:
        title = _("#%(number)s %(clock)s breached: %(subject)s")
        body = _(
            "The %(clock)s clock of inquiry #%(number)s (%(account)s, customer %(customer)s) is breached; "
            "due %(due)s UTC."
        )
    else:
        title = _("#%(number)s %(clock)s at risk: %(subject)s")
        body = _(
            "The %(clock)s clock of inquiry #%(number)s (%(account)s, customer %(customer)s) is at risk; "
            "due %(due)s UTC."
        )
    return title % values, body % values


def undelivered_text(event: InquiryEvent) -> tuple[str, str]:
    inquiry = event.inquiry
    values = {
        "number": inquiry.pk,
        "subject": one_line(inquiry.subject, 120),
        "customer": inquiry.customer.address,
        "account": inquiry.account.name,
        "reason": one_line(event.data.get("reason", ""), 300),
    }
    if event.kind == EventKind.REPLY_BOUNCED:
        body = _(
            "The reply to %(customer)s on inquiry #%(number)s (%(account)s) bounced: %(reason)s. It does not "
            "count as an answer: the reply clocks run again. Send it again or edit and resend it from the "
            "inquiry page."
        )
    else:
        body = _(
            "The reply to %(customer)s on inquiry #%(number)s (%(account)s) could not be sent: %(reason)s. It "
            "does not count as an answer: the reply clocks run again. Send it again or edit and resend it "
            "from the inquiry page."
        )
    return _("#%(number)s reply not delivered: %(subject)s") % values, body % values


def cluster_title(event: ClusterEvent, subject: str) -> str:
    """ "Cluster opened: …", "Cluster severity rose: …" (never "Cluster cluster opened")."""
    wording = CLUSTER_TITLES.get(event.kind, CLUSTER_TITLES["opened"])
    return _(wording) % {"subject": subject, "account": event.cluster.account.name}


def cluster_text(event: ClusterEvent) -> tuple[str, str]:
    cluster = event.cluster
    if cluster.is_rate:
        return _ratecluster_text(event)
    topic = cluster.topic.name if cluster.topic else _("complaints")
    subject = _("%(topic)s about %(sku)s") % {"topic": topic, "sku": cluster.sku} if cluster.sku else topic
    body = ngettext(
        "%(complaints)s complaint from %(customers)s customers since %(first)s.",
        "%(complaints)s complaints from %(customers)s customers since %(first)s.",
        cluster.member_count,
    ) % {
        "complaints": cluster.member_count,
        "customers": cluster.customer_count,
        "first": f"{cluster.first_seen:%Y-%m-%d}",
    }
    return cluster_title(event, subject), body


def _ratecluster_text(event: ClusterEvent) -> tuple[str, str]:
    """A rate cluster's notification: the product or route and its rate with the definition."""
    cluster = event.cluster
    threshold = f"{cluster.rate_threshold:.2%}" if cluster.rate_threshold is not None else "-"
    body = _(
        "%(title)s over the last %(days)s days; threshold %(threshold)s. "
        "A house indicator (cstracker's definition), not a marketplace metric."
    ) % {"title": title_of(cluster), "days": cluster.rate_window_days, "threshold": threshold}
    return cluster_title(event, subject_of(cluster).name), body
