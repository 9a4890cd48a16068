"""Account health: a partial index of the messages not answered in time, and a narrower
index of all messages needing a response (see inquiries.selectors.health.metrics for the queries).

Like 0008_health, the indexes are created with RunPython and kept out of the migration
state: they are partial covering indexes (INCLUDE on PostgreSQL, plain on SQLite) on a
model other modules own, and `makemigrations --check` must stay clean.
"""

from django.db import migrations, models
from django.db.models import F, Q

# inquiries.selectors.health.metrics repeats these conditions literally, so the planner can prove
# that a query's WHERE clause implies the partial index's predicate.
NEEDS_RESPONSE = Q(direction="inbound", automatic=False, no_response_needed=False)
WITH_DEADLINE = NEEDS_RESPONSE & Q(response_due_at__isnull=False)
NOT_IN_TIME = Q(answered_at__isnull=True) | Q(answered_at__gt=F("response_due_at"))

OLD_RECEIVED = models.Index(
    fields=["channel", "received_at"],
    include=["id", "response_due_at", "answered_at", "inquiry", "order_id"],
    condition=NEEDS_RESPONSE,
    name="message_health_received",
)
# Messages with a marketplace deadline: COUNT(*) per window is an index-only range scan per
# channel with nothing to test per row; answer times and deadlines come from the index.
RECEIVED = models.Index(
    fields=["channel", "received_at"],
    include=["id", "response_due_at", "answered_at"],
    condition=WITH_DEADLINE,
    name="message_health_received",
)
# Messages not answered in time (yet), about a tenth of them: late counts, the reasons,
# A-to-z risks; inquiry and order id let those queries stay index-only.
LATE = models.Index(
    fields=["channel", "received_at"],
    include=["id", "response_due_at", "answered_at", "inquiry", "order_id"],
    condition=WITH_DEADLINE & NOT_IN_TIME,
    name="message_health_late",
)


def forwards(apps, schema_editor):
    message = apps.get_model("inquiries", "Message")
    schema_editor.remove_index(message, OLD_RECEIVED)
    schema_editor.add_index(message, RECEIVED)
    schema_editor.add_index(message, LATE)


def backwards(apps, schema_editor):
    message = apps.get_model("inquiries", "Message")
    schema_editor.remove_index(message, LATE)
    schema_editor.remove_index(message, RECEIVED)
    schema_editor.add_index(message, OLD_RECEIVED)


class Migration(migrations.Migration):

    dependencies = [
        ("inquiries", "0012_report_rollups"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
