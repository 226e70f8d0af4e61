from django.db import migrations, models



class Migration(migrations.Migration):
    dependencies = [("incidents", "0008_search_vector_column")]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["location", "start_date", "end_date", "status"], name="incident_place_dates"),
        ),
    ]
