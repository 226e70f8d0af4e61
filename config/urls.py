from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.cache import never_cache

from incidents import pages
from incidents.api.errors import error_response


@never_cache
def healthz(request):
    """200 when the database answers a query, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "up"})


# Django's answers when no view gives one, with DEBUG off: JSON in the API's error shape, so
# no HTML page (and no debug page) reaches an API client. With DEBUG on, Django shows its
# debug pages instead; incidents.api.errors.JSONErrorsMiddleware makes those JSON under /api/.
def not_found(request, exception=None):
    return error_response(404)


def server_error(request):
    return error_response(500)


def bad_request(request, exception=None):
    return error_response(400)


urlpatterns = [
    path("", pages.landing, name="landing"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("incidents.api.urls")),
]

handler400 = bad_request
handler404 = not_found
handler500 = server_error
