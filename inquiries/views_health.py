"""Account-health pages: the overview, an account's health as of any instant, and the plan of
action export (printable HTML, Markdown, PDF).

Accounts are reached through `health.selectors.get_account_for_user`: another team's
account is a 404 like a missing one, for the page and the exports alike.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.formats import number_format
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from inquiries import selectors as inquiry_selectors
from inquiries.health import selectors
from inquiries.health.charts import trend_chart
from inquiries.health.dates import BadDate, parse_as_of, parse_period
from inquiries.health.evidence import plan_facts
from inquiries.health.marketplace_metrics import MarketplaceFigure, Reported, Status, message_status, percent
from inquiries.health.metrics import local_date, rules_from
from inquiries.health.order_metrics import account_health_with_orders
from inquiries.health.plan import Plan, build_plan, to_markdown
from inquiries.health.scoring import (
    Band,
    HealthReport,
    MessageRef,
    Metric,
    RescueItem,
    Rules,
    Unit,
    format_value,
)
from inquiries.models import Account, HealthSnapshot, MarketplacePreset
from inquiries.sla.presets import parse_message_rules
from inquiries.views import Badge, rule_duration

TREND_DAYS = 90
BAND_BADGES = {
    Band.HEALTHY: Badge("met", gettext_lazy("Healthy"), "check"),
    Band.AT_RISK: Badge("at-risk", gettext_lazy("At risk"), "warn"),
    Band.CRITICAL: Badge("breached", gettext_lazy("Critical"), "alert"),
}
STATUS_BADGES = {
    Status.NO_DATA: Badge("none", gettext_lazy("No data"), "dash"),
    Status.HEALTHY: BAND_BADGES[Band.HEALTHY],
    Status.AT_RISK: BAND_BADGES[Band.AT_RISK],
    Status.CRITICAL: BAND_BADGES[Band.CRITICAL],
}


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Every account the user sees, with the status of its latest daily snapshot; an account
    without one yet (just created, before the hourly refresh) is computed live."""
    accounts = list(selectors.accounts_for(request.user))
    latest = selectors.latest_snapshots(accounts)
    now = timezone.now()
    rows = []
    for account in accounts:
        snapshot = latest.get(account.pk)
        if snapshot is not None:
            rows.append((account, snapshot.as_of, STATUS_BADGES[Status(snapshot.status)], False))
        else:
            live = account_health_with_orders(account, now, reasons=False)
            rows.append((account, now, STATUS_BADGES[live.status], True))
    unpoliced = inquiry_selectors.accounts_without_policy(accounts)
    return render(request, "health/overview.html", {"rows": rows, "unpoliced": unpoliced})


@require_GET
@login_required
def account_page(request: HttpRequest, pk: int) -> HttpResponse:
    """An account's health as of now (or `?as_of=`), with reasons, trends and the rescue list."""
    account = selectors.get_account_for_user(request.user, pk)
    now = timezone.now()
    error = ""
    try:
        as_of = parse_as_of(request.GET.get("as_of", ""), account.timezone, now)
    except BadDate as exc:
        as_of, error = now, str(exc)
    preset = selectors.preset_for(account)
    rules = rules_from(account, preset)
    health = account_health_with_orders(account, as_of, rules=rules)
    report = health.report
    day = local_date(as_of, account.timezone)
    history = list(selectors.snapshots(account, day - timedelta(days=TREND_DAYS - 1), day))
    first, last = parse_period("", "", account.timezone, now)
    context = {
        "account": account,
        "preset": preset,
        "rules": rules,
        "report": report,
        "status": STATUS_BADGES[health.status],
        "figures": [present_figure(f) for f in health.figures],
        "deciding": present_metrics(health.deciding, rules, history, day),
        "house": present_metrics(health.house, rules, history, day),
        "rescue": [present_rescue(item) for item in report.rescue],
        "pending": report_pending(report),
        "as_of": as_of,
        "as_of_value": request.GET.get("as_of", "") if not error else "",
        "is_now": as_of == now,
        "error": error,
        "plan_from": first.isoformat(),
        "plan_to": last.isoformat(),
        "pdf_available": pdf_available(),
        "message_rules": message_rule_views(preset),
        "rating": present_rating(health.rating, preset),
        "unpoliced": inquiry_selectors.accounts_without_policy([account]),
    }
    return render(request, "health/account.html", context, status=400 if error else 200)


# --- presentation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricView:
    metric: Metric
    value: str
    target: str
    badge: Badge
    counts: str
    chart: SafeString


@dataclass(frozen=True, slots=True)
class RescueView:
    sentence: str
    badge: Badge
    rows: list[MessageRef]
    more: int


@dataclass(frozen=True, slots=True)
class MessageRuleView:
    text: str
    source: str


def message_rule_views(preset: MarketplacePreset | None) -> list[MessageRuleView]:
    """The preset's reply targets per message type, each naming its target and whose rule it is."""
    if preset is None:
        return []
    try:
        rules = parse_message_rules(preset.message_rules)
    except ValueError:  # the clocks ignore unreadable rules too
        return []
    views = []
    for rule in rules:
        whose = (
            _("%(marketplace)s's rule") % {"marketplace": preset.name}
            if rule.definition == "marketplace"
            else _("our rule, not the marketplace's")
        )
        text = _("%(rule)s: answered within %(target)s (%(whose)s).") % {
            "rule": rule.name,
            "target": rule_duration(rule.target_seconds, business_days=rule.business_days),
            "whose": whose,
        }
        views.append(MessageRuleView(text, rule.source))
    return views


def target_text(metric: Metric) -> str:
    if metric.key == "open_clusters":
        return _("none high or critical")
    if metric.target is None:
        return _("none")
    if metric.unit == Unit.COUNT:
        return str(int(metric.target))
    value = format_value(metric.target, metric.unit)
    if metric.unit == Unit.PER_100_ORDERS:
        return _("at most %(value)s per 100 orders") % {"value": value}
    if metric.unit == Unit.PER_100_INQUIRIES:
        return _("at most %(value)s per 100 inquiries") % {"value": value}
    return _("at most %(value)s") % {"value": value}


def _count(value: int) -> str:
    """A count with the reader's thousands separator."""
    return number_format(value, force_grouping=True)


def counts_text(metric: Metric) -> str:
    numerator, denominator = _count(metric.numerator or 0), _count(metric.denominator or 0)
    if metric.unit == Unit.RATIO and metric.denominator is not None:
        return _("%(late)s late of %(counted)s") % {"late": numerator, "counted": denominator}
    if metric.unit == Unit.PER_100_ORDERS:
        return _("%(complaints)s complaints / %(total)s orders") % {
            "complaints": numerator,
            "total": denominator,
        }
    if metric.unit == Unit.PER_100_INQUIRIES:
        return _("%(complaints)s complaints / %(total)s inquiries") % {
            "complaints": numerator,
            "total": denominator,
        }
    if metric.unit == Unit.SECONDS:
        return _("%(answers)s answers") % {"answers": denominator}
    return ""


def present_metrics(
    metrics: tuple[Metric, ...], rules: Rules, history: list[HealthSnapshot], day: date
) -> list[MetricView]:
    days = [day - timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1)]
    values: dict[str, dict[date, float | None]] = {}
    for snapshot in history:
        for stored in snapshot.metrics:
            values.setdefault(stored.get("key", ""), {})[snapshot.date] = stored.get("value")
    views = []
    for metric in metrics:
        series = values.get(metric.key, {})
        series[day] = metric.value  # the trend ends at the value shown
        points = [(d, series.get(d)) for d in days]
        chart = trend_chart(
            points,
            chart_id=f"trend-{metric.key}",
            title=_("%(metric)s, last %(days)d days") % {"metric": metric.label, "days": TREND_DAYS},
            target=metric.target if metric.unit != Unit.COUNT else None,
            at_risk_ratio=rules.at_risk_ratio,
            fmt=lambda v, unit=metric.unit: format_value(v, unit) if v else "0",
        )
        views.append(
            MetricView(
                metric=metric,
                value=format_value(metric.value, metric.unit),
                target=target_text(metric),
                badge=STATUS_BADGES[message_status(metric.value, metric.status.value)],
                counts=counts_text(metric),
                chart=mark_safe(chart),
            )
        )
    return views


@dataclass(frozen=True, slots=True)
class FigureView:
    figure: MarketplaceFigure
    value: str
    target: str
    badge: Badge
    counts: str
    window: str
    reported: str


def present_figure(figure: MarketplaceFigure) -> FigureView:
    """A marketplace metric from orders: its value, the counts behind it, its window in words."""
    counts, definition = figure.counts, figure.definition
    first = counts.window_start.date()
    numbers = {"failing": _count(counts.numerator), "total": _count(counts.denominator)}
    if definition.anchor == "shipped":
        counted = _("%(failing)s of %(total)s packages") % numbers
    else:
        counted = _("%(failing)s of %(total)s orders") % numbers
    window = _("%(days)d days from %(first)s, by %(anchor)s") % {
        "days": counts.window_days,
        "first": format_date(first, _("j M Y")),
        "anchor": definition.anchor_text,
    }
    return FigureView(
        figure=figure,
        value=percent(figure.value),
        target=definition.target_text,
        badge=STATUS_BADGES[figure.status],
        counts=counted,
        window=window,
        reported=percent(figure.reported.value) if figure.reported else "",
    )


@dataclass(frozen=True, slots=True)
class RatingView:
    value: str
    badge: Badge
    bands: str
    reported: Reported


def present_rating(rating: Reported | None, preset: MarketplacePreset | None) -> RatingView | None:
    """Amazon's Account Health Rating as imported, in the preset's bands (shown, never computed)."""
    if rating is None or rating.value is None or preset is None or not preset.rating_healthy_from:
        return None
    healthy, at_risk = preset.rating_healthy_from, preset.rating_at_risk_from or 0
    status = (
        Status.HEALTHY
        if rating.value >= healthy
        else Status.AT_RISK
        if rating.value >= at_risk
        else Status.CRITICAL
    )
    return RatingView(
        value=f"{rating.value:.0f}",
        badge=STATUS_BADGES[status],
        bands=_("%(healthy)s+ healthy, %(at_risk)s-%(below)s at risk, %(critical)s and below critical")
        % {"healthy": healthy, "at_risk": at_risk, "below": healthy - 1, "critical": at_risk - 1},
        reported=rating,
    )


def present_rescue(item: RescueItem) -> RescueView:
    rows = list(item.messages[:25])
    return RescueView(
        sentence=item.sentence,
        badge=BAND_BADGES[item.to_status],
        rows=rows,
        more=item.message_count - len(rows),
    )


def report_pending(report: HealthReport) -> list[MessageRef]:
    """The next deadlines not already in the rescue list."""
    seen = {m.message_id for item in report.rescue for m in item.messages}
    return [m for m in report.upcoming if m.message_id not in seen][:10]


# --- plan of action -----------------------------------------------------------------------


def _plan(request: HttpRequest, pk: int) -> tuple[Account, Plan]:
    account = selectors.get_account_for_user(request.user, pk)
    now = timezone.now()
    try:
        first, last = parse_period(
            request.GET.get("from", ""), request.GET.get("to", ""), account.timezone, now
        )
    except BadDate as exc:
        raise Http404(str(exc)) from None
    facts = plan_facts(
        account,
        first,
        last,
        now=now,
        seller_actions=request.GET.get("actions", "")[:5000],
        seller_measures=request.GET.get("measures", "")[:5000],
    )
    return account, build_plan(facts)


def _filename(account: Account, plan: Plan, extension: str) -> str:
    period = plan.period.replace(" ", "-").lower()
    return f"plan-of-action-{slugify(account.name) or account.pk}-{period}.{extension}"


@require_GET
@login_required
def plan(request: HttpRequest, pk: int) -> HttpResponse:
    """The plan of action as a printable page."""
    account, built = _plan(request, pk)
    query = request.GET.urlencode()
    return render(
        request,
        "health/plan.html",
        {
            "account": account,
            "plan": built,
            "query": query,
            "screen": True,
            "pdf_available": pdf_available(),
        },
    )


@require_GET
@login_required
def plan_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    account, built = _plan(request, pk)
    response = HttpResponse(to_markdown(built), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, _filename(account, built, "md"))
    return response


@require_GET
@login_required
def plan_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    if not pdf_available():
        raise Http404(_("PDF export needs WeasyPrint, which is not installed."))
    account, built = _plan(request, pk)
    html = render_to_string("health/plan.html", {"account": account, "plan": built, "screen": False}, request)
    response = HttpResponse(render_pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, _filename(account, built, "pdf"))
    return response


@functools.cache
def pdf_available() -> bool:
    """Whether WeasyPrint and the system libraries it loads (Pango) are there; checked once."""
    if importlib.util.find_spec("weasyprint") is None:
        return False
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def render_pdf(html: str) -> bytes:
    """HTML to PDF with WeasyPrint, fetching nothing: the template inlines its CSS."""
    import weasyprint

    def refuse(url: str, *args: object, **kwargs: object) -> dict:
        raise ValueError(f"external resources are not fetched: {url[:60]}")

    return weasyprint.HTML(string=html, url_fetcher=refuse).write_pdf()
