"""The marketplace clock runs only on marketplace messages (issue 18, point 4).

On an Amazon mailbox, a buyer message relayed by Amazon (marketplace.amazon.*) starts the
marketplace's 24 h reply clock beside the SLA policy's clocks; a customer who writes to the same
mailbox directly starts the policy's clocks only. Which senders are the relay is per channel,
defaulted for Amazon and Walmart e-mail channels and editable in the admin and the API.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from inquiries import models as m
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.services.config import create_channel
from inquiries.services.recording import record_message, record_messages
from inquiries.sla.presets import default_relay_senders, is_relay_sender, parse_relay_senders
from tests.conftest import token_client
from tests.factories import AccountFactory, ChannelFactory, policy_with_targets

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MARKET = m.ClockKind.MARKETPLACE_REPLY
RELAYED = "a1b2c3d4e5f6g7@marketplace.amazon.com"
DIRECT = "jane.doe@gmail.example"


# --- the pure rule ---------------------------------------------------------------------------------


def test_amazon_relay_domains_of_every_store_match_and_look_alikes_do_not():
    amazon = parse_relay_senders(default_relay_senders("amazon"))
    assert is_relay_sender(amazon, "ABC123@marketplace.amazon.com")
    assert is_relay_sender(amazon, "abc123@marketplace.amazon.co.uk")
    assert is_relay_sender(amazon, "abc123@marketplace.amazon.de")
    assert not is_relay_sender(amazon, "abc123@amazon.com")
    assert not is_relay_sender(amazon, "marketplace.amazon.com@evil.example")
    assert not is_relay_sender(amazon, "")
    walmart = parse_relay_senders(default_relay_senders("walmart"))
    assert is_relay_sender(walmart, "x9@relay.walmart.com")
    assert not is_relay_sender(walmart, "x9@walmart.com")


def test_an_empty_list_means_every_sender_and_whole_addresses_and_comments_are_understood():
    assert is_relay_sender((), DIRECT)
    entries = parse_relay_senders("# our connector\nnoreply@connector.example\n\n*.relay.example  # any\n")
    assert entries == ("noreply@connector.example", "*.relay.example")
    assert is_relay_sender(entries, "NoReply@connector.example")
    assert not is_relay_sender(entries, "other@connector.example")
    assert is_relay_sender(entries, "b@eu.relay.example")
    assert default_relay_senders("shop") == ""


@pytest.mark.parametrize("text", ["relay.example\nbad entry", "<script>@x", "*", "a@b@c"])
def test_an_entry_that_is_neither_domain_nor_address_is_refused_naming_its_line(text):
    with pytest.raises(ValueError, match=r"line \d"):
        parse_relay_senders(text)


# --- the clocks -----------------------------------------------------------------------------------


@pytest.fixture
def amazon(db):
    policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)
    return AccountFactory(marketplace=m.Marketplace.AMAZON)


@pytest.fixture
def mailbox(amazon: m.Account) -> m.Channel:
    return create_channel(
        channel=m.Channel(
            account=amazon,
            slug="amazon-mail",
            name="Amazon",
            kind=m.ChannelKind.EMAIL,
            address="s@shop.example",
        )
    )


def customer(number: int, sender: str) -> IncomingMessage:
    return IncomingMessage(
        external_id=f"m{number}@mail.example",
        direction=Direction.INBOUND,
        sender_address=sender,
        subject=f"Question {number}",
        body_text="Where is my parcel?",
        received_at=T0,
    )


def kinds(message: m.Message) -> set[str]:
    return set(m.Clock.objects.filter(inquiry=message.inquiry).values_list("kind", flat=True))


def test_a_new_amazon_mailbox_takes_amazons_relay_domains_and_other_channels_none(amazon):
    walmart = AccountFactory(marketplace=m.Marketplace.WALMART)
    shop = AccountFactory(marketplace=m.Marketplace.SHOP)

    def made(account: m.Account, kind: str, senders: str = "") -> str:
        channel = m.Channel(account=account, slug=f"c-{account.pk}-{kind}", name="c", kind=kind)
        channel.marketplace_senders = senders
        return create_channel(channel=channel).marketplace_senders

    assert made(amazon, m.ChannelKind.EMAIL) == "marketplace.amazon.*"
    assert made(walmart, m.ChannelKind.EMAIL) == "relay.walmart.com"
    assert made(shop, m.ChannelKind.EMAIL) == ""
    assert made(amazon, m.ChannelKind.API) == ""  # the marketplace's own connector: every message
    assert made(walmart, m.ChannelKind.CSV, "relay.example") == "relay.example"


def test_a_relayed_buyer_message_starts_the_marketplace_clock_and_a_direct_email_on_the_same_account_does_not(
    mailbox,
):
    relayed = record_message(channel=mailbox, incoming=customer(1, RELAYED), now=T0).message
    direct = record_message(channel=mailbox, incoming=customer(2, DIRECT), now=T0).message

    assert kinds(relayed) == {m.ClockKind.FIRST_REPLY, m.ClockKind.RESOLUTION, MARKET}
    assert kinds(direct) == {m.ClockKind.FIRST_REPLY, m.ClockKind.RESOLUTION}
    relayed.refresh_from_db()
    direct.refresh_from_db()
    # The marketplace deadline on the message is what the late response rate counts.
    assert relayed.response_due_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert direct.response_due_at is None


def test_each_customer_message_is_judged_by_its_own_sender(mailbox):
    first = record_message(channel=mailbox, incoming=customer(1, RELAYED), now=T0).message
    later = replace(customer(2, RELAYED), received_at=T0 + timedelta(hours=2), in_reply_to=first.external_id)
    # The list now names another relay: the follow-up in the same conversation is no longer the
    # marketplace's, while the clock the first message started runs on.
    m.Channel.objects.filter(pk=mailbox.pk).update(marketplace_senders="relay.example")
    mailbox.refresh_from_db()
    follow_up = record_message(channel=mailbox, incoming=later, now=T0 + timedelta(hours=2)).message

    assert follow_up.inquiry_id == first.inquiry_id
    assert m.Clock.objects.filter(inquiry=first.inquiry, kind=MARKET).count() == 1
    follow_up.refresh_from_db()
    assert follow_up.response_due_at is None


def test_the_batch_path_starts_the_same_clocks_as_one_by_one(mailbox):
    items = [(mailbox, customer(n, RELAYED if n % 2 else f"d{n}@direct.example")) for n in range(1, 7)]
    outcomes = record_messages(items, now=T0)
    for number, outcome in enumerate(outcomes, start=1):
        assert (MARKET in kinds(outcome.message)) == bool(number % 2), number


def test_editing_the_relay_list_in_the_api_changes_which_messages_run_the_marketplace_clock(
    mailbox, superuser
):
    client = token_client(superuser)
    assert (
        client.get(f"/api/v1/channels/{mailbox.slug}/").json()["marketplace_senders"]
        == "marketplace.amazon.*"
    )

    bad = client.patch(
        f"/api/v1/channels/{mailbox.slug}/", {"marketplace_senders": "gmail example"}, format="json"
    )
    assert bad.status_code == 400
    assert "line 1" in bad.json()["marketplace_senders"][0]

    edited = client.patch(
        f"/api/v1/channels/{mailbox.slug}/", {"marketplace_senders": "gmail.example"}, format="json"
    )
    assert edited.status_code == 200, edited.json()
    mailbox.refresh_from_db()
    direct = record_message(channel=mailbox, incoming=customer(1, DIRECT), now=T0).message
    relayed = record_message(channel=mailbox, incoming=customer(2, RELAYED), now=T0).message
    assert MARKET in kinds(direct)
    assert MARKET not in kinds(relayed)

    cleared = client.patch(f"/api/v1/channels/{mailbox.slug}/", {"marketplace_senders": ""}, format="json")
    assert cleared.status_code == 200
    mailbox.refresh_from_db()
    assert MARKET in kinds(record_message(channel=mailbox, incoming=customer(3, RELAYED), now=T0).message)


def test_editing_the_relay_list_in_the_admin_validates_it_and_changes_it(mailbox, superuser, client):
    client.force_login(superuser)
    url = f"/admin/inquiries/channel/{mailbox.pk}/change/"
    form = {
        "account": mailbox.account_id,
        "slug": mailbox.slug,
        "name": mailbox.name,
        "kind": mailbox.kind,
        "is_active": "on",
        "address": mailbox.address,
        "reply_bcc_address": "",
    }
    refused = client.post(url, {**form, "marketplace_senders": "<b>relay</b>"})
    assert refused.status_code == 200
    assert "neither a domain nor an address" in refused.content.decode()
    saved = client.post(url, {**form, "marketplace_senders": "gmail.example"})
    assert saved.status_code == 302
    mailbox.refresh_from_db()
    assert MARKET in kinds(record_message(channel=mailbox, incoming=customer(1, DIRECT), now=T0).message)


def test_the_migration_gives_existing_amazon_and_walmart_mailboxes_their_relays_and_leaves_the_rest(amazon):
    from django.apps import apps

    migration = importlib.import_module("inquiries.migrations.0040_relay_senders_and_sent_folder")
    walmart = AccountFactory(marketplace=m.Marketplace.WALMART)
    shop = AccountFactory(marketplace=m.Marketplace.SHOP)
    rows = {
        "amazon-mail": ChannelFactory(account=amazon, kind=m.ChannelKind.EMAIL),
        "amazon-api": ChannelFactory(account=amazon, kind=m.ChannelKind.API),
        "amazon-edited": ChannelFactory(
            account=amazon, kind=m.ChannelKind.EMAIL, marketplace_senders="x.example"
        ),
        "walmart-mail": ChannelFactory(account=walmart, kind=m.ChannelKind.EMAIL),
        "shop-mail": ChannelFactory(account=shop, kind=m.ChannelKind.EMAIL),
    }

    migration.set_relay_senders(apps, None)

    after = {name: m.Channel.objects.get(pk=row.pk).marketplace_senders for name, row in rows.items()}
    assert after == {
        "amazon-mail": "marketplace.amazon.*",
        "amazon-api": "",
        "amazon-edited": "x.example",
        "walmart-mail": "relay.walmart.com",
        "shop-mail": "",
    }
