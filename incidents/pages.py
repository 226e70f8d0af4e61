"""The pages for people outside the API and the admin: the landing page at /."""

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from incidents.importers.acled import Acled
from incidents.importers.ucdp import UcdpGed

# The licence of a dataset whose terms allow adapting it with attribution, which then has to
# link the licence and say that the data was changed.
LICENCES = {UcdpGed.key: ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/")}


def _datasets():
    """The datasets the importers read, with the citation and terms each one asks for (their
    one home is the importer, which also stores them as each release's source text)."""
    for dataset in (UcdpGed(), Acled()):
        fields = dataset.source_fields(release="")
        licence, licence_url = LICENCES.get(dataset.key, (None, None))
        yield {
            "name": dataset.name,
            "prefix": dataset.incident_prefix,
            "publisher": fields["publisher"],
            "url": fields["url"],
            "citation": fields["text"],
            "licence": licence,
            "licence_url": licence_url,
        }


@require_safe
def landing(request):
    """What the service is, where its API, docs and admin are, and how to cite what it serves."""
    api_root = request.build_absolute_uri(reverse("api-root"))
    spectacular = settings.SPECTACULAR_SETTINGS
    context = {
        "title": spectacular["TITLE"].removesuffix(" API"),
        "description": spectacular["DESCRIPTION"],
        "version": spectacular["VERSION"],
        "api_root": api_root,
        "links": {
            "incidents": reverse("incident-list"),
            "casualties": reverse("casualtyfigure-list"),
            "stats": reverse("stats-casualties") + "?group_by=year",
            "geojson": reverse("incident-list") + "?format=geojson",
            "csv": reverse("incident-list") + "?format=csv",
            "swagger": reverse("swagger-ui"),
            "redoc": reverse("redoc"),
            "schema": reverse("schema"),
            "admin": reverse("admin:index"),
        },
        "today": timezone.now().date().isoformat(),
        "datasets": list(_datasets()),
    }
    return render(request, "incidents/landing.html", context)
