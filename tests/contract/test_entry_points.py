"""Where people and clients come in: the landing page at / and the API root at /api/v1/.

The API root must link to every endpoint under it. The expected list is read from the URL
configuration here, in another way than the root view reads it (route strings, not
reverse()), so a route added anywhere under /api/v1/ fails this test until the root lists
it, and the root can never list something the URLconf does not serve.
"""

import datetime
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.http import JsonResponse
from django.templatetags.static import static
from django.test import override_settings
from django.urls import path, reverse

from config import urls as project_urls
from incidents.importers.acled import CITATION as ACLED_CITATION
from incidents.importers.ucdp import CITATION as UCDP_CITATION
from tests.contract.test_http_errors import API_ROUTES

pytestmark = pytest.mark.django_db

ROOT = "/api/v1/"


def _route_path(route):
    """A parameterless route's path from its pattern strings: the router's regexes lose their
    anchors and escapes (`^incidents/$` -> `incidents/`)."""
    return "/" + re.sub(r"\\(.)", r"\1", route.replace("^", "").replace("$", ""))


def _listed_routes():
    """Every route under /api/v1/ that takes no path parameter, but the root itself."""
    return {
        _route_path(route.pattern): route.name
        for route in API_ROUTES
        if not route.params
        and _route_path(route.pattern).startswith(ROOT)
        and _route_path(route.pattern) != ROOT
    }


def test_the_api_root_lists_every_route_without_a_path_parameter(client):
    expected = {path[len(ROOT) :].rstrip("/"): f"http://testserver{path}" for path in _listed_routes()}
    assert client.get(ROOT).json() == expected


def test_the_list_holds_the_resources_stats_schema_and_docs(client):
    listed = client.get(ROOT).json()
    for key in ("incidents", "casualties", "actors", "locations", "sources", "stats/casualties"):
        assert key in listed
    for name in ("schema", "swagger-ui", "redoc"):
        assert f"http://testserver{reverse(name)}" in listed.values()


def test_each_link_of_the_root_answers(client):
    for key, url in client.get(ROOT).json().items():
        query = {"group_by": "year"} if key.startswith("stats/") else {}
        response = client.get(url.removeprefix("http://testserver"), query)
        assert response.status_code == 200, (key, response.status_code)


def test_the_root_with_a_format_suffix_lists_the_same_endpoints(client):
    plain = client.get(ROOT).json()
    suffixed = client.get(f"{ROOT}.json").json()
    assert suffixed.keys() == plain.keys()
    assert suffixed["incidents"] == "http://testserver/api/v1/incidents.json"
    assert suffixed["schema"] == plain["schema"]  # no suffixed twin: the plain link


def _extra_endpoint(request):
    return JsonResponse({})


# The project's URLconf with one more endpoint under /api/v1/, as a later change would add it.
urlpatterns = [
    *project_urls.urlpatterns,
    path("api/v1/some/new-endpoint/", _extra_endpoint, name="new-endpoint"),
]


@override_settings(ROOT_URLCONF=__name__)
def test_a_route_added_under_the_root_is_listed_without_anyone_adding_it(client):
    listed = client.get(ROOT).json()
    assert listed["some/new-endpoint"] == "http://testserver/api/v1/some/new-endpoint/"


def test_the_root_is_in_the_routes_walked():
    # The guard of the walk itself: it sees the root and the resources under it.
    names = {route.name for route in API_ROUTES}
    assert {"api-root", "incident-list", "incident-detail", "stats-casualties", "schema"} <= names


# -- The landing page -----------------------------------------------------------------------------


class Page(HTMLParser):
    """What the Content-Security-Policy cares about in a page, and its links."""

    def __init__(self):
        super().__init__()
        self.links, self.resources, self.inline = [], [], []
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.links.append(attrs.get("href"))
        if tag in ("script", "style"):
            self.inline.append(tag)
        if tag in ("link", "img", "script", "iframe"):
            self.resources.append(attrs.get("href") or attrs.get("src"))
        self.inline += [f"{tag} {name}" for name in attrs if name == "style" or name.startswith("on")]

    def handle_data(self, data):
        self.text.append(data)


def _landing(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = Page()
    page.feed(response.content.decode())
    page.text = " ".join(" ".join(page.text).split())
    return response, page


def test_the_landing_page_says_what_the_service_is(client):
    _, page = _landing(client)
    assert "Incident records" in page.text
    assert "attributed claim" in page.text


def test_the_landing_page_links_the_api_the_docs_and_the_admin(client):
    _, page = _landing(client)
    for name in ("api-root", "swagger-ui", "redoc", "schema", "admin:index"):
        target = reverse(name)
        assert any(link in (target, f"http://testserver{target}") for link in page.links), name


def test_every_link_of_the_landing_page_to_this_site_answers(client):
    _, page = _landing(client)
    own = [link.removeprefix("http://testserver") for link in page.links if not link.startswith("https://")]
    assert own
    for link in own:
        response = client.get(link)
        expected = 302 if link == reverse("admin:index") else 200  # the admin asks for a login
        assert response.status_code == expected, link


def test_the_landing_page_says_how_to_cite(client):
    _, page = _landing(client)
    today = datetime.date.today().isoformat()
    assert f"http://testserver{ROOT} (retrieved {today})" in page.text
    for citation in (UCDP_CITATION, ACLED_CITATION):
        assert " ".join(citation.split()) in page.text
    assert "Data licensed under CC BY 4.0" in page.text
    # CC BY asks for a link to the licence and a word on what was changed.
    assert "https://creativecommons.org/licenses/by/4.0/" in page.links
    assert "The records here are adapted from it" in page.text


def test_the_landing_page_needs_nothing_the_csp_forbids(client):
    response, page = _landing(client)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert page.inline == []  # no inline script or style, no style or event attributes
    # Each resource from this site (its own static files) or a data: URL (the empty icon).
    prefix = static("")
    own = [url for url in page.resources if url != "data:,"]
    assert own and all(url.startswith(prefix) for url in own)
    for url in own:
        assert finders.find(url.removeprefix(prefix)), url


def test_the_landing_page_is_for_reading_only(client):
    assert client.post("/").status_code == 405
    assert client.head("/").status_code == 200


def test_the_admins_view_site_link_leads_to_the_landing_page(client):
    client.force_login(User.objects.create(username="keeper", is_staff=True, is_superuser=True))
    admin = client.get(reverse("admin:index")).content.decode()
    assert re.search(r'<a href="/">\s*View site\s*</a>', admin)
    assert reverse("landing") == "/"


# -- make run and make serve -----------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def _make(*args, **env):
    if shutil.which("make") is None:
        pytest.skip("no make")
    # Under `make test` a parent make's MAKEFLAGS and MAKELEVEL would add "Entering/Leaving
    # directory" lines around the output; this runs as a make of its own.
    left_out = ("HOST", "PORT", "BIND", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    environment = {key: value for key, value in os.environ.items() if key not in left_out}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=REPO,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()[-1]  # the server's command: the target's last line


@pytest.mark.parametrize(
    ("args", "env", "command"),
    [
        (("run",), {}, "manage.py runserver 127.0.0.1:8000"),
        (("run", "PORT=8123", "HOST=0.0.0.0"), {}, "manage.py runserver 0.0.0.0:8123"),
        (("run",), {"HOST": "zsh-hostname", "PORT": "1"}, "manage.py runserver 127.0.0.1:8000"),
        (("serve",), {}, "BIND=127.0.0.1:8000 "),
        (("serve", "PORT=8124"), {}, "BIND=127.0.0.1:8124 "),
        (("serve",), {"BIND": "unix:/run/incidents.sock"}, "BIND=unix:/run/incidents.sock "),
        (("serve", "HOST=0.0.0.0"), {"BIND": "unix:/run/incidents.sock"}, "BIND=0.0.0.0:8000 "),
    ],
)
def test_make_run_and_serve_listen_where_port_and_host_say(args, env, command):
    """PORT and HOST on make's command line; the environment's HOST and PORT are not read, and
    gunicorn's BIND from the environment stands unless the command line says otherwise."""
    assert command in _make(*args, **env)
