from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate, pre_migrate


def lift_statement_timeout(using, **kwargs):
    """Migrations run without the statement timeout meant for requests (30 s by default):
    rewriting or indexing the incidents table of a large database takes minutes."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")


def restore_statement_timeout(using, **kwargs):
    # Back to the value the connection was opened with (DATABASE_STATEMENT_TIMEOUT_MS).
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incident records"

    def ready(self):
        from incidents import derived

        derived.connect(self.get_models())
        # Sent once per app and migrate run; one app is enough.
        pre_migrate.connect(lift_statement_timeout, sender=self)
        post_migrate.connect(restore_statement_timeout, sender=self)
