"""Inserting many new rows: COPY on PostgreSQL, bulk_create elsewhere.

Used by the importers (incidents.importers.writer) and the generator
(incidents.synthetic.writer). On PostgreSQL, bulk_create spends most of its time
preparing and quoting parameters in Python (about 0.2 ms per incident row); COPY hands
psycopg's C code plain tuples and is many times faster. A Table names the fields its rows
give, in order; the model's other fields get their defaults, exactly as bulk_create would
give them.

Rows written here send no signals and derive nothing: the caller computes what derives
from them and tells incidents.derived (docs there).
"""

import json
import os
import uuid

from django.db import connection
from django.db.models import JSONField
from django.utils import timezone


def _auto_now(field):
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


class Table:
    """Inserts of one model's rows: tuples of the values of ``fields`` (attnames), in that order.

    ``use_copy`` chooses the method: COPY (PostgreSQL only) or bulk_create; by default COPY
    wherever the database has it.
    """

    def __init__(self, model, fields, *, use_copy=None):
        if use_copy is None:
            use_copy = connection.vendor == "postgresql"
        elif use_copy and connection.vendor != "postgresql":
            raise ValueError(f"COPY needs PostgreSQL, not {connection.vendor}.")
        self.uses_copy = use_copy
        self.model = model
        self.fields = tuple(fields)
        concrete = {f.attname: f for f in model._meta.concrete_fields}
        given = [concrete[name] for name in self.fields]
        others = [f for f in concrete.values() if f.attname not in self.fields and not f.primary_key]
        # A callable default (uuid4) gives each row its own value; the others are the same for all.
        self._varying = [f for f in others if not _auto_now(f) and f.has_default() and callable(f.default)]
        self._constant = [f for f in others if f not in self._varying]
        self._json = [n for n, f in enumerate(given) if isinstance(f, JSONField)]
        quote = connection.ops.quote_name
        self._table = quote(model._meta.db_table)
        self._pk = quote(model._meta.pk.column)
        self._columns = ", ".join(quote(f.column) for f in [*given, *self._varying, *self._constant])

    def insert(self, rows, *, return_ids=False, ids=None):
        """Insert ``rows`` (a list of tuples); with ``return_ids``, the pks they got, in order.

        ``ids`` gives the rows their primary keys, one per row (from ``next_ids``), for rows
        that must point at each other before they are written.
        """
        if not rows:
            return []
        if ids is not None and len(ids) != len(rows):
            raise ValueError(f"{len(rows)} rows and {len(ids)} ids.")
        if not self.uses_copy:
            objects = [self.model(**dict(zip(self.fields, row, strict=True))) for row in rows]
            if ids is not None:
                for obj, pk in zip(objects, ids, strict=True):
                    obj.pk = pk
            created = self.model.objects.bulk_create(objects)
            return [obj.pk for obj in created] if return_ids else []
        if ids is None and return_ids:
            # COPY returns nothing: the ids are taken from the sequence beforehand.
            ids = next_ids(self.model, len(rows))
        self._copy(rows, ids)
        return list(ids) if return_ids else []

    def _copy(self, rows, ids):
        now = timezone.now()
        constant = tuple(now if _auto_now(f) else _plain_default(f) for f in self._constant)
        varying = [_uuid4_text if f.default is uuid.uuid4 else f.default for f in self._varying]
        columns = self._columns if ids is None else f"{self._pk}, {self._columns}"
        sql = f"COPY {self._table} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            write = copy.write_row
            for n, row in enumerate(rows):
                if self._json:
                    row = list(row)
                    for position in self._json:
                        if row[position] is not None:
                            row[position] = _json(row[position])
                if varying:
                    row = (*row, *(make() for make in varying))
                write((*row, *constant) if ids is None else (ids[n], *row, *constant))


# jsonb keeps no formatting: compact text without escapes is the same value, made faster.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _uuid4_text():
    """A random version 4 UUID, as uuid.uuid4() makes it, in hex digits for COPY; in a third of the time."""
    value = bytearray(os.urandom(16))
    value[6] = (value[6] & 0x0F) | 0x40  # version 4
    value[8] = (value[8] & 0x3F) | 0x80  # RFC 4122 variant
    return value.hex()


def _plain_default(field):
    value = field.get_default()
    return _json(value) if isinstance(field, JSONField) and value is not None else value


def next_ids(model, count):
    """``count`` new primary keys from the model's sequence (PostgreSQL), smallest first."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        # In increasing order, as bulk_create would give them: rows written first get the lower ids.
        return sorted(pk for (pk,) in cursor.fetchall())
