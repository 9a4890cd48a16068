"""A cluster's lifecycle as people move it: acknowledge, record an action, resolve; each
transition locked and written with its `ClusterEvent`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import cast

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries.models import (
    Cluster,
    ClusterEventKind,
    ClusterState,
)
from inquiries.services import cluster_rates
from inquiries.services.cluster_base import (
    Events,
)
from inquiries.services.errors import Conflict, DomainError

# --- the lifecycle ------------------------------------------------------------------------------


def _locked(cluster: Cluster) -> Cluster:
    return Cluster.objects.select_for_update().get(pk=cluster.pk)


@transaction.atomic
def acknowledge(*, cluster: Cluster, actor: AbstractBaseUser | None, now: datetime | None = None) -> Cluster:
    """open -> acknowledged: someone is looking into it."""
    now = now or timezone.now()
    cluster = _locked(cluster)
    if cluster.state != ClusterState.OPEN:
        raise Conflict(
            _("Only an open cluster can be acknowledged; this one is %(state)s.")
            % {"state": str(cluster.get_state_display()).lower()},
            field="state",
        )
    return _transition(cluster, ClusterState.ACKNOWLEDGED, ClusterEventKind.ACKNOWLEDGED, actor, now, {})


@transaction.atomic
def record_action(
    *,
    cluster: Cluster,
    actor: AbstractBaseUser | None,
    root_cause: str,
    corrective_action: str,
    preventive_measure: str = "",
    owner: AbstractBaseUser | None = None,
    action_date: date | None = None,
    now: datetime | None = None,
) -> Cluster:
    """open/acknowledged/action taken -> action taken, with the plan of action's facts.

    Recording again replaces the previous text (each version stays in the events).
    """
    now = now or timezone.now()
    root_cause, corrective_action = root_cause.strip(), corrective_action.strip()
    if not root_cause:
        raise DomainError(_("Say what caused the complaints."), field="root_cause")
    if not corrective_action:
        raise DomainError(_("Say what was done about them."), field="corrective_action")
    cluster = _locked(cluster)
    if cluster.state == ClusterState.RESOLVED:
        raise Conflict(_("This cluster is resolved; its action can no longer change."), field="state")
    cluster.root_cause = root_cause
    cluster.corrective_action = corrective_action
    cluster.preventive_measure = preventive_measure.strip()
    cluster.owner = cast("User | None", owner or actor)  # AUTH_USER_MODEL is auth.User
    cluster.action_date = action_date or timezone.localdate(now)
    data: dict[str, object] = {
        "root_cause": cluster.root_cause,
        "corrective_action": cluster.corrective_action,
        "preventive_measure": cluster.preventive_measure,
        "owner": cluster.owner.get_username() if cluster.owner else None,
        "action_date": cluster.action_date.isoformat(),
    }
    return _transition(
        cluster,
        ClusterState.ACTION_TAKEN,
        ClusterEventKind.ACTION_TAKEN,
        actor,
        now,
        data,
        extra_fields=["root_cause", "corrective_action", "preventive_measure", "owner", "action_date"],
    )


@transaction.atomic
def resolve(
    *, cluster: Cluster, actor: AbstractBaseUser | None, note: str = "", now: datetime | None = None
) -> Cluster:
    """Any active state -> resolved. New complaints about the same thing open a new cluster."""
    now = now or timezone.now()
    cluster = _locked(cluster)
    if cluster.state == ClusterState.RESOLVED:
        raise Conflict(_("This cluster is already resolved."), field="state")
    cluster.resolved_at = now
    # One incident, one cluster: what was merged into this one is resolved with it.
    cluster_rates.resolve_merged(cluster=cluster, now=now, note=note.strip())
    return _transition(
        cluster,
        ClusterState.RESOLVED,
        ClusterEventKind.RESOLVED,
        actor,
        now,
        {"note": note.strip()},
        extra_fields=["resolved_at"],
    )


def _transition(
    cluster: Cluster,
    state: str,
    kind: str,
    actor: AbstractBaseUser | None,
    now: datetime,
    data: dict[str, object],
    extra_fields: Iterable[str] = (),
) -> Cluster:
    previous = cluster.state
    cluster.state = state
    cluster.updated_at = now
    cluster.save(update_fields=["state", "updated_at", *extra_fields])
    events = Events()
    events.add(cluster, kind, now, {"from": previous, **data}, actor)
    events.queue()
    return cluster
