"""Account health (issue 7): marketplace presets, daily snapshots, order volumes, and the
indexes the health computation reads through.

The indexes are created with RunPython, not AddIndex: they are partial covering indexes
(INCLUDE on PostgreSQL, plain on SQLite) on tables whose models belong to other modules,
so they are kept out of the migration state; `makemigrations --check` stays clean.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Q

# The health query's filter (inquiries.selectors.health.metrics.needs_response) repeats this
# condition literally, so the planner can use the partial indexes.
NEEDS_RESPONSE = Q(direction="inbound", automatic=False, no_response_needed=False)


def health_indexes():
    return [
        # Late rates, response times, reasons and the rescue list: one index-only range
        # scan per channel over received_at; every column the health queries read from a
        # message (id, deadline, answer time, inquiry, order id) is in the index itself.
        ("message", models.Index(
            fields=["channel", "received_at"],
            include=["id", "response_due_at", "answered_at", "inquiry", "order_id"],
            condition=NEEDS_RESPONSE,
            name="message_health_received",
        )),
        # Complaint rates: inquiries opened in the window per topic.
        ("inquiry", models.Index(
            fields=["account", "opened_at"], include=["topic"], name="inquiry_health_opened",
        )),
    ]


def add_indexes(apps, schema_editor):
    for model_name, index in health_indexes():
        schema_editor.add_index(apps.get_model("inquiries", model_name), index)


def remove_indexes(apps, schema_editor):
    for model_name, index in health_indexes():
        schema_editor.remove_index(apps.get_model("inquiries", model_name), index)


class Migration(migrations.Migration):

    dependencies = [
        ('inquiries', '0007_reports'),
    ]

    operations = [
        migrations.CreateModel(
            name='MarketplacePreset',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('marketplace', models.CharField(choices=[('amazon', 'Amazon'), ('walmart', 'Walmart'), ('ebay', 'eBay'), ('shop', 'Own shop'), ('other', 'Other')], help_text='The marketplace these rules apply to.', max_length=16, unique=True)),
                ('name', models.CharField(help_text='Shown on the health page.', max_length=100)),
                ('reply_target_seconds', models.PositiveIntegerField(blank=True, help_text="The marketplace's reply deadline in seconds (Amazon 86400 = 24 h). Empty: no marketplace rule, the late rate is first-reply compliance against the account's SLA policy.", null=True)),
                ('reply_business_days_only', models.BooleanField(default=False, help_text="Calendar rule: off counts calendar time, weekends and holidays included (Amazon, Walmart); on counts Monday to Friday in the account's time zone (eBay's business days).")),
                ('reply_rule', models.TextField(blank=True, help_text="The rule in the marketplace's words, for people.")),
                ('rate_name', models.CharField(help_text="The marketplace's name for the late-response metric, e.g. Late Response Rate.", max_length=100)),
                ('late_rate_windows', models.JSONField(default=list, help_text='Windows in days over which the late response rate is measured, e.g. [7, 30, 90].')),
                ('late_rate_target_percent', models.FloatField(help_text='Highest acceptable share of messages answered late or not at all, in percent (Amazon 10).')),
                ('at_risk_ratio', models.FloatField(default=0.8, help_text="A metric is 'at risk' once it reaches this share of its target (0.8: a 10% target is at risk from 8%); above the target it is 'critical'.")),
                ('response_p50_target_seconds', models.PositiveIntegerField(blank=True, help_text='Target for the median response time in seconds; empty for none.', null=True)),
                ('response_p90_target_seconds', models.PositiveIntegerField(blank=True, help_text='Target for the 90th percentile response time in seconds; empty for none.', null=True)),
                ('response_mean_target_seconds', models.PositiveIntegerField(blank=True, help_text='Target for the average response time in seconds; empty for none.', null=True)),
                ('atoz_risk_hours', models.PositiveSmallIntegerField(blank=True, help_text='Amazon: an order-related message unanswered this long is an A-to-z claim risk (48). Empty: no A-to-z metric.', null=True)),
                ('atoz_critical_hours', models.PositiveSmallIntegerField(blank=True, help_text='Amazon: unanswered this long, an A-to-z claim can be granted (72); the metric is critical.', null=True)),
                ('escalation_reply_seconds', models.PositiveIntegerField(blank=True, help_text='Walmart: complaints through the Better Business Bureau or an Attorney General must be answered within this many seconds (3600). Shown on the health page.', null=True)),
                ('escalation_terms', models.JSONField(blank=True, default=list, help_text='Words that mark such an escalated complaint, e.g. ["Attorney General"].')),
                ('complaint_window_days', models.PositiveSmallIntegerField(default=30, help_text='Complaint rates count the inquiries opened in this many days (Amazon: 60, as the ODR).')),
                ('complaint_target_per_100_orders', models.FloatField(blank=True, help_text='Highest acceptable complaints of one topic per 100 orders (Amazon: Order Defect Rate below 1%, so 1). Used when daily order volumes are known.', null=True)),
                ('complaint_target_per_100_inquiries', models.FloatField(blank=True, help_text='Highest acceptable complaints of one topic per 100 inquiries, used when no order volumes are known (a house default).', null=True)),
                ('cluster_at_risk_severity', models.PositiveSmallIntegerField(default=3, help_text='An open cluster of this severity or worse puts the account at risk (3 = high).')),
                ('cluster_critical_severity', models.PositiveSmallIntegerField(default=4, help_text='An open cluster of this severity makes the account critical (4 = critical).')),
                ('rating_healthy_from', models.PositiveSmallIntegerField(blank=True, help_text='Amazon Account Health Rating: healthy from this score (200).', null=True)),
                ('rating_at_risk_from', models.PositiveSmallIntegerField(blank=True, help_text='Amazon Account Health Rating: at risk from this score (100); below is critical.', null=True)),
                ('notes', models.TextField(blank=True, help_text='Where the targets come from; shown on the health page.')),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['marketplace'],
                'constraints': [models.CheckConstraint(condition=models.Q(('at_risk_ratio__gt', 0), ('at_risk_ratio__lt', 1)), name='preset_at_risk_ratio_0_1'), models.CheckConstraint(condition=models.Q(('late_rate_target_percent__gte', 0), ('late_rate_target_percent__lte', 100)), name='preset_late_target_percent')],
            },
        ),
        migrations.CreateModel(
            name='HealthSnapshot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField(help_text="The day in the account's time zone.")),
                ('as_of', models.DateTimeField(help_text='The instant computed: the end of the day, or the last refresh today.')),
                ('status', models.CharField(choices=[('healthy', 'Healthy'), ('at_risk', 'At risk'), ('critical', 'Critical')], max_length=16)),
                ('metrics', models.JSONField(default=list, help_text='[{"key", "value", "target", "status", "numerator", "denominator"}, ...]')),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='health_snapshots', to='inquiries.account')),
            ],
            options={
                'ordering': ['account', 'date'],
                'constraints': [models.UniqueConstraint(fields=('account', 'date'), name='health_snapshot_unique_day')],
            },
        ),
        migrations.CreateModel(
            name='OrderVolume',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField(help_text="The day in the account's time zone.")),
                ('orders', models.PositiveIntegerField(help_text='Orders received that day.')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='order_volumes', to='inquiries.account')),
            ],
            options={
                'ordering': ['account', 'date'],
                'constraints': [models.UniqueConstraint(fields=('account', 'date'), name='order_volume_unique_day')],
            },
        ),
        migrations.RunPython(add_indexes, remove_indexes),
    ]
