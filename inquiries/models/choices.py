"""Choices shared across the models."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Marketplace(models.TextChoices):
    AMAZON = "amazon", "Amazon"
    WALMART = "walmart", "Walmart"
    EBAY = "ebay", "eBay"
    SHOP = "shop", _("Own shop")
    OTHER = "other", _("Other")


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    MANAGER = "manager", _("Manager")


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending (waiting on customer)")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound (customer)")
    OUTBOUND = "outbound", _("Outbound (reply)")
    NOTE = "note", _("Internal note")


class ChannelKind(models.TextChoices):
    API = "api", "API"
    EMAIL = "email", _("E-mail")
    CSV = "csv", _("CSV import")
    WEBHOOK = "webhook", _("Signed webhook")
