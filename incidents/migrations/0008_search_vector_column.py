"""The English tsvector of search_document, stored in a generated column (PostgreSQL only).

The GIN index of migration 0003 was built on the expression; ranking still had to parse
each matching document again (to_tsvector per row), which took most of a search's time
once a query matched thousands of incidents. The stored column is computed when a row is
written, by PostgreSQL itself, so no code path can forget it. SQLite has no tsvector and
searches without it (incidents.search).
"""

from django.db import migrations

COLUMN = "search_vector"
EXPRESSION = "to_tsvector('english'::regconfig, COALESCE(search_document, ''::text))"


def add_column(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE incidents_incident ADD COLUMN {COLUMN} tsvector GENERATED ALWAYS AS ({EXPRESSION}) STORED"
    )
    schema_editor.execute(f"CREATE INDEX incident_search_vector_gin ON incidents_incident USING gin ({COLUMN})")
    schema_editor.execute("DROP INDEX IF EXISTS incident_search_gin")


def remove_column(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE INDEX incident_search_gin ON incidents_incident USING gin (({EXPRESSION}))")
    schema_editor.execute(f"ALTER TABLE incidents_incident DROP COLUMN {COLUMN}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_editor_groups")]

    operations = [migrations.RunPython(add_column, remove_column)]
