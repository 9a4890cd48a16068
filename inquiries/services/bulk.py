"""Writing many new rows at once: COPY on PostgreSQL, bulk_create elsewhere.

`bulk_create()` builds one INSERT whose every value Django prepares field by field and
psycopg quotes on the client: for the thousands of rows an import batch writes (an
inquiry, its message, clocks and events per e-mail) that preparation cost more than the
database's work. COPY sends the rows as a stream that psycopg's C code formats, and the
ids are drawn from the table's sequence first, so the rows can refer to each other before
they are written, as with `bulk_create()`.
"""

from __future__ import annotations

import functools
import json
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, TypeVar

from django.db import connection, models, transaction
from django.db.models.expressions import DatabaseDefault
from psycopg.copy import LibpqWriter
from psycopg.types.json import Jsonb

_M = TypeVar("_M", bound=models.Model)
Row = Sequence[object]  # a row's values, in the order of its fields


def unsaved(model: type[_M], /, **values: object) -> _M:
    """`model(**values)`, built the cheaper way: the rows an import writes per message.

    Django's keyword constructor looks at every field of the model by name; for the wide rows
    (a message's thirty columns) that cost more than the rest of building them. Here the
    values go in by position, as when rows are loaded, with each field's default where none
    is given; related objects given by field name are then set through the field's own
    descriptor, as the keyword constructor does. `values` takes field names and, for foreign
    keys, their `_id` names; anything else is an error.
    """
    plan = _construction_plan(model)
    args: list[object] = []
    related: list[tuple[str, object]] = []
    for name, attname, relation, default, call in plan:
        if name in values:
            value = values.pop(name)
            if relation:
                related.append((name, value))
                value = None  # set with the related object below
        elif attname in values:
            value = values.pop(attname)
        else:
            value = default() if call else default
        args.append(value)
    if values:
        raise TypeError(f"{model.__name__}: unexpected {', '.join(sorted(values))}")
    obj = model(*args)
    for name, value in related:
        setattr(obj, name, value)
    return obj


@functools.cache
def _construction_plan(model: type[models.Model]) -> list[tuple[str, str, bool, Any, bool]]:
    """(name, attname, is a relation, default or its maker, whether to call it) per concrete
    field, in the order the positional constructor takes them."""
    plan = []
    for field in model._meta.concrete_fields:
        per_instance = (field.has_default() and callable(field.default)) or _has_db_default(field)
        default = field.get_default if per_instance else field.get_default()
        plan.append((field.name, field.attname, field.is_relation, default, per_instance))
    return plan


def insert_rows(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    extra: Mapping[str, Sequence[object]] | None = None,
) -> None:
    """Save new instances of `model` (with their primary keys set, as `bulk_create` does).

    `extra`: values of columns outside the model, by column name, one per object
    (PostgreSQL only: such columns are the database's own, e.g. `documents.SEED_COLUMN`).
    """
    if not objs:
        return
    if connection.vendor != "postgresql" or not _copyable(model):
        if extra:
            raise ValueError("insert_rows: columns outside the model are written on PostgreSQL only")
        model._default_manager.bulk_create(objs)
        return
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.generated]
    _link_saved_relations(meta, objs)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
    # All values in one C call; the few fields that compute their value on save (auto_now...)
    # are fixed up by position.
    values = attrgetter(*(field.attname for field in fields))
    computed = [(i, field) for i, field in enumerate(fields) if _computes_on_save(field)]

    def row(obj: models.Model) -> list[object]:
        out = list(values(obj))
        for i, field in computed:
            out[i] = field.pre_save(obj, True)
        return out

    rows: Iterable[list[object]] = map(row, objs)
    if extra:
        columns = list(extra.values())
        rows = (out + [column[n] for column in columns] for n, out in enumerate(rows))
    _copy(meta, fields, rows, extra=list(extra or ()))
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_values(model: type[models.Model], rows: Sequence[dict[str, object]]) -> None:
    """Insert rows given as {attname: value}; missing fields take their defaults, ids the sequence.

    For rows nothing reads back (events): no model instance is built on PostgreSQL.
    """
    if not rows:
        return
    if connection.vendor != "postgresql" or not _copyable(model):
        model._default_manager.bulk_create([model(**row) for row in rows])
        return
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.generated and field is not meta.pk]
    # One default per column for the whole batch (every row is serialised at once).
    defaults = [(field.attname, field.get_default()) for field in fields]
    _copy(meta, fields, ([values.get(name, default) for name, default in defaults] for values in rows))


def _copy(
    meta: Any, fields: list[models.Field], rows: Iterable[list[object]], *, extra: Sequence[str] = ()
) -> None:
    """COPY `rows` (a value per field, in order, then one per `extra` column) into the
    model's table; values that need it are converted on the way (JSON, database defaults)."""
    converted = [(i, convert) for i, field in enumerate(fields) if (convert := _converter(field))]
    quote = connection.ops.quote_name
    names = [field.column for field in fields] + list(extra)
    columns = ", ".join(quote(name) for name in names)
    with connection.cursor() as cursor:
        types = _column_types(cursor.cursor, meta.db_table)

        def run(copy: Any) -> None:
            copy.set_types([types[name] for name in names])
            for row in rows:
                for i, convert in converted:
                    row[i] = convert(row[i])
                copy.write_row(row)

        # Binary: each value in its column's own wire format, no text to format and parse
        # (a third of the client's work for a message row, an eighth for a clock).
        _run_copy(cursor, f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)", run)


def _run_copy(cursor: Any, sql: str, run: Callable[[Any], None]) -> None:
    """`run(copy)` in psycopg's COPY block of `sql` (Django's cursor has no COPY: psycopg's own
    cursor runs it), with psycopg's errors turned into Django's (IntegrityError,
    OperationalError...) as Django's cursor does; and its end, when the client has sent the
    rows and waits for the server to finish (indexes, constraints), passes the connection's
    execute wrappers (`connection.execute_wrapper`) as a statement does: the order import's
    parsing thread reads ahead meanwhile. The rows themselves are sent outside them."""
    with (
        connection.wrap_database_errors,
        cursor.cursor.copy(sql, writer=_WrappedEnd(cursor, sql)) as copy,
    ):
        run(copy)


class _WrappedEnd(LibpqWriter):
    """psycopg's writer to the server, its `finish` run through the connection's execute wrappers.
    The wrappers run while psycopg holds the connection in COPY state: one that ran a query of
    its own there would fail (none does: the import's only marks the time as waiting)."""

    def __init__(self, cursor: Any, sql: str) -> None:
        super().__init__(cursor.cursor)
        self.sql = sql
        self.context = {"connection": connection, "cursor": cursor}  # as Django gives its wrappers

    def finish(self, exc: BaseException | None = None) -> None:
        def execute(sql: str, params: object, many: bool, context: object) -> None:
            super(_WrappedEnd, self).finish(exc)

        executor: Callable[..., None] = execute
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        executor(self.sql, None, False, self.context)


# Per database connection (its lifetime, so a schema changed meanwhile is read afresh by the
# next connection): table -> column -> type oid.
_column_type_cache: weakref.WeakKeyDictionary[object, dict[str, dict[str, int]]] = weakref.WeakKeyDictionary()
_column_type_lock = threading.Lock()


def _column_types(cursor: Any, table: str) -> dict[str, int]:
    """The type oid of each column of `table`, as the server has it (what a binary COPY needs)."""
    with _column_type_lock:
        tables = _column_type_cache.setdefault(cursor.connection, {})
    if table not in tables:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped",
            [table],
        )
        tables[table] = dict(cursor.fetchall())
    return tables[table]


def update_rows(
    model: type[models.Model],
    objs: Sequence[models.Model],
    fields: Sequence[str],
    *,
    extra: Mapping[str, Sequence[str | None]] | None = None,
) -> None:
    """Write `fields` of saved instances, each row its own values, in one statement.

    On PostgreSQL an UPDATE ... FROM (VALUES ...); elsewhere Django's `bulk_update()`, whose
    CASE WHEN per row and field costs more to build in Python than to run. `extra`: text
    columns outside the model, as for `insert_rows()`.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        if extra:
            raise ValueError("update_rows: columns outside the model are written on PostgreSQL only")
        model._default_manager.bulk_update(objs, fields)
        return
    if extra and len({obj.pk for obj in objs}) != len(objs):
        # UPDATE ... FROM would apply one of the rows of a repeated id, and drop the others' extra.
        raise ValueError("update_rows: each row once when columns outside the model are written")
    meta = model._meta
    columns = [_model_field(model, name) for name in fields]
    extra = extra or {}
    width = len(columns) + len(extra)
    quote = connection.ops.quote_name
    values = ", ".join(["(" + ", ".join(["%s"] * (width + 1)) + ")"] * len(objs))
    names = ", ".join(["pk", *(f"c{i}" for i in range(width))])
    assignments = ", ".join(
        [f"{quote(field.column)} = CAST(v.c{i} AS {_cast_type(field)})" for i, field in enumerate(columns)]
        + [f"{quote(name)} = CAST(v.c{i} AS text)" for i, name in enumerate(extra, len(columns))]
    )
    params: list[Any] = []  # values ready for the database (`get_db_prep_save`)
    for n, obj in enumerate(objs):
        params.append(obj.pk)
        params += [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
        params += [column[n] for column in extra.values()]
    # Names and types come from the model's metadata, quoted; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM (VALUES {values}) AS v({names}) WHERE t.{quote(meta.pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def commit_without_waiting() -> bool:
    """Let the transaction under way commit without waiting for its WAL to reach the disk
    (PostgreSQL's `synchronous_commit = off`, set for this transaction alone: other transactions,
    and this connection's next one, wait as configured); whether it did. Called in the outermost
    atomic block only (in a nested one the commit is an outer caller's, whose durability is not
    ours to change: nothing is done); nothing elsewhere than PostgreSQL.

    For a load in many transactions that can be run again: PostgreSQL writes such a commit's WAL
    within three `wal_writer_delay`s (600 ms by default), and a crash of the server before that
    loses the transaction whole (never part of one: the database stays consistent), as if it had
    not run. A later commit that waits (`flush_commits()`) writes every earlier one's WAL too."""
    if connection.vendor != "postgresql" or len(connection.atomic_blocks) != 1:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
    return True


def check_constraints_now() -> bool:
    """Run the deferred constraint checks of the transaction under way (its foreign keys: Django
    makes them DEFERRABLE INITIALLY DEFERRED) now, in a statement, rather than in its commit;
    whether it did. PostgreSQL's `SET CONSTRAINTS ALL IMMEDIATE` checks the writes deferred so
    far at once, and each later one as it is made, until the transaction ends. A statement
    passes the connection's execute wrappers, a commit does not: the order import's parsing
    thread reads ahead while the checks run (a third of the database's work for order lines).
    In the outermost atomic block only (an outer caller's transaction may rely on deferral);
    nothing elsewhere than PostgreSQL."""
    if connection.vendor != "postgresql" or len(connection.atomic_blocks) != 1:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return True


def flush_commits() -> None:
    """Wait until every transaction committed before is on disk, those committed with
    `commit_without_waiting()` too: PostgreSQL writes the WAL in order, so a transaction that
    takes an id and commits waiting for its own record (the configured default) waits for
    theirs as well. Outside any atomic block; nothing elsewhere than PostgreSQL."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


def upsert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    unique: Sequence[str],
    update: Sequence[str],
    returning: Sequence[str] = (),
    portable: bool = False,
) -> list[tuple[object, ...]]:
    """Insert rows, or update the row with the same `unique` values: one upsert for a batch.

    `rows` are the values of `fields` (attnames; ready for the database, as `insert_values`
    takes them; `unique` among them), each `unique` key at most once; an existing row gets
    the new values of `update`, or, with no field to update, is left as it is. Returns, for
    every row given, its `returning` fields as stored followed by whether the upsert inserted
    it (True) or found it stored (False), in no particular order; nothing when `returning` is
    empty. Must run inside a transaction.

    On PostgreSQL the rows go by binary COPY into a temporary table shaped like the columns
    written, then one INSERT ... SELECT ... ON CONFLICT ... RETURNING: no SQL text or
    parameter per value, which is what `bulk_create(update_conflicts=True)` spends most of a
    large batch on, and no lookup of what is stored already. Elsewhere (and on PostgreSQL
    with `portable=True`, which the tests compare with the COPY path) it is that `bulk_create`
    between lookups of the keys.
    """
    if not rows:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("upsert_rows: run it inside a transaction")
    if connection.vendor != "postgresql" or portable:
        return _upsert_portable(model, fields, rows, unique=unique, update=update, returning=returning)
    columns, defaults = _staging_columns(model, fields)
    staging = _staging_table(model._meta.db_table, columns)
    sql = _upsert_statement(model, staging, columns, unique=unique, update=update, returning=returning)
    with connection.cursor() as cursor:
        _copy_to_staging(cursor, staging, columns, defaults, rows)
        cursor.execute(sql)
        if not returning:
            return []
        written = [tuple(row) for row in cursor.fetchall()]
    if len(written) < len(rows):
        # Committed by another transaction after this statement's snapshot was taken.
        positions = [list(fields).index(name) for name in _attnames(model, unique)]
        found = _stored(model, unique, {tuple(row[i] for i in positions) for row in rows}, returning)
        seen = {row[:-1] for row in written}
        written += [(*values, False) for values in found.values() if values not in seen]
    return written


def upsert_count(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    unique: Sequence[str],
    update: Sequence[str],
    portable: bool = False,
) -> int:
    """`upsert_rows()` counted instead of returned: how many of the rows it inserted (each of the
    others it updated or, with nothing to update, found stored). Must run inside a transaction.

    On PostgreSQL the statement counts them itself (no row comes back); elsewhere (and with
    `portable=True`) it is `upsert_rows()`'s portable path, counted."""
    if not rows:
        return 0
    if connection.vendor != "postgresql" or portable:
        written = upsert_rows(
            model, fields, rows, unique=unique, update=update, returning=["pk"], portable=True
        )
        return sum(1 for *_, inserted in written if inserted)
    if not connection.in_atomic_block:
        raise RuntimeError("upsert_count: run it inside a transaction")
    columns, defaults = _staging_columns(model, fields)
    staging = _staging_table(model._meta.db_table, columns)
    sql = _upsert_statement(model, staging, columns, unique=unique, update=update, returning=[], count=True)
    with connection.cursor() as cursor:
        _copy_to_staging(cursor, staging, columns, defaults, rows)
        cursor.execute(sql)
        # ON CONFLICT DO NOTHING: the rows it inserted are its row count.
        return int(cursor.fetchone()[0]) if update else cursor.rowcount


def insert_new(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Row], *, portable: bool = False
) -> None:
    """Insert rows that cannot be stored yet, given as `upsert_rows()` takes them (the lines of
    an order the same transaction has just inserted): on PostgreSQL one binary COPY into the
    table itself, with no staging table and no conflict to look for; the fields left out take
    their defaults. A row that was stored after all fails the statement on the table's unique
    constraint (`IntegrityError`), as a plain INSERT would. Elsewhere (and with `portable=True`,
    which the tests compare with the COPY path) `bulk_create()`."""
    if not rows:
        return
    if connection.vendor != "postgresql" or portable:
        model._default_manager.bulk_create([model(**dict(zip(fields, row, strict=True))) for row in rows])
        return
    columns, defaults = _staging_columns(model, fields)
    with connection.cursor() as cursor:
        _copy_to_staging(cursor, connection.ops.quote_name(model._meta.db_table), columns, defaults, rows)


def _copy_to_staging(
    cursor: Any, staging: str, columns: Sequence[str], defaults: Row, rows: Sequence[Row]
) -> None:
    """The rows, each followed by `defaults` (the columns they leave out), into `staging` (a
    quoted table name) by COPY."""
    names = ", ".join(connection.ops.quote_name(name) for name in columns)
    types = _column_types(cursor.cursor, staging)

    def run(copy: Any) -> None:
        copy.set_types([types[name] for name in columns])
        for row in rows:
            copy.write_row((*row, *defaults) if defaults else row)

    _run_copy(cursor, f"COPY {staging} ({names}) FROM STDIN (FORMAT BINARY)", run)


def _staging_columns(
    model: type[models.Model], fields: Sequence[str]
) -> tuple[list[str], tuple[object, ...]]:
    """The columns an upsert of `fields` writes: theirs, then those of the fields left out, which
    take their default in new rows (as in `insert_values`); and those defaults."""
    missing = [
        field
        for field in model._meta.concrete_fields
        if field is not model._meta.pk
        and field.attname not in fields
        and not field.generated
        and not _has_db_default(field)
    ]
    defaults = tuple(field.get_default() for field in missing)
    return [_model_field(model, name).column for name in fields] + [
        field.column for field in missing
    ], defaults


def _upsert_statement(
    model: type[models.Model],
    staging: str,
    columns: Sequence[str],
    *,
    unique: Sequence[str],
    update: Sequence[str],
    returning: Sequence[str],
    count: bool = False,
) -> str:
    """The statement that moves the staging table's rows (`columns`) into `model`'s table, as
    `upsert_rows()` describes, returning the rows it names (`count`: with rows to update, the
    number it inserted, as `upsert_count()` describes)."""
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(_model_field(model, name).column)

    table = quote(model._meta.db_table)
    names = ", ".join(quote(name) for name in columns)
    keys = ", ".join(column(name) for name in unique)
    # Names come from the model's metadata, quoted; the values travel by COPY. The staging
    # rows are consumed by the statement that writes them, so the table is empty for the next
    # batch, also inside an outer transaction (no TRUNCATE: a round trip and a new file each time).
    batch = f"batch AS (DELETE FROM {staging} RETURNING {names})"  # noqa: S608
    insert = f"INSERT INTO {table} ({names}) SELECT {names} FROM batch ON CONFLICT ({keys})"  # noqa: S608
    if update:
        assignments = ", ".join(f"{column(name)} = EXCLUDED.{column(name)}" for name in update)
        # xmax is 0 in a row version this statement inserted, the updater's id in one it updated.
        returned = ", ".join([*(f"{table}.{column(name)}" for name in returning), "xmax = 0"])
        if count:
            return (
                f"WITH {batch}, written AS ({insert} DO UPDATE SET {assignments} "  # noqa: S608
                "RETURNING xmax = 0 AS inserted) SELECT count(*) FILTER (WHERE inserted) FROM written"
            )
        sql = f"WITH {batch} {insert} DO UPDATE SET {assignments}"
        return sql + (f" RETURNING {returned}" if returning else "")
    if returning:
        # Rows left as they are return nothing from ON CONFLICT DO NOTHING: they are read by
        # their keys. The statement's snapshot does not show the rows it inserts, so no row is
        # named twice; a row another transaction committed meanwhile is in neither part, and
        # is read afterwards.
        selected = ", ".join(f"t.{column(name)}" for name in returning)
        inserted = ", ".join(column(name) for name in returning)
        joined = " AND ".join(f"t.{column(name)} = s.{column(name)}" for name in unique)
        return (
            f"WITH {batch}, written AS ({insert} DO NOTHING RETURNING {inserted}) "  # noqa: S608
            f"SELECT {inserted}, true FROM written UNION ALL "
            f"SELECT {selected}, false FROM {table} AS t JOIN batch AS s ON {joined}"
        )
    return f"WITH {batch} {insert} DO NOTHING"


def _upsert_portable(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    unique: Sequence[str],
    update: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[object, ...]]:
    """`upsert_rows()` with `bulk_create()`, the keys stored before and the rows returned
    looked up around it."""
    manager = model._default_manager
    positions = [list(fields).index(name) for name in _attnames(model, unique)]
    keys = {tuple(row[i] for i in positions) for row in rows}
    stored = _stored(model, unique, keys, ()) if returning else {}
    objs = [model(**dict(zip(fields, row, strict=True))) for row in rows]
    if update:
        manager.bulk_create(
            objs, update_conflicts=True, unique_fields=list(unique), update_fields=list(update)
        )
    else:
        manager.bulk_create(objs, ignore_conflicts=True)
    if not returning:
        return []
    if update:
        # Each row came back from the upsert, with its primary key, as bulk_create returns it.
        return [
            (*(getattr(obj, name) for name in returning), key not in stored)
            for obj, key in zip(objs, (tuple(row[i] for i in positions) for row in rows), strict=True)
        ]
    written = _stored(model, unique, keys, returning)
    return [(*written[key], key not in stored) for key in keys if key in written]


def _attnames(model: type[models.Model], names: Sequence[str]) -> list[str]:
    return [_model_field(model, name).attname for name in names]


def _model_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """The field `name` of `model` that has a column ("pk": its primary key)."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, models.Field):  # a reverse relation: no column of this table
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


def _has_db_default(field: models.Field[Any, Any]) -> bool:
    return field.has_db_default()  # type: ignore[attr-defined]  # django-stubs: Field.has_db_default() (Django 5.0) is missing


def _cast_type(field: models.Field[Any, Any]) -> str:
    """The type to CAST a parameter to for the field's column."""
    return field.cast_db_type(connection)  # type: ignore[attr-defined]  # django-stubs: Field.cast_db_type() is missing


def _stored(
    model: type[models.Model], unique: Sequence[str], keys: set[tuple[object, ...]], returning: Sequence[str]
) -> dict[tuple[object, ...], tuple[object, ...]]:
    """Stored rows among `keys` (values of the `unique` fields): key -> their `returning` fields.

    One query filtering each key field on its values, then the exact keys kept."""
    attnames = _attnames(model, unique)
    lookups = {f"{name}__in": {key[i] for key in keys} for i, name in enumerate(attnames)}
    width = len(attnames)
    found = model._default_manager.filter(**lookups).order_by().values_list(*attnames, *returning)
    return {tuple(row[:width]): tuple(row[width:]) for row in found if tuple(row[:width]) in keys}


# Per database connection: the staging tables it has made in a transaction that committed
# (a temporary table lives as long as its connection; a rollback takes a new one away again).
_staging_made: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()


def _staging_table(table: str, columns: Sequence[str]) -> str:
    """An empty temporary table with `table`'s types for `columns`, made if this connection has
    none: one round trip the first time, none once the transaction that made it committed.

    Temporary tables are seen by their connection alone, so concurrent imports on other
    connections never share one. `upsert_rows()` empties it as it reads it."""
    name = connection.ops.quote_name(f"staging_{table}_{zlib.crc32(' '.join(columns).encode()):08x}")
    with _column_type_lock:
        made = _staging_made.setdefault(connection.connection, set())
    if name in made:
        return name
    source = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        # Names from the model's metadata, quoted; no parameters.
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {source} FROM {connection.ops.quote_name(table)} WITH NO DATA"
        )
    transaction.on_commit(lambda: made.add(name))
    return name


def _link_saved_relations(meta: Any, objs: Sequence[models.Model]) -> None:
    """Related objects saved after they were assigned lend their new ids, as in bulk_create."""
    for field in meta.concrete_fields:
        if not (field.many_to_one or field.one_to_one):
            continue
        for obj in objs:
            if getattr(obj, field.attname) is None and field.is_cached(obj):
                related = field.get_cached_value(obj)
                if related is None:
                    continue
                if related.pk is None:
                    raise ValueError(f"insert_rows: {field.name} of {obj!r} is not saved yet")
                setattr(obj, field.attname, related.pk)


def _computes_on_save(field: models.Field) -> bool:
    if isinstance(field, models.DateField):  # DateTimeField too
        return field.auto_now or field.auto_now_add
    return type(field).pre_save is not models.Field.pre_save


def _copyable(model: type[models.Model]) -> bool:
    """An integer primary key from a sequence; database defaults only of plain values."""
    meta = model._meta
    return isinstance(meta.pk, models.AutoField | models.BigAutoField) and not any(
        hasattr(field.db_default, "resolve_expression") for field in meta.concrete_fields
    )


def _converter(field: models.Field) -> Any:
    if _has_db_default(field):
        fallback = field.db_default

        def or_default(value: object) -> object:
            return fallback if isinstance(value, DatabaseDefault) else value

        return or_default
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        dumps = json.dumps if encoder is None else functools.partial(json.dumps, cls=encoder)

        def to_json(value: object) -> object:
            return None if value is None else Jsonb(value, dumps=dumps)

        return to_json
    return None


class PlannerStatistics:
    """Keeps PostgreSQL's planner statistics in step with a bulk load.

    `columns` names, per model, the fields the load looks rows up by: only those are
    analysed (message bodies and raw mail are wide, and no lookup filters on them).

    An import reads back what it writes (dedupe, customers, threading, clocks), and the
    planner picks those plans from the tables' statistics. Loaded faster than autovacuum
    looks (or with autovacuum off), a table that grew from nothing still has the statistics
    of an empty one, and the lookups turn into sequential scans of the whole table: an
    import slows as it goes. So, as `pg_dump` advises after a restore, ANALYZE, here each
    time the load has added as many rows as the first model's table held at the last
    ANALYZE, or as the load itself had written by then, whichever is fewer (at least
    `at_least`): a handful of times however large the input, each a sample of a few tens of
    thousands of rows. The second measure is for a load into a large table on a channel or
    account the statistics have not seen yet: the planner takes its rows for none and scans
    them all for every lookup (an import that grows quadratically) until they are analysed.
    Nothing to do on SQLite.

    `sample`: these ANALYZEs' statistics target (300 rows sampled per unit; the default 100 takes
    seconds on a table of millions): row counts and keys, what the planner needs mid-load, come
    as well from fewer; autovacuum analyses the grown tables with the full target after.
    """

    def __init__(
        self,
        columns: dict[type[models.Model], Sequence[str]],
        *,
        at_least: int = 1_000,
        sample: int | None = None,
    ) -> None:
        quote = connection.ops.quote_name
        self.tables = [model._meta.db_table for model in columns]
        self.targets = ", ".join(
            f"{quote(model._meta.db_table)} ({', '.join(quote(_model_field(model, name).column) for name in names)})"
            for model, names in columns.items()
        )
        self.at_least = at_least
        self.sample = sample
        self.enabled = connection.vendor == "postgresql"
        self.written = 0  # since the last ANALYZE
        self.loaded = 0  # by this load, in all
        self.size = self._size() if self.enabled else 0

    def add(self, rows: int) -> None:
        """Count `rows` new rows of the first model; ANALYZE when the table has grown enough."""
        self.written += rows
        self.loaded += rows
        if self.enabled and self.written >= max(self.at_least, min(self.size, self.loaded - self.written)):
            self.analyze()

    def analyze(self) -> None:
        if self.sample is None:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.targets}")
        else:
            # Set back after: inside a caller's transaction a local setting lasts until its end.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('default_statistics_target')")
                before = cursor.fetchone()[0]
                cursor.execute("SELECT set_config('default_statistics_target', %s, true)", [str(self.sample)])
                cursor.execute(f"ANALYZE {self.targets}")
                cursor.execute("SELECT set_config('default_statistics_target', %s, true)", [before])
        # At least what was written: a role that does not own the tables gets a warning and
        # no new statistics, and should not try again every `at_least` rows.
        self.size = max(self._size(), self.size + self.written)
        self.written = 0

    def _size(self) -> int:
        with connection.cursor() as cursor:
            # -1 (PostgreSQL 14+) or 0 until the table was first analysed.
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [self.tables[0]])
            return max(0, int(cursor.fetchone()[0]))
