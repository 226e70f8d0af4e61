from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incident records"

    def ready(self):
        # Always connected (a cache increment per write), so turning the read cache on
        # never serves an answer that an earlier write made stale.
        from incidents.caching import connect_invalidation

        connect_invalidation(self.get_models())
