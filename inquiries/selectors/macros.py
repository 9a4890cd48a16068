"""Macros: the ones an agent may use on an inquiry, and the values of their variables."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from inquiries import scoping
from inquiries.models import Inquiry, Macro, Shipment


def macros_for(user: User, inquiry: Inquiry) -> QuerySet[Macro]:
    """The active macros `user` may use on `inquiry`: their own personal ones, and those of the
    teams that work its account. Scoped by `inquiries.scoping` first, so nobody reaches another
    team's macro or another agent's personal one."""
    usable = Q(owner=user.pk) | Q(team__accounts=inquiry.account_id)
    scoped_macros = scoping.scoped(Macro.objects.filter(is_active=True), user)
    return Macro.objects.filter(pk__in=scoped_macros.filter(usable).values("pk")).order_by("name", "id")


def macro_values(inquiry: Inquiry, agent: User) -> dict[str, str | None]:
    """The values of a macro's variables on this inquiry (one query: the latest tracking number)."""
    tracking = None
    if inquiry.linked_order_id is not None:
        tracking = (
            Shipment.objects.filter(order_id=inquiry.linked_order_id)
            .exclude(tracking_number="")
            .order_by("-shipped_at", "-id")
            .values_list("tracking_number", flat=True)
            .first()
        )
    return {
        "customer_name": inquiry.customer.name,
        "order_id": inquiry.order_id,
        "tracking_number": tracking,
        "agent_name": agent.get_full_name() or agent.get_username(),
    }
