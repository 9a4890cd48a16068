"""Automatic assignment's reads: each rota with its agents' availability and open load now
(`load_rotas`, which the assignment service chooses from), and per rota who can take an inquiry
now, as the queue and the admin show it."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F

from inquiries import assignment, scoping
from inquiries.models import OPEN_STATUSES, AssignmentMode, Calendar, Inquiry, Rota, RotaMember
from inquiries.selectors.calendars import business_calendar


@dataclass(frozen=True, slots=True)
class RotaState:
    team: str
    mode: str
    available: int
    why_nobody: str  # empty when someone is available


def rota_states(user: AbstractBaseUser, now: datetime) -> list[RotaState]:
    """For the queue: each rota (not off) of the user's teams, how many agents can take an
    inquiry now, and why nobody can when that is so. One query without rotas; three with."""
    rotas = list(
        scoping.scoped(Rota.objects.exclude(mode=AssignmentMode.OFF), user)
        .select_related("team", "calendar")
        .order_by("team__name")
    )
    return _rota_states(rotas, now)


def rota_state(rota: Rota, now: datetime) -> RotaState:
    """The same for one rota already read (the admin's change page)."""
    return _rota_states([rota], now)[0]


def _rota_states(rotas: list[Rota], now: datetime) -> list[RotaState]:
    if not rotas:
        return []
    loaded = load_rotas(rotas, now)
    return [
        RotaState(
            rota.team.name,
            rota.get_mode_display(),
            sum(agent.has_room for agent in loaded[rota.pk].agents),
            loaded[rota.pk].why_nobody(),
        )
        for rota in rotas
    ]


def _on_shift(calendar: Calendar | None, now: datetime) -> tuple[bool, date]:
    """Whether the calendar (a Calendar row or None: around the clock) is open at `now`, and
    today's local date on it."""
    pure = business_calendar(calendar)
    zone = zoneinfo.ZoneInfo(calendar.timezone if calendar is not None else "UTC")
    return pure.elapsed(now, now + timedelta(seconds=1)) > 0, now.astimezone(zone).date()


def load_rotas(rotas: Sequence[Rota], now: datetime) -> dict[int, assignment.Rota]:
    """Each rota with its agents' availability and open load now (two queries)."""
    members = list(
        RotaMember.objects.filter(rota__in=rotas, user__is_active=True)
        .filter(user__memberships__team_id=F("rota__team_id"))
        .select_related("calendar")
        .order_by("rota_id", "user_id")
    )
    users = {member.user_id for member in members}
    loads = dict(
        Inquiry.objects.filter(assignee__in=users, status__in=OPEN_STATUSES)
        .values_list("assignee")
        .annotate(n=Count("id"))
        .order_by()
    )
    result = {rota.pk: assignment.Rota(rota.mode, [], rota.last_assigned_id) for rota in rotas}
    by_pk = {rota.pk: rota for rota in rotas}
    for member in members:
        rota = by_pk[member.rota_id]
        on_shift, today = _on_shift(member.calendar or rota.calendar, now)
        absent = assignment.absence(
            in_rota=member.is_active,
            away_from=member.away_from,
            away_until=member.away_until,
            today=today,
            on_shift=on_shift,
        )
        capacity = member.capacity or rota.capacity
        result[rota.pk].agents.append(
            assignment.Agent(member.user_id, loads.get(member.user_id, 0), capacity, absent)
        )
    return result
