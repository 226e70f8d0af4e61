"""An optional shared cache of anonymous API reads, emptied by any write.

On when API_CACHE_SECONDS > 0 (with REDIS_URL, so every process shares it). Cached
answers are keyed by path, query and Accept header plus a generation number; every
write path moves the generation on through incidents.derived once its transaction
commits, so no stale answer is ever served after a write.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache

GENERATION_KEY = "api-read-cache:generation"


def generation():
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None)


def invalidate():
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, timeout=None)


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
