from django.db import InterfaceError, OperationalError
from django.http import JsonResponse


class DatabaseUnavailableMiddleware:
    """A request that cannot reach the database gets a quick 503, not a 500 or a hang.

    With persistent connections and health checks on, the next request after the
    database returns opens a fresh connection, so the service recovers by itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)) and _is_connection_failure(exception):
            return JsonResponse(
                {"detail": "The database is unavailable; try again shortly."},
                status=503,
                headers={"Retry-After": "5"},
            )
        return None


def _is_connection_failure(exception):
    # OperationalError also covers e.g. a cancelled statement; only lost or refused
    # connections are the database being unavailable.
    text = str(exception).lower()
    markers = ("connect", "connection", "server closed", "terminating", "shutting down", "starting up")
    return isinstance(exception, InterfaceError) or any(marker in text for marker in markers)
