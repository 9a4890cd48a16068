"""Account-health pages: the overview, an account's health as of any instant, and the plan of
action export (printable HTML, Markdown, PDF).

Accounts are reached through `selectors.health.accounts.get_account_for_user`: another team's
account is a 404 like a missing one, for the page and the exports alike.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from inquiries.health.appeal import (
    LATE_RESPONSES,
    Appeal,
    Notice,
    build_appeal,
    missing_text,
    to_markdown,
)
from inquiries.health.charts import trend_chart
from inquiries.health.dates import BadDate, day_bounds, local_date, parse_as_of, parse_period
from inquiries.health.marketplace_metrics import (
    MarketplaceFigure,
    Reported,
    Status,
    definitions_for,
    message_status,
    percent,
    reported_text,
)
from inquiries.health.scoring import (
    Band,
    HealthReport,
    MessageRef,
    Metric,
    RescueItem,
    Rules,
    Unit,
    format_value,
    worst,
)
from inquiries.models import Account, HealthSnapshot, MarketplacePreset
from inquiries.reports.export import neutralise
from inquiries.selectors.health.accounts import (
    accounts_for,
    get_account_for_user,
    latest_snapshots,
    preset_for,
    snapshots,
)
from inquiries.selectors.health.annex import annex_csv_rows
from inquiries.selectors.health.evidence import appeal_facts, late_csv_rows
from inquiries.selectors.health.metrics import rules_from
from inquiries.selectors.health.order_metrics import account_health_with_orders
from inquiries.selectors.queue import accounts_without_policy
from inquiries.sla.presets import parse_message_rules
from inquiries.views.badges import Badge, rule_duration
from inquiries.views.http import AuthedRequest, attachment_header
from inquiries.words import in_sentence

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
def overview(request: AuthedRequest) -> HttpResponse:
    """Every account the user sees, with the status of its latest daily snapshot; an account
    without one yet (just created, before the hourly refresh) is computed live."""
    accounts = list(accounts_for(request.user))
    latest = latest_snapshots(accounts)
    now = timezone.now()
    rows = []
    for account in accounts:
        snapshot = latest.get(account.pk)
        if snapshot is not None:
            rows.append((account, snapshot.as_of, STATUS_BADGES[Status(snapshot.status)], False))
        else:
            live = account_health_with_orders(account, now, reasons=False)
            rows.append((account, now, STATUS_BADGES[live.status], True))
    unpoliced = accounts_without_policy(accounts)
    return render(request, "health/overview.html", {"rows": rows, "unpoliced": unpoliced})


@require_GET
@login_required
def account_page(request: AuthedRequest, pk: int) -> HttpResponse:
    """An account's health as of now (or `?as_of=`), with reasons, trends and the rescue list."""
    account = get_account_for_user(request.user, pk)
    now = timezone.now()
    error = ""
    try:
        as_of = parse_as_of(request.GET.get("as_of", ""), account.timezone, now)
    except BadDate as exc:
        as_of, error = now, str(exc)
    preset = preset_for(account)
    rules = rules_from(account, preset)
    health = account_health_with_orders(account, as_of, rules=rules)
    report = health.report
    day = local_date(as_of, account.timezone)
    history = list(snapshots(account, day - timedelta(days=TREND_DAYS - 1), day))
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
        "preset_words": preset_words(preset),
        "rating": present_rating(health.rating, preset),
        "unpoliced": accounts_without_policy([account]),
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
            "rule": _(rule.name),
            "target": rule_duration(rule.target_seconds, business_days=rule.business_days),
            "whose": whose,
        }
        views.append(MessageRuleView(text, rule.source))
    return views


def preset_words(preset: MarketplacePreset | None) -> dict[str, str]:
    """The preset's reply rule and notes in the reader's language: the seeded texts are in the
    catalogues (`marketplaces.py`); an admin's own wording shows as written."""
    if preset is None:
        return {"rule": "", "notes": ""}
    return {
        "rule": _(preset.reply_rule) if preset.reply_rule else "",
        "notes": _(preset.notes) if preset.notes else "",
    }


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


def _axis_figure(value: float, unit: Unit) -> str:
    """A figure on a trend chart's axis: zero reads "0", not "no data"."""
    return format_value(value, unit) if value else "0"


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
            fmt=functools.partial(_axis_figure, unit=metric.unit),
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
    reported: str  # the marketplace's figure over the same orders, in words ("" when none was imported)


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
        reported=reported_text(figure.reported, definition.population) if figure.reported else "",
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
        badge=rescue_badge(item),
        rows=rows,
        more=item.message_count - len(rows),
    )


def rescue_badge(item: RescueItem) -> Badge:
    """The badge beside a sentence of the "Answer first" box: the metric that sentence moves and
    the move ("A-to-z claim risks: critical → healthy"), in the colour of the worse band (what is
    at stake). A bare band there read as the state of whatever the sentence named: "Healthy"
    beside "an A-to-z claim on it can be granted" (the band answering would reach)."""
    at_stake = BAND_BADGES[worst((item.from_status, item.to_status))]
    label = _("%(metric)s: %(from_band)s → %(to_band)s") % {
        "metric": item.metric_label,
        "from_band": in_sentence(_(item.from_status.label)),
        "to_band": in_sentence(_(item.to_status.label)),
    }
    return Badge(at_stake.key, label, at_stake.icon)


def report_pending(report: HealthReport) -> list[MessageRef]:
    """The next deadlines not already in the rescue list."""
    seen = {m.message_id for item in report.rescue for m in item.messages}
    return [m for m in report.upcoming if m.message_id not in seen][:10]


# --- plan of action -----------------------------------------------------------------------


EDIT_SUFFIXES = ("-root", "-action", "-measure")
PLAN_FORM_FIELDS = ("from", "to", "notice", "notice_date", "skus")
EDIT_LENGTH = 5000


def _data(request: AuthedRequest) -> QueryDict:
    """The plan's fields: a link (GET) or the edit form, posted because a seller's text per
    cause outgrows what a URL may carry (gunicorn refuses request lines over 4 KB)."""
    return request.POST if request.method == "POST" else request.GET


def _edits(request: AuthedRequest) -> dict[str, str]:
    """The seller's text per cause block (`<cause>-root`, `-action`, `-measure`), bounded."""
    data = _data(request)
    return {
        key: data.get(key, "")[:EDIT_LENGTH]
        for key in list(data)[:200]
        if key.endswith(EDIT_SUFFIXES) and len(key) <= 80
    }


class BadPlanInput(ValueError):
    pass


def _notice(request: AuthedRequest) -> Notice:
    data = _data(request)
    day_text = data.get("notice_date", "").strip()
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise BadPlanInput(
            _("notice_date: %(value)s is not a date (YYYY-MM-DD)") % {"value": day_text[:40]}
        ) from None
    return Notice(
        reference=data.get("notice", "")[:500],
        day=day,
        items=data.get("skus", "")[:2000],
    )


def _period(request: AuthedRequest, account: Account, now: datetime) -> tuple[date, date]:
    """The plan's period from `from` and `to` (local days); a bad one is a 404, as before."""
    try:
        data = _data(request)
        return parse_period(data.get("from", ""), data.get("to", ""), account.timezone, now)
    except BadDate as exc:
        raise Http404(str(exc)) from None


def _plan(request: AuthedRequest, pk: int) -> tuple[Account, Appeal]:
    account = get_account_for_user(request.user, pk)
    now = timezone.now()
    first, last = _period(request, account, now)
    facts = appeal_facts(account, first, last, now=now, notice=_notice(request), edits=_edits(request))
    return account, build_appeal(facts)


def _filename(account: Account, appeal: Appeal, extension: str) -> str:
    period = appeal.plan.period.replace(" ", "-").lower()
    return f"plan-of-action-{slugify(account.name) or account.pk}-{period}.{extension}"


def _plan_context(account: Account, appeal: Appeal) -> dict[str, object]:
    return {
        "account": account,
        "plan": appeal.plan,
        "appeal": appeal,
        "missing": {part: missing_text(part) for part in ("root", "action", "measure")},
    }


def _bad_input(exc: BadPlanInput) -> HttpResponse:
    return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")


@require_http_methods(["GET", "POST"])
@login_required
def plan(request: AuthedRequest, pk: int) -> HttpResponse:
    """The plan of action as a printable page, with a form to edit each cause's text."""
    try:
        account, appeal = _plan(request, pk)
    except BadPlanInput as exc:
        return _bad_input(exc)
    data = _data(request)
    context = _plan_context(account, appeal) | {
        "period_query": urlencode({"from": data.get("from", ""), "to": data.get("to", "")}),
        "screen": True,
        "pdf_available": pdf_available(),
        "form": {name: data.get(name, "") for name in PLAN_FORM_FIELDS},
    }
    return render(request, "health/plan.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def plan_markdown(request: AuthedRequest, pk: int) -> HttpResponse:
    try:
        account, appeal = _plan(request, pk)
    except BadPlanInput as exc:
        return _bad_input(exc)
    response = HttpResponse(to_markdown(appeal), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = attachment_header(_filename(account, appeal, "md"))
    return response


@require_http_methods(["GET", "POST"])
@login_required
def plan_pdf(request: AuthedRequest, pk: int) -> HttpResponse:
    if not pdf_available():
        raise Http404(_("PDF export needs WeasyPrint, which is not installed."))
    try:
        account, appeal = _plan(request, pk)
    except BadPlanInput as exc:
        return _bad_input(exc)
    html = render_to_string("health/plan.html", _plan_context(account, appeal) | {"screen": False}, request)
    response = HttpResponse(render_pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = attachment_header(_filename(account, appeal, "pdf"))
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
def plan_annex_csv(request: AuthedRequest, pk: int, metric: str) -> StreamingHttpResponse:
    """The full list behind one annex table: the orders failing a marketplace metric at the end of
    the plan's period, or (`late_responses`) the period's late messages."""
    account = get_account_for_user(request.user, pk)
    now = timezone.now()
    first, last = _period(request, account, now)
    definition = next((d for d in definitions_for(account.marketplace) if d.key == metric), None)
    if metric == LATE_RESPONSES:
        source: Iterator[list[object]] = late_csv_rows(account, first, last, now=now)
    elif definition is not None:
        end = min(day_bounds(last, account.timezone)[1], now)
        source = annex_csv_rows(account, definition, end)
    else:
        raise Http404(_("No such metric for this account's marketplace."))
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    rows = (writer.writerow([neutralise(cell) for cell in row]) for row in source)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    name = f"annex-{slugify(account.name) or account.pk}-{metric}-{last.isoformat()}.csv"
    response["Content-Disposition"] = attachment_header(name)
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
