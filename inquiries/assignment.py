"""Automatic assignment: who gets the next inquiry. Pure: no Django, no clock of its own.

The service (`services/assignment.py`) reads the rota, each agent's availability and open
load, and hands the arrivals here in a fixed order; the answer depends on nothing else, so
the same state always gives the same assignee.

- round robin: the next available agent with room after the one assigned last, in user-id
  order, wrapping around;
- least open: the available agent with the fewest open inquiries; ties go to the lowest id.

An agent is available when in the rota, not out of office on the calendar's local date,
inside working hours, and below capacity (open inquiries assigned to them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

ROUND_ROBIN = "round_robin"
LEAST_OPEN = "least_open"

# Why an agent is not available, from the most to the least lasting.
OFF_ROTA = "not in the rota"
AWAY = "out of office"
OFF_SHIFT = "outside working hours"
FULL = "at capacity"


@dataclass(slots=True)
class Agent:
    user_id: int
    load: int  # open inquiries assigned now
    capacity: int
    absent: str = ""  # OFF_ROTA, AWAY or OFF_SHIFT; empty when on duty

    @property
    def has_room(self) -> bool:
        return not self.absent and self.load < self.capacity


@dataclass(slots=True)
class Rota:
    mode: str
    agents: list[Agent] = field(default_factory=list)  # sorted by user id
    last_user_id: int | None = None

    def pick(self) -> Agent | None:
        """The next assignee, its load counted; None when nobody has room."""
        ready = [agent for agent in self.agents if agent.has_room]
        if not ready:
            return None
        if self.mode == LEAST_OPEN:
            chosen = min(ready, key=lambda agent: (agent.load, agent.user_id))
        else:
            after = [
                agent for agent in ready if self.last_user_id is None or agent.user_id > self.last_user_id
            ]
            chosen = (after or ready)[0]
        chosen.load += 1
        self.last_user_id = chosen.user_id
        return chosen

    def why_nobody(self) -> str:
        """Why no agent has room, for the queue ("" when someone has): each reason with how many
        agents it holds for, e.g. "2 outside working hours, 1 out of office"."""
        if not self.agents:
            return "nobody is in the rota"
        reasons = [agent.absent or (FULL if agent.load >= agent.capacity else "") for agent in self.agents]
        if "" in reasons:
            return ""
        counts = Counter(reasons)
        return ", ".join(f"{counts[r]} {r}" for r in (OFF_SHIFT, AWAY, FULL, OFF_ROTA) if counts[r])


def plan(rota: Rota, count: int) -> list[int | None]:
    """Assignees for `count` arrivals in order (None: left unassigned)."""
    return [agent.user_id if (agent := rota.pick()) else None for _ in range(count)]


def absence(
    *, in_rota: bool, away_from: date | None, away_until: date | None, today: date, on_shift: bool
) -> str:
    """Why an agent is off now ("" when on duty). Out of office covers away_from..away_until,
    both days included; an open end runs on (no end: until further notice)."""
    if not in_rota:
        return OFF_ROTA
    if (away_from or away_until) and (away_from or date.min) <= today <= (away_until or date.max):
        return AWAY
    if not on_shift:
        return OFF_SHIFT
    return ""
