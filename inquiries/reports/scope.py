"""What a report covers: the accounts a user may see, the filters, the period and its time zone.

`ReportChoices.load(user)` reads, once per request, everything the user may filter by; the
form validates against those lists (so it runs no query of its own) and `ReportFilterForm.scope()`
turns valid input into a `ReportScope`, the one value every report query takes. A filter
naming an account, team, agent or channel outside the user's reach is a 404, exactly like
another team's inquiry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, cast
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404, QueryDict
from django.utils.translation import gettext, gettext_lazy

from inquiries.models import Account, Channel, Membership, Priority, SlaRollupState, Team, Topic

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django_stubs_ext import StrOrPromise

BUSINESS, CALENDAR = "business", "calendar"
HOURS_CHOICES = [(BUSINESS, gettext_lazy("Business hours")), (CALENDAR, gettext_lazy("Calendar hours"))]
TIME_GROUPS = ("day", "week")
DIMENSIONS = ("agent", "team", "channel", "topic", "account")
GROUP_BY_CHOICES = [
    ("day", gettext_lazy("Day")),
    ("week", gettext_lazy("Week")),
    ("agent", gettext_lazy("Agent")),
    ("team", gettext_lazy("Team")),
    ("channel", gettext_lazy("Channel")),
    ("topic", gettext_lazy("Topic")),
    ("account", gettext_lazy("Account")),
]
PERIOD_CHOICES = [
    ("7d", gettext_lazy("Last 7 days")),
    ("30d", gettext_lazy("Last 30 days")),
    ("90d", gettext_lazy("Last 90 days")),
    ("this_month", gettext_lazy("This month")),
    ("last_month", gettext_lazy("Last month")),
    ("custom", gettext_lazy("Custom dates")),
]
DEFAULT_PERIOD = "30d"
MAX_DAYS = 400
# Filters whose values name rows of other teams; an unknown value there is a 404, not a form error.
SCOPED_FILTERS = ("account", "team", "agent", "channel")


@dataclass(frozen=True, slots=True)
class ReportScope:
    """A resolved report request. `start`/`end` are instants (end exclusive), `tz` names the zone
    of the days; `now` is the instant "still breached" and the backlog are judged at."""

    account_ids: tuple[int, ...]
    start: datetime
    end: datetime
    first_day: date
    last_day: date
    tz: str
    now: datetime
    tz_mixed: bool = False
    # Which stored start day matches the report's days: "utc", "local" (the accounts' own zone)
    # or "" when neither does (another zone, or a window that is not whole days).
    day_field: str = ""
    hours: str = BUSINESS
    # The SLA rollup (see inquiries.reports.rollup): the first UTC day it covers and the instant
    # its states are as of; None when it has never been built.
    rollup_first_day: date | None = None
    rollup_as_of: datetime | None = None
    # (user id, account id, team id): who works which account in which team, for `team_of`.
    memberships: tuple[tuple[int, int, int], ...] = ()
    team_ids: tuple[int, ...] = ()
    agent_ids: tuple[int, ...] = ()
    channel_ids: tuple[int, ...] = ()
    topic_ids: tuple[int, ...] = ()
    priorities: tuple[str, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def team_of(self) -> dict[tuple[int, int], int]:
        return teams_of(self.memberships)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


class ScopeFilters(TypedDict, total=False):
    """The filters `make_scope` passes on to `ReportScope` (its fields of the same names)."""

    hours: str
    team_ids: tuple[int, ...]
    agent_ids: tuple[int, ...]
    channel_ids: tuple[int, ...]
    topic_ids: tuple[int, ...]
    priorities: tuple[str, ...]


def day_bounds(first_day: date, last_day: date, tz: str) -> tuple[datetime, datetime]:
    """[local midnight of first_day, local midnight after last_day): 23 or 25 h days included."""
    zone = ZoneInfo(tz)
    return (
        datetime.combine(first_day, time(0), tzinfo=zone),
        datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone),
    )


def report_timezone(accounts: list[Account]) -> tuple[str, bool]:
    """The accounts' zone when they share one; UTC (and mixed=True) when they differ."""
    zones = {account.timezone for account in accounts}
    if len(zones) == 1:
        return zones.pop(), False
    return "UTC", len(zones) > 1


def make_scope(
    *,
    accounts: list[Account],
    first_day: date,
    last_day: date,
    now: datetime,
    tz: str | None = None,
    **filters: Unpack[ScopeFilters],
) -> ReportScope:
    """A scope over `accounts` for whole days; the zone is theirs (or UTC if they differ) unless
    `tz` is given. Reads how fresh the SLA rollup is and who works the accounts (two queries)."""
    own_zone, mixed = report_timezone(accounts)
    tz = tz or own_zone
    day_field = "utc" if tz == "UTC" else "local" if tz == own_zone and not mixed else ""
    start, end = day_bounds(first_day, last_day, tz)
    rollup = SlaRollupState.objects.filter(pk=1).first()
    ids = tuple(sorted(a.pk for a in accounts))
    return ReportScope(
        account_ids=ids,
        start=start,
        end=end,
        first_day=first_day,
        last_day=last_day,
        tz=tz,
        tz_mixed=mixed and tz == "UTC",
        day_field=day_field,
        now=now,
        rollup_first_day=rollup.first_day if rollup else None,
        rollup_as_of=rollup.refreshed_at if rollup else None,
        memberships=memberships(ids),
        **filters,
    )


def memberships(account_ids: tuple[int, ...] | None = None) -> tuple[tuple[int, int, int], ...]:
    """(user id, account id, team id) for every team member working one of the accounts (all: None)."""
    rows = Membership.objects.filter(team__accounts__isnull=False)
    if account_ids is not None:
        rows = rows.filter(team__accounts__in=account_ids)
    return tuple(sorted(rows.values_list("user_id", "team__accounts", "team_id")))


def teams_of(rows: tuple[tuple[int, int, int], ...]) -> dict[tuple[int, int], int]:
    """(user id, account id) -> the lowest id among the user's teams that work the account."""
    teams: dict[tuple[int, int], int] = {}
    for user_id, account_id, team_id in rows:
        teams[(user_id, account_id)] = min(team_id, teams.get((user_id, account_id), team_id))
    return teams


def preset_days(period: str, today: date) -> tuple[date, date]:
    """First and last day of a preset period, both inclusive; "last N days" includes today."""
    if period == "this_month":
        return today.replace(day=1), today
    if period == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    days = {"7d": 7, "30d": 30, "90d": 90}[period]
    return today - timedelta(days=days - 1), today


# --- what the user may filter by ------------------------------------------------------------


def user_label(user: User) -> str:
    return user.get_full_name() or user.get_username()


@dataclass(frozen=True, slots=True)
class ReportChoices:
    """The rows a user may filter and group by, read once (five queries) and reused for labels."""

    accounts: list[Account]
    teams: list[Team]
    agents: list[User]
    channels: list[Channel]
    topics: list[Topic]
    extra_agent_labels: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, user: User | AnonymousUser) -> ReportChoices:
        accounts = list(Account.objects.visible_to(user).order_by("name", "pk"))
        ids = [a.pk for a in accounts]
        teams = Team.objects.all() if user.is_superuser else Team.objects.filter(accounts__in=ids).distinct()
        agents = get_user_model().objects.filter(memberships__team__accounts__in=ids).distinct()
        return cls(
            accounts=accounts,
            teams=list(teams.order_by("name", "pk")),
            agents=list(agents.order_by("username")),
            channels=list(Channel.objects.filter(account__in=ids).order_by("account__name", "name", "pk")),
            topics=list(Topic.objects.all()),
        )

    def labels(self, dimension: str) -> dict[int, str]:
        if dimension == "account":
            return {a.pk: a.name for a in self.accounts}
        if dimension == "team":
            return {t.pk: t.name for t in self.teams}
        if dimension == "agent":
            return {**{u.pk: user_label(u) for u in self.agents}, **self.extra_agent_labels}
        if dimension == "channel":
            return {c.pk: c.name for c in self.channels}
        if dimension == "topic":
            return {t.pk: t.name for t in self.topics}
        raise ValueError(dimension)


NONE_LABELS: dict[str, StrOrPromise] = {
    "agent": gettext_lazy("Unassigned"),
    "team": gettext_lazy("No team"),
    "topic": gettext_lazy("No topic"),
    "channel": "-",
    "account": "-",
}


# --- the form -------------------------------------------------------------------------------


class ReportFilterForm(forms.Form):
    """Report filters from a query string (page, CSV link and API alike); bookmarkable."""

    period = forms.ChoiceField(required=False, choices=PERIOD_CHOICES, label=gettext_lazy("Period"))
    account = forms.MultipleChoiceField(required=False, label=gettext_lazy("Accounts"))
    team = forms.MultipleChoiceField(required=False, label=gettext_lazy("Teams"))
    agent = forms.MultipleChoiceField(required=False, label=gettext_lazy("Agents (assignee)"))
    channel = forms.MultipleChoiceField(required=False, label=gettext_lazy("Channels"))
    topic = forms.MultipleChoiceField(required=False, label=gettext_lazy("Topics"))
    priority = forms.MultipleChoiceField(
        required=False, label=gettext_lazy("Priority"), choices=Priority.choices
    )
    hours = forms.ChoiceField(required=False, choices=HOURS_CHOICES, label=gettext_lazy("Durations in"))
    group_by = forms.ChoiceField(required=False, label=gettext_lazy("Group by"))

    def __init__(
        self, data: QueryDict, *, choices: ReportChoices, group_by: tuple[str, ...] = TIME_GROUPS
    ) -> None:
        if not data.get("period"):
            # Shown selected in the form too: custom dates when given, else the default preset.
            data = data.copy()
            data["period"] = "custom" if data.get("from") or data.get("to") else DEFAULT_PERIOD
        super().__init__(data)
        self.choices = choices
        # "from" and "to" are Python keywords, hence added here rather than declared above.
        self.fields["from"] = forms.DateField(required=False, label=gettext_lazy("From"))
        self.fields["to"] = forms.DateField(required=False, label=gettext_lazy("To (inclusive)"))
        for name in ("from", "to"):
            self.fields[name].widget.input_type = "date"
        self._choice_field("account").choices = [(str(a.pk), a.name) for a in choices.accounts]
        self._choice_field("team").choices = [(str(t.pk), t.name) for t in choices.teams]
        self._choice_field("agent").choices = [(str(u.pk), user_label(u)) for u in choices.agents]
        self._choice_field("channel").choices = [(str(c.pk), c.name) for c in choices.channels]
        self._choice_field("topic").choices = [(t.key, t.name) for t in choices.topics]
        self._choice_field("group_by").choices = [(k, v) for k, v in GROUP_BY_CHOICES if k in group_by]
        for name in (*SCOPED_FILTERS, "topic", "priority"):
            self.fields[name].widget.attrs["size"] = 4
        self.order_fields(["period", "from", "to", "hours", "group_by", *SCOPED_FILTERS, "topic", "priority"])

    def _choice_field(self, name: str) -> forms.ChoiceField:
        # `fields` holds the copies of the fields declared above, where these are choice fields.
        return cast(forms.ChoiceField, self.fields[name])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, last = data.get("from"), data.get("to")
        period = data.get("period") or ("custom" if first or last else DEFAULT_PERIOD)
        if period == "custom":
            if not first or not last:
                raise forms.ValidationError(gettext("Custom dates need both a first and a last day."))
            if first > last:
                raise forms.ValidationError(gettext("The first day is after the last day."))
            if (last - first).days >= MAX_DAYS:
                raise forms.ValidationError(
                    gettext("A report covers at most %(days)s days.") % {"days": MAX_DAYS}
                )
        data["period"] = period
        data["hours"] = data.get("hours") or BUSINESS
        data["group_by"] = data.get("group_by") or "day"
        return data

    def scope(self, now: datetime) -> ReportScope | None:
        """The scope asked for; None when the input is invalid (see `errors`).

        Raises Http404 when a filter names an account, team, agent or channel the user may not see.
        """
        if not self.is_valid():
            for name in SCOPED_FILTERS:
                if any(e.code == "invalid_choice" for e in self.errors.as_data().get(name, [])):
                    raise Http404(gettext("No such account, team, agent or channel."))
            return None
        data = self.cleaned_data
        wanted = set(data["account"])
        accounts = [a for a in self.choices.accounts if not wanted or str(a.pk) in wanted]
        tz, _ = report_timezone(accounts)
        if data["period"] == "custom":
            first_day, last_day = data["from"], data["to"]
        else:
            first_day, last_day = preset_days(data["period"], now.astimezone(ZoneInfo(tz)).date())
        topic_ids = {t.key: t.pk for t in self.choices.topics}
        return make_scope(
            accounts=accounts,
            first_day=first_day,
            last_day=last_day,
            now=now,
            hours=data["hours"],
            team_ids=_ints(data["team"]),
            agent_ids=_ints(data["agent"]),
            channel_ids=_ints(data["channel"]),
            topic_ids=tuple(sorted(topic_ids[key] for key in data["topic"])),
            priorities=tuple(sorted(data["priority"])),
        )


def _ints(values: list[str]) -> tuple[int, ...]:
    return tuple(sorted(int(v) for v in values))


def visible_accounts_of_teams(user: User | AnonymousUser, team_ids: list[int]) -> list[Account]:
    """Accounts of `team_ids` the user may see; all the user's accounts when no team is given."""
    accounts = Account.objects.visible_to(user)
    if team_ids:
        accounts = accounts.filter(Q(teams__in=team_ids)).distinct()
    return list(accounts.order_by("name", "pk"))
