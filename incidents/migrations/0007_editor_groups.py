"""The `editors` and `maintainers` groups.

Editors may view, add and change every record; maintainers may also delete.
Permissions are created here rather than waiting for post_migrate, so a fresh
database has working groups as soon as it is migrated.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RECORD_MODELS = ("source", "actor", "location", "incident", "incidentactor", "casualtyfigure")


def create_groups(apps, schema_editor):
    # Every query names the database being migrated: with read replicas configured,
    # the router would otherwise send these reads elsewhere.
    db = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=db)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    record_perms = Permission.objects.using(db).filter(
        content_type__app_label="incidents", content_type__model__in=RECORD_MODELS
    )
    editors, _ = Group.objects.using(db).get_or_create(name="editors")
    editors.permissions.add(*record_perms.exclude(codename__startswith="delete_"))
    maintainers, _ = Group.objects.using(db).get_or_create(name="maintainers")
    maintainers.permissions.add(*record_perms)


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=("editors", "maintainers")).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_history_review_tombstones"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
