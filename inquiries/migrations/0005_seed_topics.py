"""Seed the default topics and their keyword/regex rules (English, German, Spanish, French).

The data lives in `inquiries.complaints.rules` (DEFAULT_TOPICS, DEFAULT_RULES), a pure module
whose tests check it; it is imported inside the function so this migration always seeds
the rules as they are at the time it runs. Topics an admin already created with the same
key are kept (their name and flags are not overwritten) and only get rules added when they
have none. Reversing deletes the seeded rules, and the seeded topics that no inquiry uses.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from inquiries.complaints.rules import DEFAULT_RULES, DEFAULT_TOPICS

    Topic = apps.get_model("inquiries", "Topic")
    TopicRule = apps.get_model("inquiries", "TopicRule")
    topics = {}
    for position, definition in enumerate(DEFAULT_TOPICS, start=1):
        topic, _ = Topic.objects.get_or_create(
            key=definition.key,
            defaults={
                "name": definition.name,
                "is_complaint": definition.is_complaint,
                "health_category": definition.health_category,
                "position": position * 10,
            },
        )
        topics[definition.key] = topic
    has_rules = set(TopicRule.objects.values_list("topic__key", flat=True))
    TopicRule.objects.bulk_create(
        TopicRule(
            topic=topics[rule.topic],
            kind=rule.kind,
            pattern=rule.pattern,
            language=rule.language,
            weight=rule.weight,
        )
        for rule in DEFAULT_RULES
        if rule.topic not in has_rules
    )


def unseed(apps, schema_editor):
    from inquiries.complaints.rules import DEFAULT_RULES, DEFAULT_TOPICS

    Topic = apps.get_model("inquiries", "Topic")
    TopicRule = apps.get_model("inquiries", "TopicRule")
    keys = [definition.key for definition in DEFAULT_TOPICS]
    patterns = {(rule.topic, rule.kind, rule.pattern, rule.language) for rule in DEFAULT_RULES}
    seeded = [
        rule.pk
        for rule in TopicRule.objects.filter(topic__key__in=keys).select_related("topic")
        if (rule.topic.key, rule.kind, rule.pattern, rule.language) in patterns
    ]
    TopicRule.objects.filter(pk__in=seeded).delete()
    Topic.objects.filter(key__in=keys, inquiries__isnull=True, rules__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0004_complaints"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
