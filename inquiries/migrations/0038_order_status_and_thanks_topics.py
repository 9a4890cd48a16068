"""Add the non-complaint topics "order_status" and "thanks" to databases seeded before them.

"Where is my order?" used to be filed under delivery (a complaint); it is now an order-status
question until the order's promised delivery date has passed. This migration creates the
two topics (kept as they are if an admin already made topics with these keys), adds their
seed rules, and moves the seeded "where is my order" rules from delivery to order_status
where they are still as seeded (a rule an admin edited is left alone). On a database
seeded by 0005 with today's rules there is nothing left to do. Reversing moves those rules
back, deletes the two topics' other seed rules and the topics if no inquiry uses them.
"""

from django.db import migrations

NEW_TOPICS = ("order_status", "thanks")


def _seed_rules():
    from inquiries.complaints.rules import DEFAULT_RULES

    return [rule for rule in DEFAULT_RULES if rule.topic in NEW_TOPICS]


def forward(apps, schema_editor):
    from inquiries.complaints.rules import DEFAULT_TOPICS

    Topic = apps.get_model("inquiries", "Topic")
    TopicRule = apps.get_model("inquiries", "TopicRule")
    topics = {}
    for position, definition in enumerate(DEFAULT_TOPICS, start=1):
        if definition.key in NEW_TOPICS:
            topics[definition.key], _ = Topic.objects.get_or_create(
                key=definition.key,
                defaults={
                    "name": definition.name,
                    "is_complaint": definition.is_complaint,
                    "health_category": definition.health_category,
                    "position": position * 10,
                },
            )
    for rule in _seed_rules():
        existing = TopicRule.objects.filter(kind=rule.kind, pattern=rule.pattern, language=rule.language)
        if existing.filter(topic=topics[rule.topic]).exists():
            continue
        existing.filter(topic__key="delivery", weight__in=(1.0, 1.5)).update(topic=topics[rule.topic])
        if not TopicRule.objects.filter(topic=topics[rule.topic], kind=rule.kind, pattern=rule.pattern).exists():
            TopicRule.objects.create(
                topic=topics[rule.topic],
                kind=rule.kind,
                pattern=rule.pattern,
                language=rule.language,
                weight=rule.weight,
            )


def backward(apps, schema_editor):
    Topic = apps.get_model("inquiries", "Topic")
    TopicRule = apps.get_model("inquiries", "TopicRule")
    delivery = Topic.objects.filter(key="delivery").first()
    for rule in _seed_rules():
        rows = TopicRule.objects.filter(topic__key=rule.topic, kind=rule.kind, pattern=rule.pattern)
        if rule.topic == "order_status" and delivery is not None:
            rows.update(topic=delivery)
        else:
            rows.delete()
    Topic.objects.filter(key__in=NEW_TOPICS, inquiries__isnull=True, rules__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0037_rotas"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
