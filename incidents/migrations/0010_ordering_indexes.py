from django.db import migrations, models
from django.db.models.functions import Coalesce



class Migration(migrations.Migration):
    dependencies = [("incidents", "0009_place_dates_index")]

    operations = [
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
