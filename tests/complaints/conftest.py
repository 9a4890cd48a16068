"""Fixtures for the complaint tests that use the database: the seeded topics and rules."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps

from inquiries import models as m
from inquiries.selectors import topics as topic_cache
from inquiries.services import complaints

MIGRATIONS = Path(__file__).resolve().parents[2] / "inquiries" / "migrations"


@pytest.fixture
def topics(db: None) -> Iterator[dict[str, m.Topic]]:
    """The default topics and rules, as migration 0005 seeds them.

    Seeded again here because tests with `transaction=True` flush the tables, migrated
    data included; the seeding keeps existing rows, so this is a no-op otherwise.
    """
    migration = next(path.stem for path in MIGRATIONS.glob("*_seed_topics.py"))
    seed = importlib.import_module(f"inquiries.migrations.{migration}").seed
    seed(apps, None)
    topic_cache.clear_cache()
    complaints.clear_caches()
    yield {topic.key: topic for topic in m.Topic.objects.all()}
    topic_cache.clear_cache()
    complaints.clear_caches()
