from django.db import migrations, models


def lift_statement_timeout(apps, schema_editor):
    # Building an index over a large table outlasts the 30 s meant for requests; SET LOCAL
    # lifts the limit for this migration's transaction only.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL statement_timeout = 0")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0008_search_vector_column")]

    operations = [
        migrations.RunPython(lift_statement_timeout, lift_statement_timeout),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["location", "start_date", "end_date", "status"], name="incident_place_dates"),
        ),
    ]
