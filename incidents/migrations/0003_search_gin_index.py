"""GIN index for full-text search, on PostgreSQL only (SQLite searches without it)."""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

from incidents.search import document_vector

INDEX_NAME = "incident_search_gin"


def add_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        Incident = apps.get_model("incidents", "Incident")
        schema_editor.add_index(Incident, GinIndex(document_vector(), name=INDEX_NAME))


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        Incident = apps.get_model("incidents", "Incident")
        schema_editor.remove_index(Incident, GinIndex(document_vector(), name=INDEX_NAME))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_search_document")]

    operations = [migrations.RunPython(add_index, remove_index)]
