"""`field__any`: the rows of `field__in`, one array parameter on PostgreSQL (inquiries/models/lookups.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q

from inquiries.models import Customer, Inquiry, Message
from inquiries.services import record_message
from tests.factories import incoming

pytestmark = pytest.mark.django_db


def ids(queryset) -> list[int]:
    return sorted(queryset.values_list("pk", flat=True))


def test_any_finds_the_rows_in_finds(channel):
    inquiries = [
        record_message(channel=channel, incoming=incoming(sender_address=f"c{n}@example.com")).message.inquiry
        for n in range(4)
    ]
    wanted = [inquiries[0].pk, inquiries[2].pk, inquiries[2].pk, None, 10**9]
    assert ids(Inquiry.objects.filter(pk__any=wanted)) == ids(Inquiry.objects.filter(pk__in=wanted))
    assert ids(Inquiry.objects.filter(pk__any=set(wanted))) == [inquiries[0].pk, inquiries[2].pk]
    addresses = [inquiries[1].customer.address, "nobody@example.com"]
    assert ids(Customer.objects.filter(address__any=addresses)) == [inquiries[1].customer_id]
    # Foreign keys, by id or by instance, and across a join.
    customers = [inquiries[3].customer_id]
    assert ids(Inquiry.objects.filter(customer_id__any=customers)) == [inquiries[3].pk]
    assert ids(Inquiry.objects.filter(customer__any=[inquiries[3].customer])) == [inquiries[3].pk]
    assert ids(Message.objects.filter(inquiry__customer__any=customers)) == ids(
        Message.objects.filter(inquiry=inquiries[3])
    )
    # Negated and combined as IN is; a subquery as IN takes it.
    assert ids(Inquiry.objects.exclude(pk__any=wanted)) == [inquiries[1].pk, inquiries[3].pk]
    assert ids(Inquiry.objects.filter(Q(pk__any=[inquiries[1].pk]) | Q(pk=inquiries[3].pk))) == [
        inquiries[1].pk,
        inquiries[3].pk,
    ]
    subquery = Message.objects.filter(inquiry=inquiries[1]).values("inquiry_id")
    assert ids(Inquiry.objects.filter(pk__any=subquery)) == [inquiries[1].pk]


def test_an_empty_list_matches_nothing_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert list(Inquiry.objects.filter(pk__any=[])) == []
        assert list(Inquiry.objects.filter(pk__any=[None])) == []


def test_on_postgresql_the_statement_does_not_grow_with_the_list():
    few = Customer.objects.filter(address__any=[f"a{n}@example.com" for n in range(3)])
    many = Customer.objects.filter(address__any=[f"a{n}@example.com" for n in range(300)])
    few_sql = few.query.sql_with_params()[0]
    many_sql, many_params = many.query.sql_with_params()
    if connection.vendor == "postgresql":
        assert few_sql == many_sql
        assert '"address" = ANY(%s)' in many_sql
        assert len(many_params) == 1 and len(many_params[0]) == 300
    else:
        assert many_sql.count("%s") == 300  # IN (...) elsewhere


def test_any_is_not_taken_from_a_json_field_key():
    from django.db.models import JSONField

    from inquiries.models.lookups import AnyOf

    assert JSONField.get_lookups().get("any") is not AnyOf
