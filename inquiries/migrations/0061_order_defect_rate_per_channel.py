from django.db import migrations


def count_the_new_measures(apps, schema_editor):
    """Amazon's Order Defect Rate is counted per fulfilment channel under two new measures: the
    rows of the old one (every channel) go, and Amazon accounts' rollups are marked unbuilt, so
    that the new measures are never read empty (the figures are counted live until the next
    build, which beat's task starts within ten minutes)."""
    apps.get_model("inquiries", "OrderMetricDay").objects.filter(measure="order_defect").delete()
    apps.get_model("inquiries", "OrderRollupState").objects.filter(marketplace="amazon").update(built_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0060_complaint_topic_linked_order"),
    ]

    operations = [
        migrations.RunPython(count_the_new_measures, migrations.RunPython.noop),
    ]
