"""eBay's feedback, returns and cases (issue 20).

- `OrderLine.transaction_id`: eBay's Transaction ID; with the item id, how eBay's returns,
  cases and feedback name an order's line.
- `Claim.external_id` (unique per order; NULL for a claim entered by hand) and `Claim.status`:
  an eBay case's id and status, so re-importing cases updates them.
- `Feedback.polarity` (positive / neutral / negative), filled for the stored star ratings as
  the metrics read them (1-2 negative, 3 neutral, 4-5 positive); `Feedback.rating` becomes
  nullable (eBay rates by polarity only), its check still 1..5 when set.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0048_amazon_connector"),
    ]

    operations = [
        migrations.AddField(
            model_name="claim",
            name="external_id",
            field=models.CharField(
                blank=True,
                help_text="The marketplace's id of the claim, unique per order (eBay: caseId); empty for one entered by hand.",
                max_length=200,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="claim",
            name="status",
            field=models.CharField(
                blank=True,
                help_text="The claim's status in the marketplace's words (eBay: caseStatusEnum, e.g. CS_CLOSED).",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="feedback",
            name="polarity",
            field=models.CharField(
                choices=[("positive", "Positive"), ("neutral", "Neutral"), ("negative", "Negative")],
                default="",
                help_text="Positive, neutral or negative: eBay's own word (CommentType), or for a star rating 1-2 negative, 3 neutral, 4-5 positive. The metrics count negative feedback by it.",
                max_length=8,
            ),
            preserve_default=False,
        ),
        migrations.RunSQL(
            "UPDATE inquiries_feedback SET polarity = CASE WHEN rating <= 2 THEN 'negative' "
            "WHEN rating = 3 THEN 'neutral' ELSE 'positive' END",
            migrations.RunSQL.noop,
        ),
        migrations.AddField(
            model_name="orderline",
            name="transaction_id",
            field=models.CharField(
                blank=True,
                help_text="eBay's Transaction ID: with the item id, how eBay's returns, cases and feedback name the line (the orders download's Transaction ID); empty elsewhere.",
                max_length=64,
            ),
        ),
        migrations.AlterField(
            model_name="claim",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Open"),
                    ("for_buyer", "Decided for the buyer (a defect)"),
                    ("for_seller", "Decided for the seller"),
                    ("withdrawn", "Withdrawn by the buyer"),
                    ("resolved", "Closed without the marketplace deciding (resolved with the seller)"),
                ],
                default="",
                help_text="The marketplace's decision; for the buyer, it is a defect.",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="feedback",
            name="rating",
            field=models.PositiveSmallIntegerField(
                blank=True,
                choices=[
                    (1, "1 (negative)"),
                    (2, "2 (negative)"),
                    (3, "3 (neutral)"),
                    (4, "4 (positive)"),
                    (5, "5 (positive)"),
                ],
                help_text="1 to 5 stars; empty where the marketplace rates by polarity only (eBay).",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="orderline",
            index=models.Index(
                condition=models.Q(("transaction_id", ""), _negated=True),
                fields=["item_id", "transaction_id"],
                name="order_line_transaction",
            ),
        ),
        migrations.AddConstraint(
            model_name="claim",
            constraint=models.UniqueConstraint(fields=("order", "external_id"), name="claim_unique_id"),
        ),
        migrations.AddConstraint(
            model_name="feedback",
            constraint=models.CheckConstraint(
                condition=models.Q(polarity__in=["positive", "neutral", "negative"]),
                name="feedback_polarity_known",
            ),
        ),
    ]
