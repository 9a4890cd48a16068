"""Reply targets per message type on the marketplace presets (issue 21, point 4).

Walmart's one-hour rule for regulator complaints was text only (`escalation_terms`,
`escalation_reply_seconds`) and eBay's three business days ran on every message. Presets get
`message_rules` (the shipped Walmart and eBay rules where a preset has none; Walmart terms an
admin added to the old list become phrases of its rule), and the eBay preset loses its general
target when it is still the seed's (eBay publishes none for ordinary messages). Clocks name the
rule that set their target.
"""

import re

from django.db import migrations, models


SEEDED_EBAY_TARGET = 3 * 24 * 3600
SEEDED_WALMART_TERMS = {"better business bureau", "bbb", "attorney general"}


def forwards(apps, schema_editor):
    from inquiries.sla.presets import DEFAULT_MESSAGE_RULES

    MarketplacePreset = apps.get_model("inquiries", "MarketplacePreset")
    for preset in MarketplacePreset.objects.filter(marketplace__in=list(DEFAULT_MESSAGE_RULES)):
        if preset.message_rules:
            continue
        rules = [dict(rule) for rule in DEFAULT_MESSAGE_RULES[preset.marketplace]]
        if preset.marketplace == "walmart":
            added = [
                t for t in preset.escalation_terms or [] if str(t).strip().lower() not in SEEDED_WALMART_TERMS
            ]
            rules[0]["phrases"] = [*rules[0]["phrases"], *(re.escape(str(t).strip()) for t in added)]
            if preset.escalation_reply_seconds:
                rules[0]["target_seconds"] = preset.escalation_reply_seconds
        preset.message_rules = rules
        if (
            preset.marketplace == "ebay"
            and preset.reply_target_seconds == SEEDED_EBAY_TARGET
            and preset.reply_business_days_only
        ):
            preset.reply_target_seconds = None
        preset.save(update_fields=["message_rules", "reply_target_seconds"])


def backwards(apps, schema_editor):
    MarketplacePreset = apps.get_model("inquiries", "MarketplacePreset")
    MarketplacePreset.objects.filter(marketplace="ebay", reply_target_seconds=None).update(
        reply_target_seconds=SEEDED_EBAY_TARGET
    )
    walmart = MarketplacePreset.objects.filter(marketplace="walmart").first()
    if walmart is not None:
        walmart.escalation_reply_seconds = 3600
        walmart.escalation_terms = ["Better Business Bureau", "BBB", "Attorney General"]
        walmart.save(update_fields=["escalation_reply_seconds", "escalation_terms"])


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0046_cluster_rates"),
    ]
    operations = [
        migrations.AddField(
            model_name="clock",
            name="rule_name",
            field=models.CharField(
                blank=True,
                help_text="Marketplace clocks: the preset's message rule that set the target (e.g. Regulator complaint); empty for the marketplace's general target.",
                max_length=100,
            ),
        ),
        migrations.AddField(
            model_name="marketplacepreset",
            name="message_rules",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='Reply targets per message type, tried in order; the first that matches a customer message sets its marketplace clock, the others keep the general target above. Each rule: {"name": "Regulator complaint", "target_seconds": 3600, "business_days": false, "senders": ["*@bbb.org"], "phrases": ["\\bAttorney General\\b"], "topics": ["refund"], "definition": "marketplace", "source": "https://..."}. Phrases are case-insensitive regular expressions searched in the subject and body; senders are domains or addresses (* matches any run of characters); topics are topic keys. A rule tests only the conditions it has, and needs at least one. Business days count Monday to Friday (the account\'s reply calendar, with its holidays, if it has one). Applies to messages recorded from a minute after saving.',
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(
            model_name="marketplacepreset",
            name="escalation_reply_seconds",
        ),
        migrations.RemoveField(
            model_name="marketplacepreset",
            name="escalation_terms",
        ),
    ]
