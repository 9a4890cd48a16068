"""Secrets stay secret (encrypted, write-only in the admin, absent from the API); the admin's
mailbox status, "poll now" and "release"; beat's mail sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from inquiries import models as m
from inquiries import secrets
from inquiries.services import mailbox as service
from tests.conftest import token_client
from tests.mail.helpers import PASSWORD, customer_mail, mailbox_for

pytestmark = pytest.mark.django_db


# --- secrets ------------------------------------------------------------------------------------


def test_a_stored_secret_is_encrypted_and_opens_again():
    token = secrets.encrypt("hunter2")

    assert "hunter2" not in token
    assert secrets.decrypt(token) == "hunter2"


def test_a_new_field_key_in_front_still_opens_old_tokens(settings):
    old = secrets.encrypt("hunter2")
    settings.CSTRACKER_FIELD_KEYS = ["a new passphrase"]

    assert secrets.decrypt(old) == "hunter2"
    assert secrets.decrypt(secrets.encrypt("again")) == "again"


def test_a_changed_secret_key_gives_a_clear_error(settings):
    token = secrets.encrypt("hunter2")
    settings.SECRET_KEY = "a different secret key"

    with pytest.raises(secrets.SecretError, match=r"cannot be decrypted .* enter it again"):
        secrets.decrypt(token)


def test_an_environment_variable_wins_and_its_absence_is_named(monkeypatch):
    monkeypatch.setenv("CSTRACKER_TEST_SECRET", "from-env")

    assert (
        secrets.resolve(env_name="CSTRACKER_TEST_SECRET", encrypted=secrets.encrypt("stored"), what="x")
        == "from-env"
    )
    with pytest.raises(secrets.SecretError, match="CSTRACKER_MISSING_VAR is not set"):
        secrets.resolve(env_name="CSTRACKER_MISSING_VAR", encrypted="", what="IMAP password")
    with pytest.raises(secrets.SecretError, match="none configured"):
        secrets.resolve(env_name="", encrypted="", what="IMAP password")


# --- the admin ----------------------------------------------------------------------------------


def mailbox_form(channel: m.Channel, **overrides: str) -> dict[str, str]:
    data = {
        "channel": str(channel.pk),
        "is_enabled": "on",
        "imap_host": "imap.example.com",
        "imap_port": "993",
        "imap_tls": "ssl",
        "imap_username": "support@shop.example",
        "imap_folder": "INBOX",
        "imap_password_env": "",
        "imap_password": "",
        "batch_size": "50",
        "smtp_host": "smtp.example.com",
        "smtp_port": "587",
        "smtp_tls": "starttls",
        "smtp_username": "support@shop.example",
        "smtp_password_env": "",
        "smtp_password": "",
        "from_address": "",
    }
    data.update(overrides)
    return data


def test_the_admin_stores_passwords_encrypted_and_never_shows_them(client, superuser, support_channel):
    client.force_login(superuser)

    response = client.post(
        "/admin/inquiries/mailboxconfig/add/",
        mailbox_form(support_channel, imap_password="imap-pass-42", smtp_password="smtp-pass-42"),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    mailbox = m.MailboxConfig.objects.get()
    assert secrets.decrypt(mailbox.imap_password_encrypted) == "imap-pass-42"
    assert secrets.decrypt(mailbox.smtp_password_encrypted) == "smtp-pass-42"
    page = client.get(f"/admin/inquiries/mailboxconfig/{mailbox.pk}/change/").content.decode()
    assert "imap-pass-42" not in page and "smtp-pass-42" not in page
    assert mailbox.imap_password_encrypted not in page


def test_saving_without_a_password_keeps_the_stored_one_and_an_env_name_replaces_it(
    client, superuser, support_channel
):
    client.force_login(superuser)
    mailbox = mailbox_for(support_channel, None, "support@shop.example", imap_host="imap.example.com")
    stored = mailbox.imap_password_encrypted
    url = f"/admin/inquiries/mailboxconfig/{mailbox.pk}/change/"

    client.post(url, mailbox_form(support_channel, smtp_host=""))
    mailbox.refresh_from_db()
    assert mailbox.imap_password_encrypted == stored

    client.post(url, mailbox_form(support_channel, smtp_host="", imap_password_env="SUPPORT_IMAP_PASSWORD"))
    mailbox.refresh_from_db()
    assert (mailbox.imap_password_env, mailbox.imap_password_encrypted) == ("SUPPORT_IMAP_PASSWORD", "")


def test_the_admin_refuses_a_password_and_an_env_name_together(client, superuser, support_channel):
    client.force_login(superuser)

    response = client.post(
        "/admin/inquiries/mailboxconfig/add/",
        mailbox_form(support_channel, imap_password="x", imap_password_env="SOME_VAR"),
    )

    assert response.status_code == 200 and "not both" in response.content.decode()
    assert not m.MailboxConfig.objects.exists()


def test_a_mailbox_needs_an_email_channel(client, superuser, channel):
    client.force_login(superuser)

    response = client.post("/admin/inquiries/mailboxconfig/add/", mailbox_form(channel))

    assert response.status_code == 200 and not m.MailboxConfig.objects.exists()


def test_the_admin_list_shows_failures_and_the_last_error(client, superuser, support_channel):
    mailbox = mailbox_for(support_channel, None, "x", imap_host="imap.example.com")
    m.MailboxConfig.objects.filter(pk=mailbox.pk).update(failures=3, last_error="login failed for user 'x'")
    client.force_login(superuser)

    page = client.get("/admin/inquiries/mailboxconfig/").content.decode()

    assert "login failed for user &#x27;x&#x27;" in page


@pytest.mark.integration
def test_poll_now_in_the_admin_polls_and_reports(client, superuser, support_channel, imap_server):
    user = imap_server.new_user()
    mailbox = mailbox_for(support_channel, imap_server, user)
    m.MailboxConfig.objects.filter(pk=mailbox.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    imap_server.append(user, customer_mail(1))
    client.force_login(superuser)

    response = client.post(
        "/admin/inquiries/mailboxconfig/",
        {"action": "poll_now", "_selected_action": [str(mailbox.pk)]},
        follow=True,
    )

    assert "upport: imported=1" in response.content.decode()  # the admin capitalises messages
    assert m.Message.objects.count() == 1


def test_the_webhook_admin_stores_the_secret_and_shows_the_url(client, superuser, support_channel):
    client.force_login(superuser)

    response = client.post(
        "/admin/inquiries/mailwebhook/add/",
        {
            "channel": str(support_channel.pk),
            "provider": "generic",
            "is_active": "on",
            "secret_env": "",
            "secret": "whsec-very-secret",
        },
    )

    assert response.status_code == 302
    hook = m.MailWebhook.objects.get()
    assert secrets.decrypt(hook.secret_encrypted) == "whsec-very-secret"
    page = client.get(f"/admin/inquiries/mailwebhook/{hook.pk}/change/").content.decode()
    assert f"/hooks/generic/{hook.token}/" in page and "whsec-very-secret" not in page


def test_a_webhook_needs_a_secret(client, superuser, support_channel):
    client.force_login(superuser)

    response = client.post(
        "/admin/inquiries/mailwebhook/add/",
        {
            "channel": str(support_channel.pk),
            "provider": "generic",
            "is_active": "on",
            "secret_env": "",
            "secret": "",
        },
    )

    assert response.status_code == 200 and not m.MailWebhook.objects.exists()


def test_suspended_senders_are_released_from_the_admin(client, superuser, support_channel):
    suspension = m.SuspendedSender.objects.create(
        channel=support_channel, address="loop@example.com", reason="flood"
    )
    client.force_login(superuser)

    listing = client.get("/admin/inquiries/suspendedsender/").content.decode()
    client.post(
        "/admin/inquiries/suspendedsender/", {"action": "release", "_selected_action": [str(suspension.pk)]}
    )

    assert "loop@example.com" in listing
    suspension.refresh_from_db()
    assert suspension.released_by == superuser and suspension.released_at is not None


def test_staff_see_only_their_accounts_mailboxes(client, account, other_account, agent):
    from tests.mail.helpers import email_channel

    visible = email_channel(account, "team-a-support", "support@a.example")
    hidden = email_channel(other_account, "other-support", "support@other.example")
    mailbox_for(visible, None, "visible-login", imap_host="imap.example.com")
    mailbox_for(hidden, None, "hidden-login", imap_host="imap.example.com")
    agent.is_staff = True
    agent.save()
    from django.contrib.auth.models import Permission

    agent.user_permissions.add(Permission.objects.get(codename="view_mailboxconfig"))
    client.force_login(agent)

    page = client.get("/admin/inquiries/mailboxconfig/").content.decode()

    assert "visible-login" in page and "hidden-login" not in page


def test_the_channel_api_shows_no_mailbox_secrets(superuser, support_channel):
    mailbox_for(support_channel, None, "support@shop.example", imap_host="imap.example.com")

    body = token_client(superuser).get(f"/api/v1/channels/{support_channel.slug}/").content.decode()

    assert "password" not in body and PASSWORD not in body and "gAAAA" not in body


# --- beat -----------------------------------------------------------------------------------------


def test_beat_polls_mailboxes_every_minute():
    entry = django_settings.CELERY_BEAT_SCHEDULE["mail-poll"]

    assert (entry["task"], entry["schedule"]) == ("inquiries.tasks.poll_mailboxes", 60.0)


@pytest.mark.integration
def test_the_sweep_polls_due_mailboxes_only(imap_server, mail_account):
    from inquiries import tasks
    from tests.mail.helpers import email_channel

    users = [imap_server.new_user(), imap_server.new_user()]
    due = mailbox_for(email_channel(mail_account, "due", "due@shop.example"), imap_server, users[0])
    waiting = mailbox_for(
        email_channel(mail_account, "waiting", "waiting@shop.example"), imap_server, users[1]
    )
    m.MailboxConfig.objects.filter(pk=waiting.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    for user in users:
        imap_server.append(user, customer_mail(user))

    summary = tasks.poll_mailboxes.apply().get()

    assert summary == "polls=1 replies=0"
    assert list(m.Message.objects.values_list("channel__slug", flat=True)) == ["due"]
    assert service.due_mailboxes(timezone.now()) == [due.pk]


def test_the_sweep_requeues_a_reply_whose_task_was_lost(support_channel, agent, smtp_sink):
    from inquiries import services, tasks
    from inquiries.ingestion.email import parse_email

    mailbox_for(support_channel, None, smtp=smtp_sink)
    now = timezone.now()
    inquiry = service.record_mail(
        channel=support_channel, incoming=parse_email(customer_mail(1), received_at=now), now=now
    ).message.inquiry
    reply = services.reply(inquiry=inquiry, author=agent, body_text="Hello")  # on_commit never fires here
    m.Message.objects.filter(pk=reply.pk).update(created_at=now - timedelta(minutes=30))

    summary = tasks.poll_mailboxes.apply().get()

    reply.refresh_from_db()
    assert summary == "polls=0 replies=1"
    assert reply.delivery_state == "sent" and len(smtp_sink.messages) == 1
