"""People: whom an inquiry can be given to, who manages an account, and each user's page settings."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User

from inquiries.models import Membership, Role, UserPreference


def assignable_users(user: User, account_id: int | None = None) -> list[User]:
    """People an inquiry can be given to: members of the teams that work `account_id`,
    or, without an account, of the requesting user's own teams (all teams for a superuser)."""
    users = get_user_model().objects.filter(is_active=True)
    if account_id is not None:
        users = users.filter(memberships__team__accounts=account_id)
    elif user.is_superuser:
        users = users.filter(memberships__isnull=False)
    else:
        users = users.filter(memberships__team__memberships__user=user)
    return list(users.distinct().order_by("username"))


def can_manage_account(user: User | AnonymousUser, account_id: int) -> bool:
    """Managers of a team working the account, and superusers, act on it: its complaint clusters,
    its order volumes."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role=Role.MANAGER, team__accounts=account_id).exists()


def preference_for(user: User) -> UserPreference:
    """The user's page settings, or the defaults (unsaved) for someone who never changed one."""
    return UserPreference.objects.filter(user=user).first() or UserPreference(user=user)
