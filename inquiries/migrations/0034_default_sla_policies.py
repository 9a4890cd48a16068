"""Every account without an applicable SLA policy gets the default one (as new accounts do in
`services.config.create_account`): first and next reply 24 h, resolution 72 h, on a business
calendar of Monday to Friday 09:00-17:00 in the account's time zone. Running clocks are not
touched here: `manage.py recompute_sla` re-picks policies for open inquiries."""

from django.db import migrations
from django.db.models import Exists, OuterRef

HOURS = {str(weekday): [["09:00", "17:00"]] for weekday in range(5)}
TARGETS = {"first_reply_seconds": 24 * 3600, "next_reply_seconds": 24 * 3600, "resolution_seconds": 72 * 3600}
PRIORITIES = ("low", "normal", "high", "urgent")


def add_default_policies(apps, schema_editor):
    Account = apps.get_model("inquiries", "Account")
    Calendar = apps.get_model("inquiries", "Calendar")
    SlaPolicy = apps.get_model("inquiries", "SlaPolicy")
    SlaTarget = apps.get_model("inquiries", "SlaTarget")
    active = SlaPolicy.objects.filter(is_active=True)
    if active.filter(accounts__isnull=True).exists():
        return  # a policy for every account exists
    for account in Account.objects.exclude(Exists(active.filter(accounts=OuterRef("pk")))):
        label = f"{account.name[:70]} (account {account.pk})"
        calendar = Calendar.objects.create(name=f"Business hours: {label}", timezone=account.timezone, hours=HOURS)
        policy = SlaPolicy.objects.create(name=f"Default: {label}", position=1000, calendar=calendar)
        policy.accounts.add(account)
        SlaTarget.objects.bulk_create(SlaTarget(policy=policy, priority=p, **TARGETS) for p in PRIORITIES)


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0033_order_health_indexes")]

    operations = [migrations.RunPython(add_default_policies, migrations.RunPython.noop)]
