"""The admin of the `inquiries` app speaks the reader's language (issue 23): every changelist, add
page and change page of the app's registered models, and the delete confirmations and histories
that list rows by name, show no English outside the catalogues.

Each page is read by a superuser whose language is German, in the pseudo-language of
`tests.ui.pseudo`. That pseudo-language replaces the whole German translation Django has loaded,
which is one merged catalogue of every installed app: Django's own admin ("Select %s to change",
"Add", "Save", the filter sidebar, the pagination counts) goes through the same gettext as our
texts and comes back bracketed too. So the check needs no list of Django's strings and no real
German: a word outside the brackets is a text that went through no gettext at all — a field's
label derived from its attribute name, a help text, a model's name, a column, an action or a
fieldset title written as a plain string — and no catalogue could ever translate it. What the
test itself wrote (names, addresses, subjects, the time zone names a select offers) is data and
allowed, as in `test_languages_python.py`.

The rows are made so that the changelists have results (their column headings appear only
then) and the add pages' selects have choices to show; `world` adds a row of every other model of
the app, so that each change page has an object and each row's own name (`__str__`, in titles,
breadcrumbs, inlines, select boxes, delete confirmations and histories) is read too.
"""

from __future__ import annotations

import html
import json
import zoneinfo
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import JSONField, Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst

from inquiries import models as m
from inquiries import services
from tests.factories import incoming, policy_with_targets
from tests.ui.pseudo import english_left, pseudo_language, visible_text

pytestmark = pytest.mark.django_db

SUBJECT = "Qwz"  # a subject and name in no language
# Texts of Django's admin that never go through gettext, so no catalogue (Django's or ours) can
# translate them: the boolean icons' alt texts, the search box's icon, and the primary key's
# label "ID" (the same abbreviation in German, Spanish and French).
DJANGO_UNTRANSLATED = ["True", "False", "None", "Search", "ID"]
ACRONYMS = ["API"]  # a channel kind, the same in every language


def _registered() -> list[type[Model]]:
    models = [model for model in admin.site._registry if model._meta.app_label == "inquiries"]
    return sorted(models, key=lambda model: model._meta.model_name or "")


def _addable(model: type[Model]) -> bool:
    """Whether the model's admin has an add page for a superuser (read-only ones have none)."""
    root = User(username="root", is_active=True, is_staff=True, is_superuser=True)
    request = type("Request", (), {"user": root})()
    return admin.site._registry[model].has_add_permission(request)


PAGES = [
    pytest.param(model, page, id=f"{model._meta.model_name}-{page}")
    for model in _registered()
    for page in ("changelist", "add")
    if page == "changelist" or _addable(model)
]


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    """The admin activates its user's language in this thread: leave it in the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def rows(channel: m.Channel, manager: User, superuser: User) -> list[str]:
    """A policy, an inquiry with its messages, events and clocks, and a row of each configuration
    the admin edits; returns what the test wrote (the data a page may show as it is)."""
    now = timezone.now()
    policy = policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)
    calendar = m.Calendar.objects.create(name="Qwz hours", timezone="Europe/Berlin")
    m.Holiday.objects.create(calendar=calendar, date=now.date(), name="Qwz day")
    services.record_message(
        channel=channel,
        incoming=incoming(received_at=now - timedelta(hours=2), subject=SUBJECT, body_text=SUBJECT),
        now=now,
    )
    m.Macro.objects.create(name="Qwz", body="Qwz", team=channel.account.teams.first())
    m.RecomputeRun.objects.create(reason="Qwz", total=2, done=1)
    m.WebhookEndpoint.objects.create(name="Qwz", url="https://example.com/")
    m.FailedTask.objects.create(task_name="Qwz", task_id="Qwz-1", error="Qwz")
    m.NotificationPreference.objects.create(user=manager)
    m.ReportSubscription.objects.create(user=manager)
    m.EscalationRule.objects.create(name="Qwz", policy=policy)
    people = [value for user in User.objects.all() for value in (user.username, user.first_name) if value]
    written = [
        SUBJECT,
        channel.account.name,
        channel.slug,
        "https://example.com/",
        "example.com",
        "Europe/Berlin",
        "Amazon",
        "Walmart",
        "eBay",
        *people,
    ]
    topics = [text for row in m.Topic.objects.values_list("name", "key") for text in row]
    customers = [text for row in m.Customer.objects.values_list("name", "address") for text in row]
    messages = list(m.Message.objects.values_list("external_id", flat=True))
    names = [
        name
        for query in (
            m.Channel.objects,
            m.Team.objects,
            m.SlaPolicy.objects,
            m.Calendar.objects,
            m.MarketplacePreset.objects,
        )
        for name in query.values_list("name", flat=True)
    ]
    return [
        *written,
        *topics,
        *customers,
        *messages,
        *names,
        *DJANGO_UNTRANSLATED,
        *ACRONYMS,
        *zoneinfo.available_timezones(),
    ]


@pytest.mark.parametrize(("model", "page"), PAGES)
def test_the_admin_page_has_no_english_outside_the_catalogues(model, page, rows, superuser):
    services.set_preferences(user=superuser, language="de")
    client = Client()
    client.force_login(superuser)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}")

    with pseudo_language():
        response = client.get(url)

    assert response.status_code == 200, url
    text = html.unescape(visible_text(response.content.decode()))  # &rsaquo; in the breadcrumbs
    left = english_left(text, data=rows)
    assert left == [], " ".join(sorted(set(left)))


# --- change pages, delete confirmations, histories: the rows' own names --------------------------

ORDER_ID = "114-0000001-0000001"
CODE = "QWZ"  # report types, SKUs, shipment and return ids: codes in no language
# Keys a program reads, shown as they are: the reply webhook's event, the order rollup's measure
# and anchor, the mail webhooks' receiving path.
MACHINE_WORDS = ["reply.created", "order_defect_seller", "purchased", "/hooks/"]
# The cache tables keyed by plain integers (no foreign key: a cache row never blocks or cascades a
# delete), so no admin page ever names one of their rows.
NEVER_SHOWN = {m.SlaRollup, m.DurationRollup, m.VolumeRollup}


@pytest.fixture
def world(rows: list[str], channel: m.Channel, manager: User) -> list[str]:
    """A row of every model of the app that `rows` did not make: orders and what hangs off them,
    clusters and their members, the topic model and labels, health, connectors, mail, outbox,
    held messages, the rota, notifications and the caches. Returns what a page may show as it is:
    `rows`' data and the codes written here."""
    now = timezone.now()
    account = channel.account
    team = manager.memberships.get().team
    inquiry = m.Inquiry.objects.get()
    message = m.Message.objects.get()
    event = m.InquiryEvent.objects.filter(inquiry=inquiry).earliest("pk")
    topic = m.Topic.objects.get(key="quality")

    order = m.Order.objects.create(account=account, marketplace_order_id=ORDER_ID)
    m.OrderLine.objects.create(order=order, sku=CODE, quantity=2)
    m.Shipment.objects.create(order=order, shipment_id=f"{CODE}1")
    m.Cancellation.objects.create(order=order, cancelled_by=m.CancelledBy.BUYER)
    m.Return.objects.create(order=order, external_id=f"{CODE}2", sku=CODE)
    m.Feedback.objects.create(order=order, rating=2)
    m.Claim.objects.create(order=order, kind=m.ClaimKind.GUARANTEE)
    m.MarketplaceMetric.objects.create(
        account=account,
        metric="order_defect_rate",
        value=0.004,
        window_start=now - timedelta(days=60),
        window_end=now,
        reported_at=now,
        source=CODE,
    )
    m.OrderMetricDay.objects.create(
        account=account, measure="order_defect_seller", anchor="purchased", day=now.date(), denominator=4
    )
    m.OrderRollupState.objects.create(account=account, timezone="Europe/Berlin", marketplace="amazon")
    m.AmazonConnection.objects.create(account=account, marketplace_ids=CODE)
    m.ConnectorRun.objects.create(account=account, report_type=CODE, started_at=now)

    cluster = m.Cluster.objects.create(
        account=account, topic=topic, kind=m.ClusterKind.BURST, sku=CODE, first_seen=now, last_seen=now
    )
    m.ClusterMember.objects.create(cluster=cluster, inquiry=inquiry, opened_at=now)
    m.ClusterEvent.objects.create(cluster=cluster, kind=m.ClusterEventKind.OPENED)
    m.ComplaintFingerprint.objects.create(
        inquiry=inquiry, account=account, customer=inquiry.customer, opened_at=now, signature=b"q"
    )
    m.ClusterSweepState.objects.create(phase=m.ClusterSweepState.Phase.BURSTS)
    m.TopicModel.objects.create(account=account, version=3, sklearn_version="1", blob=b"q")
    m.TopicLabel.objects.create(account=account, inquiry=inquiry, topic=topic, text=SUBJECT, labelled_at=now)

    m.HealthSnapshot.objects.create(
        account=account, date=now.date(), as_of=now, status=m.HealthStatus.AT_RISK
    )
    m.OrderVolume.objects.create(account=account, date=now.date(), orders=1200)
    m.SlaRollupState.objects.create(refreshed_at=now)

    m.MailboxConfig.objects.create(channel=channel, imap_host="imap.example.com", imap_username=SUBJECT)
    hook = m.MailWebhook.objects.create(channel=channel, provider=m.MailWebhook.Provider.MAILGUN)
    m.MailWebhookToken.objects.create(webhook=hook, token=f"{CODE}5", body_sha256="0" * 64)
    m.SuspendedSender.objects.create(channel=channel, address="loop@example.com", reason=SUBJECT)
    m.OutgoingMail.objects.create(message=message)
    reply_hook = m.ReplyWebhook.objects.create(channel=channel, url="https://example.com/")
    m.OutboxOffer.objects.create(message=message, webhook=reply_hook)
    m.IdempotencyKey.objects.create(user=manager, key=f"{CODE}6", fingerprint="0" * 64)
    m.Attachment.objects.create(message=message, filename=f"{CODE}.txt")
    held = m.HeldMessage.objects.create(
        channel=channel,
        external_id=f"{CODE}3",
        direction=m.Direction.OUTBOUND,
        received_at=now,
        incoming={},
        held_at=now,
        expires_at=now + timedelta(days=1),
    )
    m.HeldWait.objects.create(held=held, channel=channel, external_id=f"{CODE}4")

    rota = m.Rota.objects.create(team=team)
    m.RotaMember.objects.create(rota=rota, user=manager)
    m.UserPreference.objects.create(user=manager)
    m.Notification.objects.create(
        user=manager, kind=m.NotificationKind.CLOCK_AT_RISK, title=SUBJECT, dedupe_key=f"{CODE}7"
    )
    m.WebhookDelivery.objects.create(
        endpoint=m.WebhookEndpoint.objects.get(), dedupe_key=f"{CODE}8", payload={}
    )
    m.EscalationAction.objects.create(rule=m.EscalationRule.objects.get(), event=event)
    patterns = list(m.TopicRule.objects.values_list("pattern", flat=True))
    return [
        *rows,
        *patterns,  # the seeded topic rules' keywords, in every language
        *MACHINE_WORDS,
        ORDER_ID,
        CODE,
        "Qwz day",
        "imap.example.com",
        "loop@example.com",
        "txt",
        "Amazon SP-API",
    ]


def _admin_client(superuser: User) -> Client:
    services.set_preferences(user=superuser, language="de")
    client = Client()
    client.force_login(superuser)
    return client


def _english_on(client: Client, url: str, data: list[str]) -> list[str]:
    with pseudo_language():
        response = client.get(url)
    assert response.status_code == 200, url
    return english_left(html.unescape(visible_text(response.content.decode())), data=data)


def _stored_texts(row: Model) -> list[str]:
    """The texts a row holds, which its change page shows in its fields as they are: data (a
    preset's notes seeded from the facts table, a key such as a metric's, a token)."""
    texts = []
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname)
        if isinstance(field, JSONField):
            value = json.dumps(value, ensure_ascii=False, cls=field.encoder)
        if isinstance(value, str) and len(value) >= 3:
            texts.append(value)
    return texts


def _app_models() -> list[type[Model]]:
    from django.apps import apps

    return sorted(
        apps.get_app_config("inquiries").get_models(), key=lambda model: model._meta.model_name or ""
    )


@pytest.mark.parametrize(
    "model", [model for model in _app_models() if model not in NEVER_SHOWN], ids=lambda model: model.__name__
)
def test_a_rows_name_has_no_english_outside_the_catalogues(model, world):
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"make a {model.__name__} in the world fixture"

    with pseudo_language():
        name = str(row)

    assert english_left(name, data=world) == [], name


@pytest.mark.parametrize("model", _registered(), ids=lambda model: model._meta.model_name)
def test_the_change_page_has_no_english_outside_the_catalogues(model, world, superuser):
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"make a {model.__name__} in the world fixture"
    url = reverse(f"admin:inquiries_{model._meta.model_name}_change", args=[row.pk])

    left = _english_on(_admin_client(superuser), url, [*world, *_stored_texts(row)])

    assert left == [], " ".join(sorted(set(left)))


# The rows whose deletion lists the most others by name: an account takes nearly every row with
# it; a team its memberships and rota; an order its lines, shipments, claims and feedback.
DELETED = [m.Account, m.Team, m.Order, m.Inquiry, m.Rota, m.Calendar]


def _through_rows() -> list[str]:
    """How a delete confirmation names the rows of the tables Django makes for many-to-many
    fields ("Team-account relationship: Team_accounts object (1)"): Django builds both names in
    English once, at start-up, so no catalogue reaches them (explicit through models would)."""
    throughs = [field.remote_field.through for model in _app_models() for field in model._meta.many_to_many]
    return [
        text
        for through in throughs
        if through is not None and through._meta.auto_created
        for text in (capfirst(str(through._meta.verbose_name)), f"{through.__name__} object")
    ]


@pytest.mark.parametrize("model", DELETED, ids=lambda model: model._meta.model_name)
@pytest.mark.parametrize("page", ["delete", "history"])
def test_the_delete_confirmation_and_history_name_rows_in_the_readers_language(model, page, world, superuser):
    row = model._default_manager.order_by("pk").first()
    url = reverse(f"admin:inquiries_{model._meta.model_name}_{page}", args=[row.pk])

    left = _english_on(_admin_client(superuser), url, [*world, *_through_rows()])

    assert left == [], " ".join(sorted(set(left)))
