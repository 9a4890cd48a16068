"""Seed the marketplace presets (DESIGN section 4) from `inquiries.health.presets`.

Rows an admin already created for a marketplace are kept as they are. Reversing deletes
only the presets that still equal the seed.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.health.presets import DEFAULT_PRESETS

    MarketplacePreset = apps.get_model("inquiries", "MarketplacePreset")
    for marketplace, values in DEFAULT_PRESETS.items():
        MarketplacePreset.objects.get_or_create(marketplace=marketplace, defaults=_known(MarketplacePreset, values))


def unseed(apps, schema_editor):
    from inquiries.health.presets import DEFAULT_PRESETS

    MarketplacePreset = apps.get_model("inquiries", "MarketplacePreset")
    for marketplace, values in DEFAULT_PRESETS.items():
        MarketplacePreset.objects.filter(marketplace=marketplace, **_known(MarketplacePreset, values)).delete()


def _known(model, values):
    """The seed's values for the fields the model has at this point of its history (the seed
    grows with later migrations, which fill their own fields in; tests reseed with this too)."""
    fields = {field.name for field in model._meta.get_fields()}
    return {name: value for name, value in values.items() if name in fields}


class Migration(migrations.Migration):

    dependencies = [
        ("inquiries", "0008_health"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
