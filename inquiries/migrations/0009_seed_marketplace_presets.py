"""Seed the marketplace presets (DESIGN section 4) from `inquiries.health.presets`.

Rows an admin already created for a marketplace are kept as they are. Reversing deletes
only the presets that still equal the seed.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.health.presets import DEFAULT_PRESETS

    MarketplacePreset = apps.get_model("inquiries", "MarketplacePreset")
    for marketplace, values in DEFAULT_PRESETS.items():
        MarketplacePreset.objects.get_or_create(marketplace=marketplace, defaults=dict(values))


def unseed(apps, schema_editor):
    from inquiries.health.presets import DEFAULT_PRESETS

    MarketplacePreset = apps.get_model("inquiries", "MarketplacePreset")
    for marketplace, values in DEFAULT_PRESETS.items():
        MarketplacePreset.objects.filter(marketplace=marketplace, **values).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("inquiries", "0008_health"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
