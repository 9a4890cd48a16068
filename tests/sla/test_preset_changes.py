"""Editing or deleting a marketplace preset moves the running marketplace clocks of its accounts,
and only theirs, like a calendar or policy change (services.config.save_preset, delete_preset)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from inquiries import models as m
from inquiries import services, tasks
from inquiries.selectors import marketplace_rules
from inquiries.services import config
from inquiries.services.recording import RecordResult
from tests.conftest import token_client
from tests.factories import incoming
from tests.sla.test_message_rules import change_form_data

FRIDAY = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
HOUR = 3600


def on_marketplace(channel: m.Channel, name: str) -> m.Channel:
    channel.account.marketplace = name
    channel.account.save()
    return channel


def market_clock(channel: m.Channel, subject: str) -> m.Clock:
    recorded = services.record_message(
        channel=channel, incoming=incoming(received_at=FRIDAY, subject=subject), now=FRIDAY
    )
    assert isinstance(recorded, RecordResult)
    return m.Clock.objects.get(message=recorded.message, kind=m.ClockKind.MARKETPLACE_REPLY)


def admin_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.mark.django_db
def test_a_shorter_preset_target_moves_the_running_clocks_of_its_marketplace_only(
    channel, other_channel, superuser, django_capture_on_commit_callbacks
):
    walmart = market_clock(on_marketplace(channel, "walmart"), "Where is my order?")
    amazon = market_clock(on_marketplace(other_channel, "amazon"), "Where is my order?")
    assert (walmart.target_seconds, amazon.target_seconds) == (48 * HOUR, 24 * HOUR)
    preset = m.MarketplacePreset.objects.get(marketplace="walmart")
    data = change_form_data(preset, superuser) | {"reply_target_seconds": str(24 * HOUR)}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client(superuser).post(
            reverse("admin:inquiries_marketplacepreset_change", args=[preset.pk]), data, follow=True
        )

    assert response.status_code == 200
    assert "Recomputing clocks of 1 open inquiry in the background" in response.content.decode()
    walmart.refresh_from_db()
    assert (walmart.target_seconds, walmart.due_at) == (24 * HOUR, datetime(2026, 3, 7, 12, tzinfo=UTC))
    # The message's deadline, which the health figures measure against, moved with its clock.
    assert m.Message.objects.get(pk=walmart.message_id).response_due_at == walmart.due_at
    assert m.InquiryEvent.objects.filter(
        inquiry_id=walmart.inquiry_id, kind=m.EventKind.CLOCK_RECOMPUTED
    ).exists()
    amazon_before = amazon.due_at
    amazon.refresh_from_db()
    assert (amazon.target_seconds, amazon.due_at) == (24 * HOUR, amazon_before)
    assert not m.InquiryEvent.objects.filter(
        inquiry_id=amazon.inquiry_id, kind=m.EventKind.CLOCK_RECOMPUTED
    ).exists()


@pytest.mark.django_db
def test_deleting_a_preset_puts_its_marketplace_back_on_the_built_in_rule(
    channel, superuser, django_capture_on_commit_callbacks
):
    preset = m.MarketplacePreset.objects.get(marketplace="walmart")
    m.MarketplacePreset.objects.filter(pk=preset.pk).update(reply_target_seconds=12 * HOUR)
    marketplace_rules.clear_cache()
    clock = market_clock(on_marketplace(channel, "walmart"), "Where is my order?")
    assert clock.target_seconds == 12 * HOUR

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client(superuser).post(
            reverse("admin:inquiries_marketplacepreset_delete", args=[preset.pk]), {"post": "yes"}
        )

    assert response.status_code == 302
    assert not m.MarketplacePreset.objects.filter(pk=preset.pk).exists()
    clock.refresh_from_db()
    assert (clock.target_seconds, clock.due_at) == (48 * HOUR, datetime(2026, 3, 8, 12, tzinfo=UTC))


@pytest.mark.django_db
def test_a_recompute_reads_the_presets_as_saved_not_its_process_copy(channel):
    clock = market_clock(on_marketplace(channel, "walmart"), "Where is my order?")  # caches presets
    # Another process (the admin's) saved a new target: this process's copy is stale.
    m.MarketplacePreset.objects.filter(marketplace="walmart").update(reply_target_seconds=6 * HOUR)

    tasks.recompute_clocks([clock.inquiry_id])

    clock.refresh_from_db()
    assert clock.target_seconds == 6 * HOUR


@pytest.mark.django_db
def test_a_removed_message_rule_cancels_its_clock_and_the_messages_deadline(
    channel, django_capture_on_commit_callbacks
):
    # eBay sets a deadline for return requests only (a message rule): without the rule, none.
    clock = market_clock(on_marketplace(channel, "ebay"), "Return request 5123456 for order 12-34567-89012")
    assert m.Message.objects.get(pk=clock.message_id).response_due_at == clock.due_at
    preset = m.MarketplacePreset.objects.get(marketplace="ebay")
    preset.message_rules = []

    with django_capture_on_commit_callbacks(execute=True):
        assert config.save_preset(preset=preset) == 1

    clock.refresh_from_db()
    assert clock.state == m.ClockState.CANCELLED
    assert m.Message.objects.get(pk=clock.message_id).response_due_at is None


@pytest.mark.django_db
def test_an_accounts_own_reply_target_set_through_the_api_moves_its_running_clocks(
    channel, superuser, django_capture_on_commit_callbacks
):
    clock = market_clock(on_marketplace(channel, "walmart"), "Where is my order?")
    assert clock.target_seconds == 48 * HOUR

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(superuser).patch(
            f"/api/v1/accounts/{channel.account_id}/", {"reply_target_seconds": 12 * HOUR}, format="json"
        )

    assert response.status_code == 200, response.content
    clock.refresh_from_db()
    assert (clock.target_seconds, clock.due_at) == (12 * HOUR, datetime(2026, 3, 7, 0, tzinfo=UTC))
    assert m.Message.objects.get(pk=clock.message_id).response_due_at == clock.due_at


@pytest.mark.django_db
def test_renaming_an_account_recomputes_nothing(channel):
    market_clock(on_marketplace(channel, "walmart"), "Where is my order?")
    account = channel.account
    account.name = "Renamed shop"
    assert config.save_account(account=account) == 0
    assert m.Account.objects.get(pk=account.pk).name == "Renamed shop"
