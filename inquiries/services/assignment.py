"""Automatic assignment: arrivals get an agent from their team's rota, and a periodic task
hands on the open inquiries of agents who went off (out of office, end of shift).

Routing: an inquiry goes to the rota of its own team when it has one, else to the rota (not
off) of the lowest-id team that works its account. The choice itself is pure
(`inquiries.assignment`); the rotas' state is read by `selectors.assignment.load_rotas`; here
we write the result.

Set-based: a batch of arrivals costs a fixed number of queries (the inquiries, the routing,
the rotas, their members, the members' loads, then one UPDATE per chosen agent and one
INSERT of events), however many messages and agents there are.

Concurrency: each run locks the rotas it uses (SELECT ... FOR UPDATE, in id order) before it
counts loads, so two arrivals at once are assigned one after the other and never both take
an agent's last free slot; the inquiries themselves are locked with SKIP LOCKED and updated
only while still unassigned (or still with the agent going off), so a claim in between wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inquiries import assignment
from inquiries.models import (
    OPEN_STATUSES,
    AssignmentMode,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Rota,
    RotaMember,
    Team,
)
from inquiries.selectors.assignment import load_rotas

# The periodic task looks at this many waiting inquiries per run, oldest first.
HAND_ON_BATCH = 500


@dataclass(frozen=True, slots=True)
class Waiting:
    pk: int
    account_id: int
    team_id: int | None
    assignee_id: int | None


def _routes(rows: Sequence[Waiting]) -> dict[int, int]:
    """Inquiry id -> rota id, for the inquiries some rota (not off) covers."""
    accounts = {row.account_id for row in rows}
    teams = {row.team_id for row in rows if row.team_id is not None}
    by_team: dict[int, int] = {}
    by_account: dict[int, int] = {}
    links = (
        Rota.objects.exclude(mode=AssignmentMode.OFF)
        .filter(Q(team__in=teams) | Q(team__accounts__in=accounts))
        .values_list("pk", "team_id", "team__accounts")
        .order_by("team_id")
    )
    for rota_id, team_id, account_id in links:
        by_team[team_id] = rota_id
        if account_id is not None:
            by_account.setdefault(account_id, rota_id)
    routes = {}
    for row in rows:
        route = by_team.get(row.team_id) if row.team_id is not None else by_account.get(row.account_id)
        if route is not None:
            routes[row.pk] = route
    return routes


def _run(rows: Sequence[Waiting], now: datetime, reason: str) -> list[Waiting]:
    """Assign `rows` (already locked) through their rotas; returns the rows given an agent."""
    routes = _routes(rows)
    if not routes:
        return []
    rotas = list(
        Rota.objects.select_for_update(of=("self",))
        .select_related("calendar")
        .filter(pk__in=set(routes.values()))
        .order_by("pk")
    )
    pure = load_rotas(rotas, now)
    chosen: dict[int, int] = {}
    for row in rows:
        state = pure.get(routes.get(row.pk, 0))
        agent = state.pick() if state is not None else None
        if agent is not None:
            chosen[row.pk] = agent.user_id
    _write(rows, chosen, now, reason, {rota.pk: rota.mode for rota in rotas}, routes)
    for rota in rotas:
        if pure[rota.pk].last_user_id != rota.last_assigned_id:
            Rota.objects.filter(pk=rota.pk).update(last_assigned=pure[rota.pk].last_user_id)
    return [row for row in rows if row.pk in chosen]


def _write(
    rows: Sequence[Waiting],
    chosen: dict[int, int],
    now: datetime,
    reason: str,
    modes: dict[int, str],
    routes: dict[int, int],
) -> None:
    by_agent: dict[int, list[int]] = defaultdict(list)
    for pk, user_id in chosen.items():
        by_agent[user_id].append(pk)
    for user_id, pks in sorted(by_agent.items()):
        Inquiry.objects.filter(pk__in=pks).update(assignee_id=user_id, updated_at=now)
    _events([(row, chosen[row.pk], modes[routes[row.pk]]) for row in rows if row.pk in chosen], now, reason)


def _events(changes: Sequence[tuple[Waiting, int | None, str]], now: datetime, reason: str) -> None:
    """One `assigned` event per (row, new assignee, mode), no actor: the rota did it."""
    InquiryEvent.objects.bulk_create(
        InquiryEvent(
            inquiry_id=row.pk,
            kind=EventKind.ASSIGNED,
            at=now,
            data={"from": row.assignee_id, "to": to, "auto": auto, "reason": reason},
        )
        for row, to, auto in changes
    )


def _waiting(queryset: Iterable[tuple[int, int, int | None, int | None]]) -> list[Waiting]:
    return [Waiting(*values) for values in queryset]


def assign_for_messages(*, message_ids: Sequence[int], now: datetime | None = None) -> int:
    """`assign_arrivals` for the inquiries of these customer messages (one query when no team
    assigns automatically)."""
    if not Rota.objects.exclude(mode=AssignmentMode.OFF).exists():
        return 0
    inquiry_ids = Message.objects.filter(pk__in=message_ids, inquiry__isnull=False).values_list(
        "inquiry_id", flat=True
    )
    return assign_arrivals(inquiry_ids=sorted(set(inquiry_ids)), now=now)


@transaction.atomic
def assign_arrivals(*, inquiry_ids: Sequence[int], now: datetime | None = None) -> int:
    """Give each still unassigned open inquiry of `inquiry_ids` an available agent of its rota.
    Runs after commit from the recording engine's follow-up task; returns how many were assigned."""
    now = now or timezone.now()
    rows = _waiting(
        Inquiry.objects.select_for_update(skip_locked=True)
        .filter(pk__in=inquiry_ids, assignee__isnull=True, status__in=OPEN_STATUSES)
        .order_by("pk")
        .values_list("pk", "account_id", "team_id", "assignee_id")
    )
    return len(_run(rows, now, "arrival")) if rows else 0


@transaction.atomic
def hand_on(*, now: datetime | None = None) -> int:
    """The periodic pass: open inquiries of agents now out of office or off shift go to an
    available agent of the same rota (out of office with nobody free: back to the queue; off
    shift with nobody free: they stay); unassigned ones that waited (nobody was free, or their
    arrival task was lost) are assigned. Returns how many inquiries moved."""
    now = now or timezone.now()
    rotas = list(Rota.objects.exclude(mode=AssignmentMode.OFF).select_related("calendar").order_by("pk"))
    if not rotas:
        return 0
    away: set[int] = set()
    off: set[int] = set()
    for rota in load_rotas(rotas, now).values():
        for agent in rota.agents:
            if agent.absent == assignment.AWAY:
                away.add(agent.user_id)
            elif agent.absent == assignment.OFF_SHIFT:
                off.add(agent.user_id)
    accounts = Team.accounts.through.objects.filter(team__rota__in=rotas).values("account_id")
    rows = _waiting(
        Inquiry.objects.select_for_update(skip_locked=True)
        .filter(account__in=accounts, status__in=OPEN_STATUSES)
        .filter(Q(assignee__isnull=True) | Q(assignee__in=away | off))
        .order_by("pk")
        .values_list("pk", "account_id", "team_id", "assignee_id")[:HAND_ON_BATCH]
    )
    if not rows:
        return 0
    moved = {row.pk for row in _run(rows, now, "hand on")}
    back = [row for row in rows if row.pk not in moved and row.assignee_id in away]
    if back:
        Inquiry.objects.filter(pk__in=[row.pk for row in back]).update(assignee=None, updated_at=now)
        _events([(row, None, "hand on") for row in back], now, assignment.AWAY)
    return len(moved) + len(back)


# --- the rota, as the admin edits it -----------------------------------------------------------


@transaction.atomic
def save_rota(*, rota: Rota) -> Rota:
    rota.save()
    return rota


@transaction.atomic
def save_rota_member(*, member: RotaMember) -> RotaMember:
    """Save an agent's place in a rota. Their inquiries move at the next periodic pass if
    they are now out of office or off shift."""
    member.save()
    return member


@transaction.atomic
def delete_rota_member(*, member: RotaMember) -> None:
    member.delete()
