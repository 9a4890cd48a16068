"""A partial index of the negative feedback not removed (issue 21): the lists of the orders behind
Amazon's two Order Defect Rates hash these rows from it instead of reading the whole feedback table."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inquiries', '0061_idempotency_key_language'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='feedback',
            index=models.Index(condition=models.Q(('polarity', 'negative'), ('removed', False)), fields=['order', 'left_at'], name='feedback_negative'),
        ),
    ]
