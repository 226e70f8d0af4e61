"""Reads from replicas, writes (and every read in a writing request) to the primary.

Configured from DATABASE_REPLICA_URLS; without replicas nothing here is installed.
A request that writes reads from the primary too, so it sees its own writes despite
replication lag.
"""

import contextvars
import random

from django.conf import settings

_pinned_to_primary = contextvars.ContextVar("pinned_to_primary", default=False)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def replica_aliases():
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        replicas = replica_aliases()
        if _pinned_to_primary.get() or not replicas:
            return "default"
        return random.choice(replicas)

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # Replicas hold the same data as the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class PinWritesToPrimaryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _pinned_to_primary.set(request.method not in SAFE_METHODS)
        try:
            return self.get_response(request)
        finally:
            _pinned_to_primary.reset(token)
