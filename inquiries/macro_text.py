"""Macro text: fill a canned reply's variables for one inquiry. Pure: no Django.

A macro body names variables in braces, `{customer_name}`. A variable that is unknown, or
has no value for this inquiry, becomes a visible gap, `[[fill in: customer name]]`, never
"None" or an empty space: the reply service refuses a reply that still holds a gap, so the
agent must fill it. Values are inserted as plain text; the page escapes the result like any
other text, so markup in a macro or a customer's name stays inert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VARIABLES: dict[str, str] = {
    "customer_name": "customer name",
    "order_id": "order id",
    "tracking_number": "tracking number",
    "agent_name": "agent name",
}
GAP_PREFIX = "[[fill in: "
_GAP_RE = re.compile(r"\[\[fill in: [^\]]*\]\]")
_VARIABLE_RE = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    gaps: tuple[str, ...]  # the variables left for the agent to fill, in order of appearance


def gap(name: str) -> str:
    return f"{GAP_PREFIX}{VARIABLES.get(name, name.replace('_', ' '))}]]"


def render(body: str, values: dict[str, str | None]) -> Rendered:
    """`body` with each `{variable}` replaced by its value from `values`, or by a gap."""
    gaps: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name) if name in VARIABLES else None
        value = " ".join(str(value).split()) if value is not None else ""
        if not value:
            gaps.append(name)
            return gap(name)
        return value

    return Rendered(_VARIABLE_RE.sub(fill, body), tuple(gaps))


def unknown_variables(body: str) -> list[str]:
    """Variables a macro names that no inquiry can fill (typos), for the admin's validation."""
    return sorted({m.group(1) for m in _VARIABLE_RE.finditer(body)} - VARIABLES.keys())


def gaps_in(text: str) -> list[str]:
    """The unfilled gaps left in a reply's text."""
    return _GAP_RE.findall(text)
