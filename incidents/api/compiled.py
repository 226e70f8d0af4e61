"""A values() query over a list of keys, compiled to SQL once per process.

Django compiles a queryset to SQL each time it runs; for the four small queries that
fill in a page of incidents, compiling cost more than PostgreSQL took to answer (1.1 ms
against 0.7 ms each, for a detail). The SQL depends only on the database (and, except on
PostgreSQL, which takes the keys as one array, on how many keys there are), so it is
kept per database alias (and number of keys); values are converted with the database's
own converters, as values() converts them.

This leans on Django's compiler API (`get_compiler`, `as_sql`, `select`,
`get_converters`), which is not public: tests/domain/test_library_forks.py pins the
Django version and fails loudly when it changes, so this is checked before an upgrade.
"""

from django.db import connections, router


class RowsByKeys:
    """Rows of a values() query filtered by `<field>__in=keys`, compiled once.

    `build(keys)` returns that values() queryset; its only parameters must be the keys.
    """

    def __init__(self, model, build):
        self.model = model
        self.build = build
        self.compiled = {}

    def __call__(self, keys):
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        # PostgreSQL takes the keys as one array, so one statement serves every number of keys
        # (and is prepared once); elsewhere IN gets a placeholder per key.
        as_array = connection.vendor == "postgresql"
        cache_key = (alias, None if as_array else len(keys))
        if cache_key not in self.compiled:
            self.compiled[cache_key] = self._compile(alias, connection, keys, as_array)
        sql, names, converters = self.compiled[cache_key]
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(keys)] if as_array else keys)
            rows = cursor.fetchall()
        for row in rows:
            values = list(row)
            for position, (functions, expression) in converters.items():
                for convert in functions:
                    values[position] = convert(values[position], expression, connection)
            yield dict(zip(names, values, strict=True))

    def _compile(self, alias, connection, keys, as_array):
        sample = keys[:1] if as_array else keys
        queryset = self.build(sample).using(alias)
        compiler = queryset.query.get_compiler(alias)
        sql, params = compiler.as_sql()
        if list(params) != list(sample):
            raise ValueError(f"{self.model.__name__}: the query has parameters besides the keys")
        if as_array:
            if sql.count(" IN (%s)") != 1:
                raise ValueError(f"{self.model.__name__}: expected one IN (%s) in {sql}")
            sql = sql.replace(" IN (%s)", " = ANY(%s)")
        query = queryset.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        return sql, names, converters
