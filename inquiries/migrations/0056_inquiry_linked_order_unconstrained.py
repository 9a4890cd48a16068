"""`Inquiry.linked_order` loses its database constraint; deleting orders unlinks through the
indexed (account, order_id).

Migration 0054 took the link column out of every index so that linking is a heap-only update.
The foreign key stayed, and PostgreSQL checks it for each deleted order with
`SELECT 1 ... WHERE linked_order_id = $1`: without an index, a scan of the whole inquiry table
(which the fillfactor of 0054 made twice as long) per order, and Django's SET_NULL added one
more per batch. So the field keeps no constraint and does nothing on delete; every deletion of
orders goes through `services.order_deletion.delete_orders`, which nulls the links of the
inquiries naming the deleted orders, found by the (account, order_id) index (docs/orders.md).

PostgreSQL: drops the constraint (a catalogue change, no table rewrite). SQLite: rebuilds the
table without the REFERENCES clause.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0055_report_section_rollups"),
    ]

    operations = [
        migrations.AlterField(
            model_name="inquiry",
            name="linked_order",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                help_text="The imported order whose marketplace order id is this inquiry's order id.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="inquiries",
                to="inquiries.order",
            ),
        ),
    ]
