"""Automatic assignment as the queue and the admin show it: per rota, who can take an inquiry now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from inquiries import scoping
from inquiries.models import AssignmentMode, Rota


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
    from inquiries.services.assignment import load_rotas

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
