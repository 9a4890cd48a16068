"""Choices shared across the models."""

from __future__ import annotations

from django.db import models


class Marketplace(models.TextChoices):
    AMAZON = "amazon", "Amazon"
    WALMART = "walmart", "Walmart"
    EBAY = "ebay", "eBay"
    SHOP = "shop", "Own shop"
    OTHER = "other", "Other"


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending (waiting on customer)"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound (customer)"
    OUTBOUND = "outbound", "Outbound (reply)"
    NOTE = "note", "Internal note"


class ChannelKind(models.TextChoices):
    API = "api", "API"
    EMAIL = "email", "E-mail"
    CSV = "csv", "CSV import"
    WEBHOOK = "webhook", "Signed webhook"
