"""The queue's search: PostgreSQL full-text over each inquiry's search document, substrings elsewhere."""

from __future__ import annotations

import re
from typing import TypeVar

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Expression, Q, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from inquiries.models import Inquiry, Message

# The same expressions as the GIN indexes of migration 0002_queue_search: PostgreSQL only
# uses an expression index when the query repeats the indexed expression exactly.
SEARCH_CONFIG = "simple"
_SEARCH_WORD = re.compile(r"[\w@.+-]+")

_Inquiries = TypeVar("_Inquiries", bound=QuerySet[Inquiry])


def search(queryset: _Inquiries, text: str) -> _Inquiries:
    """Inquiries whose subject, order id, customer or any message body matches `text`.

    Every word must match. On PostgreSQL this is full-text search on 'simple' (no stemming,
    so order ids and addresses stay intact), each word a prefix; elsewhere each word is a
    case-insensitive substring.
    """
    text = text.strip()[:200]
    if connection.vendor == "postgresql":
        return queryset.filter(_postgres_search(text))
    conditions = Q()
    for word in text.split()[:10]:
        bodies = Message.objects.filter(body_text__icontains=word).values("inquiry_id")
        conditions &= (
            Q(subject__icontains=word)
            | Q(order_id__icontains=word)
            | Q(customer__address__icontains=word)
            | Q(customer__name__icontains=word)
            | Q(pk__in=bodies)
        )
    return queryset.filter(conditions)


class _DocumentMatches(Expression):
    """`<inquiry>.search_document @@ to_tsquery('simple', query)`, on whatever alias the inquiry
    table has in the query being compiled (the queue's branches are subqueries)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, tsquery: str) -> None:
        super().__init__()
        self.tsquery = tsquery

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list[str | int]]:
        alias = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        return f"{alias}.search_document @@ to_tsquery('simple', %s)", [self.tsquery]


def _postgres_search(text: str) -> Q:
    """Every word in the inquiry's search document (a prefix, unless it has a digit): its
    subject, order id and customer, and the bodies of its messages (kept by triggers, 0017).

    A plain predicate on the inquiry row: the planner walks the queue's deadline index and
    tests rows as it goes for a common word, or starts from the document's GIN index for a
    rare one, and the column's statistics tell it which.
    """
    # Only word characters reach to_tsquery, each quoted and marked as a prefix, so no
    # input can be a tsquery syntax error.
    words = [w.replace("'", "") for w in _SEARCH_WORD.findall(text.lower())][:10]
    # An exact order id through its b-tree index: with the GIN index that makes a BitmapOr,
    # so a rare word or an order id is found from the indexes, never by walking the queue.
    exact_order = Q(order_id=text.strip()[:100])
    if not words:
        return exact_order
    return exact_order | Q(_DocumentMatches(" & ".join(_query_term(word) for word in words)))


def _query_term(word: str) -> str:
    """A word as a prefix ("packag" finds "packaging"); a word with a digit (an order id, a
    SKU, a number) as whole tokens: a prefix of "-0000001" would gather every order id of a
    marketplace's format into one bitmap before the other words could narrow it."""
    return f"'{word}'" if any(char.isdigit() for char in word) else f"'{word}':*"
