from django.db import migrations, models
from django.db.models.functions import Coalesce


def lift_statement_timeout(apps, schema_editor):
    # As in 0009: index builds over a large table outlast the timeout meant for requests.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL statement_timeout = 0")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0009_place_dates_index")]

    operations = [
        migrations.RunPython(lift_statement_timeout, lift_statement_timeout),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                models.OrderBy(Coalesce("killed_best", "killed_low", models.Value(-1)), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="incident_most_killed",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["title", "id"], name="incident_by_title"),
        ),
    ]
