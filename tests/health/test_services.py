"""Snapshots (idempotent per account and day), order volumes, the commands, the tasks, and the
rescue selector the queue filter uses."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from inquiries import models as m
from inquiries import tasks
from inquiries.health.orders import read_volumes
from inquiries.selectors.health.accounts import rescue_inquiry_ids
from inquiries.services.health import refresh_today, snapshot_missing_days, write_snapshot
from tests import factories
from tests.health.conftest import NOW, answer, ask, days, hours

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def test_a_snapshot_is_written_once_per_account_and_day(amazon, channel):
    message = ask(channel, NOW - days(3))
    answer(message, NOW - days(3) + hours(30))
    day = (NOW - days(1)).date()

    first = write_snapshot(account=amazon, day=day, now=NOW)
    again = write_snapshot(account=amazon, day=day, now=NOW)

    assert m.HealthSnapshot.objects.count() == 1
    assert first.pk == again.pk
    assert again.as_of == NOW.replace(hour=0)  # the end of 9 March
    assert again.status == "critical"
    week = next(metric for metric in again.metrics if metric["key"] == "late_response_rate_7d")
    assert week == {
        "key": "late_response_rate_7d",
        "value": 1.0,
        "target": 0.1,
        "status": "critical",
        "numerator": 1,
        "denominator": 1,
    }


def test_days_end_at_local_midnight(account, channel):
    account.marketplace = m.Marketplace.AMAZON
    account.timezone = "America/Los_Angeles"
    account.save()

    snapshot = write_snapshot(account=account, day=date(2026, 3, 8), now=NOW)

    assert snapshot.as_of.isoformat() == "2026-03-09T07:00:00+00:00"  # midnight in Los Angeles (PDT)


def test_the_daily_job_fills_missing_and_unfinished_days_only(amazon, channel):
    write_snapshot(account=amazon, day=(NOW - days(2)).date(), now=NOW)  # final
    write_snapshot(
        account=amazon, day=(NOW - days(1)).date(), now=NOW - days(1) + hours(1)
    )  # written during it

    fill = snapshot_missing_days(now=NOW, days=5)

    assert (fill.written, fill.done) == (4, True)  # 5, 4, 3 days ago missing; yesterday's was not final
    assert snapshot_missing_days(now=NOW, days=5).written == 0
    assert m.HealthSnapshot.objects.filter(account=amazon).count() == 5


def test_the_hourly_refresh_rewrites_today(amazon, other_account):
    assert refresh_today(now=NOW) == 2
    assert refresh_today(now=NOW + hours(1)) == 2
    today = m.HealthSnapshot.objects.get(account=amazon, date=NOW.date())
    assert today.as_of == NOW + hours(1)


def test_the_tasks_call_the_services(amazon):
    assert tasks.health_refresh_today.delay().get() == 1
    tasks.health_daily_snapshots.delay().get()  # continues itself until the 90 days are done
    assert m.HealthSnapshot.objects.filter(account=amazon).count() == 91  # and today's
    assert tasks.health_daily_snapshots.delay().get() == 0


def test_the_backfill_stops_when_its_time_budget_is_spent_newest_days_first(amazon):
    first = snapshot_missing_days(now=NOW, days=30, budget_seconds=0)
    some = snapshot_missing_days(now=NOW, days=30, budget_seconds=0.05)
    written = sorted(
        m.HealthSnapshot.objects.filter(account=amazon).values_list("date", flat=True), reverse=True
    )
    rest = snapshot_missing_days(now=NOW, days=30)

    assert (first.written, first.done) == (1, False)  # one day at least, whatever the budget
    done = first.written + some.written
    assert written == [(NOW - days(n)).date() for n in range(1, done + 1)]  # the newest days
    assert some.written >= 1 and rest.done and first.written + some.written + rest.written == 30


def test_the_snapshot_command_backfills_a_period(amazon, other_account):
    out = StringIO()
    call_command(
        "health_snapshot",
        "--account",
        str(amazon.pk),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-05",
        stdout=out,
    )
    assert out.getvalue().strip() == "written=5"
    call_command("health_snapshot", "--days", "3", stdout=out)
    assert "filled=6 refreshed=2" in out.getvalue()


def test_order_volume_csv_rows_are_validated_with_line_numbers():
    rows, errors = read_volumes(
        [
            "account,date,orders\n",
            "Team A shop,2026-03-01,120\n",
            "Team A shop,2026-03-02,1,200\n",
            "Team A shop,03/03/2026,5\n",
            "Team A shop,2026-03-04,-3\n",
            ",2026-03-05,3\n",
            "Team A shop,2026-03-01,7\n",
        ]
    )
    assert [(r.account, r.date, r.orders) for r in rows] == [("Team A shop", date(2026, 3, 1), 120)]
    assert [str(e) for e in errors] == [
        "line 3: expected 3 columns, found 4 (quote numbers written with a thousands separator)",
        "line 4: date: '03/03/2026' is not a date (YYYY-MM-DD)",
        "line 5: orders: '-3' is not a whole number of orders",
        "line 6: account: required (an account id or its exact name)",
        "line 7: Team A shop on 2026-03-01 already appears on line 2",
    ]
    assert [str(e) for e in read_volumes(["when,orders\n"])[1]] == [
        "line 1: missing column(s) account, date; expected the header account,date,orders"
    ]


def test_the_import_command_reports_bad_rows_and_saves_nothing(tmp_path, amazon):
    csv = tmp_path / "orders.csv"
    csv.write_text(f"account,date,orders\n{amazon.pk},2026-03-01,120\nNo such shop,2026-03-02,3\n")
    out, err = StringIO(), StringIO()

    with pytest.raises(SystemExit) as exit_info:
        call_command("import_order_volumes", str(csv), stdout=out, stderr=err)

    assert exit_info.value.code == 1
    assert f"{csv}:line 3: account: no account with id or name 'No such shop'" in err.getvalue()
    assert "nothing saved" in out.getvalue()
    assert not m.OrderVolume.objects.exists()


def test_the_import_command_saves_and_replaces_days(tmp_path, amazon):
    csv = tmp_path / "orders.csv"
    csv.write_text('account,date,orders\nTeam A shop,2026-03-01,120\nTeam A shop,2026-03-02,"1,300"\n')
    out = StringIO()
    call_command("import_order_volumes", str(csv), stdout=out)
    csv.write_text("date,orders,account\n2026-03-02,1400,Team A shop\n")
    call_command("import_order_volumes", str(csv), stdout=out)

    assert "created=2 updated=0" in out.getvalue()
    assert "created=0 updated=1" in out.getvalue()
    assert dict(m.OrderVolume.objects.values_list("date__day", "orders")) == {1: 120, 2: 1400}


def test_ambiguous_account_names_must_use_the_id(tmp_path, amazon):
    factories.AccountFactory(name=amazon.name)
    csv = tmp_path / "orders.csv"
    csv.write_text("account,date,orders\nTeam A shop,2026-03-01,120\n")
    err = StringIO()
    with pytest.raises(SystemExit):
        call_command("import_order_volumes", str(csv), stdout=StringIO(), stderr=err)
    assert "several accounts are named 'Team A shop'; use the account id" in err.getvalue()


def test_rescue_inquiry_ids_name_the_inquiries_to_answer_first(
    amazon, channel, agent, outsider, other_channel
):
    for index in range(9):
        message = ask(channel, NOW - days(2) - hours(index))
        answer(message, message.received_at + hours(1))
    urgent = ask(channel, NOW - hours(22))  # 1 late of 10 would be 10%... at risk
    ask(channel, NOW - hours(2))
    other_account = other_channel.account
    other_account.marketplace = m.Marketplace.AMAZON
    other_account.save()
    ask(other_channel, NOW - hours(23))

    mine = rescue_inquiry_ids(agent, now=NOW)
    one = rescue_inquiry_ids(agent, amazon, now=NOW)

    assert mine[0] == urgent.inquiry_id
    assert one == mine
    assert rescue_inquiry_ids(agent, other_account, now=NOW) == []
    assert rescue_inquiry_ids(outsider, amazon.pk, now=NOW) == []
    assert set(rescue_inquiry_ids(outsider, now=NOW)) == set(
        m.Inquiry.objects.filter(account=other_account).values_list("pk", flat=True)
    )


def test_presets_are_seeded_from_the_marketplace_facts():
    amazon = m.MarketplacePreset.objects.get(marketplace="amazon")
    assert (amazon.reply_target_seconds, amazon.reply_business_days_only) == (86400, False)
    assert (amazon.late_rate_windows, amazon.late_rate_target_percent) == ([7, 30, 90], 10.0)
    assert (amazon.atoz_risk_hours, amazon.atoz_critical_hours) == (48, 72)
    assert (amazon.complaint_window_days, amazon.complaint_target_per_100_orders) == (60, 1.0)
    assert (amazon.rating_healthy_from, amazon.rating_at_risk_from) == (200, 100)
    walmart = m.MarketplacePreset.objects.get(marketplace="walmart")
    assert (walmart.reply_target_seconds, walmart.late_rate_windows) == (172800, [14, 30, 60, 90])
    assert [(r["name"], r["target_seconds"]) for r in walmart.message_rules] == [
        ("Regulator complaint", 3600)
    ]
    ebay = m.MarketplacePreset.objects.get(marketplace="ebay")
    assert ebay.reply_target_seconds is None
    assert [(r["name"], r["target_seconds"], r["business_days"]) for r in ebay.message_rules] == [
        ("Return request", 259200, True),
        ("Item not received request", 259200, True),
    ]
    assert m.MarketplacePreset.objects.get(marketplace="shop").reply_target_seconds is None


def test_a_preset_edit_changes_the_targets(amazon, channel):
    from inquiries.selectors.health.metrics import account_health

    ask(channel, NOW - days(2))
    preset = m.MarketplacePreset.objects.get(marketplace="amazon")
    preset.late_rate_windows = [7, 14]
    preset.late_rate_target_percent = 50.0
    preset.save()

    report = account_health(amazon, NOW)

    assert [k.key for k in report.metrics if k.key.startswith("late_")] == [
        "late_response_rate_7d",
        "late_response_rate_14d",
    ]
    assert report.metric("late_response_rate_7d").target == 0.5


def test_the_admin_refuses_a_broken_preset():
    from django.core.exceptions import ValidationError

    preset = m.MarketplacePreset.objects.get(marketplace="amazon")
    preset.late_rate_windows = [7, "thirty"]
    preset.atoz_critical_hours = 24
    with pytest.raises(ValidationError) as info:
        preset.full_clean()
    assert set(info.value.message_dict) == {"late_rate_windows", "atoz_critical_hours"}


def test_the_preset_admin_pages_open(superuser, client):
    client.force_login(superuser)
    preset = m.MarketplacePreset.objects.get(marketplace="amazon")
    assert client.get(f"/admin/inquiries/marketplacepreset/{preset.pk}/change/").status_code == 200
    assert client.get("/admin/inquiries/healthsnapshot/").status_code == 200
    assert client.get("/admin/inquiries/ordervolume/add/").status_code == 200


def test_snapshots_keep_the_same_keys_the_api_lists(amazon):
    snapshot = write_snapshot(account=amazon, day=NOW.date() - timedelta(days=1), now=NOW)
    assert {metric["key"] for metric in snapshot.metrics} >= {
        "late_response_rate_7d",
        "late_response_rate_30d",
        "late_response_rate_90d",
        "response_time_p50_seconds",
        "response_time_p90_seconds",
        "atoz_risk_count",
        "open_clusters",
        "complaint_rate_quality",
    }
