from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from incidents.api import views

router = DefaultRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("casualties", views.CasualtyFigureViewSet, basename="casualtyfigure")
router.register("actors", views.ActorViewSet, basename="actor")
router.register("locations", views.LocationViewSet, basename="location")
router.register("sources", views.SourceViewSet, basename="source")

urlpatterns = [
    path("", include(router.urls)),
    path("stats/casualties/", views.CasualtyStatsView.as_view(), name="stats-casualties"),
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
