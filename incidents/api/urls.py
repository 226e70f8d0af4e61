from csp.decorators import csp_update
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, include, path, reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework import routers
from rest_framework.response import Response
from rest_framework.reverse import reverse as absolute_reverse

from incidents.api import datapackage, views


def endpoints(urlconf=None):
    """(view name, path) of every route that takes no path parameter, in URLconf order.

    Details (a slug or an id in the path) and the format-suffix twins of each route
    (`incidents.json`) take one; unnamed routes cannot be linked to and are left out
    (tests/contract/test_entry_points.py fails on one under /api/v1/).
    """
    found = {}

    def walk(patterns, namespace):
        for pattern in patterns:
            if pattern.pattern.regex.groups:
                continue
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                name = namespace + pattern.name
                found.setdefault(name, reverse(name, urlconf=urlconf))

    walk(get_resolver(urlconf).url_patterns, "")
    return list(found.items())


class EndpointIndex(routers.APIRootView):
    """GET /api/v1/: a link to every endpoint under it, read from the URLconf at each request.

    Keyed by the endpoint's path below the root without its last slash (`incidents`,
    `stats/casualties`, `docs`), so the router's keys stay as they were and a route added
    anywhere under /api/v1/ is listed without anyone adding it here.
    """

    def get(self, request, *args, **kwargs):
        root = reverse(request.resolver_match.view_name)
        listed = {}
        for name, route in endpoints(getattr(request, "urlconf", None)):
            if route.startswith(root) and route != root:
                key = route[len(root) :].rstrip("/")
                listed[key] = self.link(request, name, kwargs.get("format"))
        return Response(listed)

    @staticmethod
    def link(request, name, format_suffix):
        """The root asked for with a suffix (`/api/v1/.json`) links with it where a route takes one
        (the router's); the others (stats, schema, docs) have no suffixed form."""
        if format_suffix:
            try:
                return absolute_reverse(name, request=request, format=format_suffix)
            except NoReverseMatch:
                pass
        return absolute_reverse(name, request=request)


class Router(routers.DefaultRouter):
    APIRootView = EndpointIndex


router = Router()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("casualties", views.CasualtyFigureViewSet, basename="casualtyfigure")
router.register("actors", views.ActorViewSet, basename="actor")
router.register("locations", views.LocationViewSet, basename="location")
router.register("sources", views.SourceViewSet, basename="source")

urlpatterns = [
    path("", include(router.urls)),
    path("stats/casualties/", views.CasualtyStatsView.as_view(), name="stats-casualties"),
    # The CSV exports described: a data package and each layout's Table Schema.
    *datapackage.urlpatterns(),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's start-up script as a file of its own, since the Content-Security-Policy
    # runs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # Redoc draws its logo from Redocly's site: the one outside image the policy allows.
    path(
        "redoc/",
        csp_update({"img-src": ["https://cdn.redoc.ly"]})(
            SpectacularRedocView.as_view(url_name="schema", template_name="incidents/redoc.html")
        ),
        name="redoc",
    ),
]
