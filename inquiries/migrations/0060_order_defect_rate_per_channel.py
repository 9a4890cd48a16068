from django.db import migrations

NEW_MEASURES = ("order_defect_seller", "order_defect_marketplace")


def unbuild_amazon_rollups(apps, measures):
    """Amazon accounts' rollups marked unbuilt, any rebuild under way forgotten, so the next step
    starts a whole build (which deletes the account's rows first) and no figure is read from days
    counted under the other measures meanwhile: they are counted live until then."""
    apps.get_model("inquiries", "OrderMetricDay").objects.filter(measure__in=measures).delete()
    apps.get_model("inquiries", "OrderRollupState").objects.filter(marketplace="amazon").update(
        built_at=None, rebuild_next_day=None
    )


def count_the_new_measures(apps, schema_editor):
    """Amazon's Order Defect Rate is counted per fulfilment channel under two new measures: the
    rows of the old one (every channel) go, and Amazon accounts' rollups are rebuilt from scratch
    (beat's task starts within ten minutes; a rebuild that was under way restarts too, or it would
    finish from its cursor and leave the days before it without the new measures)."""
    unbuild_amazon_rollups(apps, ("order_defect",))


def count_the_old_measure(apps, schema_editor):
    """Back: the per-channel rows go and the rollups are rebuilt under the old measure."""
    unbuild_amazon_rollups(apps, NEW_MEASURES)


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0059_translatable_model_texts"),
    ]

    operations = [
        migrations.RunPython(count_the_new_measures, count_the_old_measure),
    ]
