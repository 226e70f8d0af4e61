"""An optional shared cache of anonymous API reads, emptied by any write.

On when API_CACHE_SECONDS > 0 (with REDIS_URL, so every process shares it). Cached
answers are keyed by path, query and Accept header plus a generation number; any
change to a record (admin, API, loads, imports) moves the generation on, so no
stale answer is ever served after a write.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save

GENERATION_KEY = "api-read-cache:generation"


def generation():
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None)


def invalidate(**kwargs):
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, timeout=None)


def connect_invalidation(models):
    for model in models:
        post_save.connect(invalidate, sender=model, dispatch_uid=f"api-cache-save-{model.__name__}")
        post_delete.connect(invalidate, sender=model, dispatch_uid=f"api-cache-delete-{model.__name__}")
    from incidents.models import Incident

    m2m_changed.connect(invalidate, sender=Incident.sources.through, dispatch_uid="api-cache-sources")


class AnonymousReadCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seconds = settings.API_CACHE_SECONDS
        cacheable = (
            seconds > 0
            and request.method == "GET"
            and request.path.startswith("/api/")
            and not request.headers.get("Authorization")
            and not request.user.is_authenticated
        )
        if not cacheable:
            return self.get_response(request)
        raw = f"{request.get_full_path()}|{request.headers.get('Accept', '')}|{generation()}"
        key = "api-read-cache:" + hashlib.sha256(raw.encode()).hexdigest()
        cached = cache.get(key)
        if cached is not None:
            cached["X-Cache"] = "hit"
            return cached
        response = self.get_response(request)
        if response.status_code == 200 and not response.streaming:
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            response["X-Cache"] = "miss"
            cache.set(key, response, timeout=seconds)
        return response
