from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0056_inquiry_linked_order_unconstrained"),
    ]

    operations = [
        migrations.AlterField(
            model_name="orderrollupstate",
            name="built_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the rollup was last built whole (empty: not built for this zone and marketplace).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="orderrollupstate",
            name="first_day",
            field=models.DateField(
                blank=True,
                help_text="The first local day the last build counted: a window starting earlier is counted live.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="orderrollupstate",
            name="rebuild_next_day",
            field=models.DateField(
                blank=True,
                help_text="A rebuild under way goes on from this local day (empty: none under way).",
                null=True,
            ),
        ),
    ]
