"""`field__any=values`: the rows of `field__in=values`, in SQL that does not grow with the list.

On PostgreSQL `"column" = ANY(%s)` with the values as one array parameter; elsewhere it is
`IN (...)`. The rows and the plans are the same (PostgreSQL turns an IN list into the same
ANY of an array), but an IN list of hundreds of values is a new statement each time: Django
renders a placeholder per value and the driver splits the text again for every call, which
is most of what the bulk writers' lookups cost on the client (a batch of an import looks up
its hundreds of ids, addresses and references this way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import CharField, ForeignObject, IntegerField, TextField
from django.db.models.expressions import ColPairs  # type: ignore[attr-defined]  # django-stubs 5.2.9 lacks ColPairs, new in Django 5.2
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In


class _OneArray(In):
    """The PostgreSQL form of an IN lookup with a list: one array parameter."""

    lookup_name = "any"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, Sequence[Any]]:
        if not self.rhs_is_direct_value() or isinstance(self.lhs, ColPairs):  # as IN would
            return self.as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = list(
            dict.fromkeys(
                field.get_db_prep_value(value, connection, prepared=True)
                for value in self.rhs
                if value is not None
            )
        )
        if not values:
            raise EmptyResultSet
        return f"{lhs} = ANY(%s)", (*lhs_params, values)


class AnyOf(_OneArray):
    pass


# The plain column types the bulk writers look up by (not every Field: a JSONField's
# `data__any` stays the key "any").
for _field in (CharField, TextField, IntegerField):
    _field.register_lookup(AnyOf)


@ForeignObject.register_lookup
class RelatedAnyOf(_OneArray, RelatedIn):
    """`customer__any=[...]`, `customer_id__any=[...]`: ids or instances, as `__in` takes them."""
