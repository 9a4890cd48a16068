"""SQL expressions the reports need and Django has no portable form of (PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from django.db import NotSupportedError
from django.db.models import DateField, Expression, F, FloatField, Func, IntegerField, Value

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

# What the vendor methods below return: the SQL and its parameters, which come from
# `compiler.compile()` (strings and numbers) and from the expression itself.
Sql = tuple[str, list[str | int]]


class _PostgresAndSqlite(Func):
    """A function written for PostgreSQL and SQLite only (`as_postgresql`, `as_sqlite`)."""

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> NoReturn:
        raise NotSupportedError(f"{type(self).__name__} supports PostgreSQL and SQLite only.")


class LocalPart(_PostgresAndSqlite):
    """The ISO weekday (1 = Monday) or hour of a datetime in a time zone read from a column.

    Django's Extract takes one time zone per query; the heatmap needs each message in its
    own account's zone, so the zone is an expression here (`inquiry__account__timezone`).
    """

    output_field = IntegerField()
    PARTS = {"iso_week_day": "ISODOW", "hour": "HOUR"}

    def __init__(self, expression: str | Expression, timezone: str | Expression, part: str) -> None:
        if part not in self.PARTS:
            raise ValueError(f"Unsupported part {part!r}")
        self.part = part
        super().__init__(
            F(expression) if isinstance(expression, str) else expression,
            F(timezone) if isinstance(timezone, str) else timezone,
        )

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Sql:
        value, value_params = compiler.compile(self.source_expressions[0])
        zone, zone_params = compiler.compile(self.source_expressions[1])
        sql = f"EXTRACT({self.PARTS[self.part]} FROM ({value} AT TIME ZONE {zone}))::integer"
        return sql, [*value_params, *zone_params]

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Sql:
        # The function Django registers on every SQLite connection for Extract(); stored
        # datetimes are UTC, which is the last argument.
        value, value_params = compiler.compile(self.source_expressions[0])
        zone, zone_params = compiler.compile(self.source_expressions[1])
        sql = f"django_datetime_extract(%s, {value}, {zone}, %s)"
        return sql, [self.part, *value_params, *zone_params, "UTC"]


class SecondsBetween(_PostgresAndSqlite):
    """`end - start` in seconds, as a float (calendar time, nothing subtracted)."""

    output_field = FloatField()

    def __init__(self, end: str | Expression, start: str | Expression) -> None:
        super().__init__(
            F(end) if isinstance(end, str) else end, F(start) if isinstance(start, str) else start
        )

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Sql:
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return f"EXTRACT(EPOCH FROM ({end} - {start}))::double precision", [*end_params, *start_params]

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Sql:
        # Microseconds from the function Django registers for DurationField arithmetic.
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return f"(django_timestamp_diff({end}, {start}) / 1000000.0)", [*end_params, *start_params]


def constant(value: int) -> Value:
    return Value(value, output_field=IntegerField())


class LocalDate(_PostgresAndSqlite):
    """The calendar date of a datetime in a time zone read from a column (each row its own zone)."""

    output_field = DateField()

    def __init__(self, expression: str | Expression, timezone: str | Expression) -> None:
        super().__init__(
            F(expression) if isinstance(expression, str) else expression,
            F(timezone) if isinstance(timezone, str) else timezone,
        )

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Sql:
        value, value_params = compiler.compile(self.source_expressions[0])
        zone, zone_params = compiler.compile(self.source_expressions[1])
        return f"(({value} AT TIME ZONE {zone}))::date", [*value_params, *zone_params]

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Sql:
        value, value_params = compiler.compile(self.source_expressions[0])
        zone, zone_params = compiler.compile(self.source_expressions[1])
        return f"django_datetime_cast_date({value}, {zone}, %s)", [*value_params, *zone_params, "UTC"]
