"""Every error under /api/ is JSON in the API's shape, `{"detail": "..."}`, with DEBUG off and on,
and an explicit format (?format= or a URL suffix) wins over the Accept header.

The cases are generated from the URL configuration: each route under /api/ (the router's
lists, details, extra actions and their format-suffix twins; stats, schema, docs, redoc)
gets a malformed path parameter or extra segments (404), each method it does not take
(405), an Accept header nothing satisfies (406), an exception inside it (500), and each
format its view renders, asked for with a conflicting Accept header. A new route is in
these tests the day it is added.

The test client would hide what a real server does to a path (percent-decoding the bytes of
%C2%84 into PATH_INFO) and what DEBUG's debug pages look like on the wire, so the last
classes ask a live server over HTTP, GDAL's ogrinfo among the clients when it is installed.
"""

import http.client
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, LiveServerTestCase, override_settings
from django.urls import NoReverseMatch, get_resolver, reverse
from django.urls.resolvers import URLResolver
from rest_framework.authtoken.models import Token

from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

METHODS = ("get", "post", "put", "patch", "delete")
# A value for each path parameter that its route takes, replaced below by malformed ones.
SAMPLE = {"slug": "sample-slug", "pk": "424242", "format": "json"}
# Path parameters that name no record, each a 404 without a lookup: not slug- or id-shaped, or
# with more segments than any route has. Written as a client puts them on the wire.
MALFORMED = {
    "a C1 control character": "%C2%84",
    "two nulls and a comma": "null,null",
    "nothing": "",
    "extra segments": "x/y/z",
    "a NUL byte": "%00",
}
NOT_FOUND = {"detail": "Not found."}
DEBUG_MODES = [pytest.param(False, id="production"), pytest.param(True, id="DEBUG")]


@dataclass(frozen=True)
class Route:
    name: str  # as reverse() takes it
    pattern: str  # the route strings of its URLconf levels, joined
    params: tuple  # the path parameters it takes
    methods: tuple  # the HTTP methods its view serves there
    view: type

    def path(self, **values):
        return reverse(self.name, kwargs={name: values.get(name, SAMPLE[name]) for name in self.params})

    def __str__(self):
        return self.name + ("(" + ",".join(self.params) + ")" if self.params else "")


def _walk(patterns, route="", namespace="", params=()):
    for pattern in patterns:
        here = route + str(pattern.pattern)
        taken = params + tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, here, inner, taken)
        else:
            yield here, namespace, taken, pattern


def _methods(callback):
    view = callback.cls
    actions = getattr(callback, "actions", None)  # a viewset route: method -> action
    if actions:
        return tuple(method for method in METHODS if method in actions)
    return tuple(method for method in METHODS if hasattr(view, method))


def api_routes():
    """Every route under /api/, from the root URLconf."""
    routes = []
    for route, namespace, params, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        assert pattern.name, f"the route {route!r} has no name: nothing can link to it"
        callback = pattern.callback
        routes.append(Route(namespace + pattern.name, route, params, _methods(callback), callback.cls))
    return routes


API_ROUTES = api_routes()
GET_ROUTES = [route for route in API_ROUTES if "get" in route.methods]


def _json(response):
    assert response["Content-Type"] == "application/json", (response.status_code, response["Content-Type"])
    return json.loads(b"".join(response.streaming_content) if response.streaming else response.content)


@pytest.fixture(params=DEBUG_MODES)
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


# One client for the module: a client loads the middleware on its first request, and
# WhiteNoise's reads every file under STATIC_ROOT (thousands once collectstatic ran). A server
# error must reach the test as the server answers it, not be raised in the test.
CLIENT = Client(raise_request_exception=False)


@pytest.fixture
def anonymous():
    return CLIENT


@pytest.fixture
def superuser_token(db):
    user = User.objects.create(username="boss", is_staff=True, is_superuser=True)  # no password to hash
    return f"Token {Token.objects.create(user=user).key}"


# -- 404: paths no route matches ------------------------------------------------------------------


def _malformed_paths():
    """(route, what, path): each route with each path parameter malformed, and each route
    without one followed by segments that no route has."""
    cases = []
    for route in API_ROUTES:
        records = [name for name in route.params if name != "format"]
        for what, bad in MALFORMED.items():
            if records:
                path = route.path()
                for name in records:  # followed by a slash, or by a format suffix
                    path = re.sub(f"/{SAMPLE[name]}(?=[/.])", f"/{bad}", path, count=1)
            elif "format" in route.params:
                path = route.path().replace(".json", f".{bad}" if bad else ".")
            else:
                path = route.path() + (bad + "/" if bad else "/")
            cases.append(pytest.param(path, id=f"{route}-{what}"))
    cases += [pytest.param(path, id=path) for path in ("/api/nothing", "/api/", "/api/v1/stats/", "/api/v2/")]
    return cases


@pytest.mark.django_db
@pytest.mark.parametrize("path", _malformed_paths())
def test_a_path_no_route_matches_is_a_json_404(anonymous, debug, path):
    for accept in ("application/json", "text/html", "*/*"):
        response = anonymous.get(path, HTTP_ACCEPT=accept)
        assert response.status_code == 404, accept
        assert _json(response) == NOT_FOUND, accept


@pytest.mark.django_db
@pytest.mark.parametrize("debug_on", [False, True])
def test_outside_the_api_the_landing_page_is_no_debug_404(client, settings, debug_on):
    settings.DEBUG = debug_on
    response = client.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


# -- 405: methods a route does not take -----------------------------------------------------------


def _refused_methods():
    return [
        pytest.param(route, method, id=f"{route}-{method.upper()}")
        for route in API_ROUTES
        for method in METHODS
        if method not in route.methods
    ]


@pytest.mark.parametrize(("route", "method"), _refused_methods())
def test_a_method_a_route_does_not_take_is_a_json_405(anonymous, superuser_token, debug, route, method):
    # As a superuser: DRF checks permissions before the method, so an anonymous write is a 401.
    response = getattr(anonymous, method)(route.path(), HTTP_ACCEPT="*/*", HTTP_AUTHORIZATION=superuser_token)
    assert response.status_code == 405
    assert _json(response) == {"detail": f'Method "{method.upper()}" not allowed.'}
    assert method.upper() not in response["Allow"]


# -- 406: an Accept header no renderer satisfies --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in GET_ROUTES if "format" not in r.params], ids=str)
def test_an_accept_header_nothing_satisfies_is_a_json_406(anonymous, debug, route):
    # (A format suffix names the format, which then wins: see the format tests below.)
    response = anonymous.get(route.path(), HTTP_ACCEPT="application/x-nothing-serves-this")
    assert response.status_code == 406
    assert _json(response) == {"detail": "Could not satisfy the request Accept header."}


# -- 500: an exception in a view or in a middleware -----------------------------------------------


def _fail(*args, **kwargs):
    raise RuntimeError("boom: secret internals")


@pytest.mark.django_db
@pytest.mark.parametrize("route", GET_ROUTES, ids=str)
def test_an_exception_in_a_view_is_a_json_500(anonymous, debug, route):
    for accept in ("application/json", "text/html"):
        with mock.patch("rest_framework.views.APIView.initial", _fail):
            response = anonymous.get(route.path(), HTTP_ACCEPT=accept)
        assert response.status_code == 500, accept
        assert _json(response) == {"detail": "Server error."}, accept


@pytest.mark.django_db
def test_an_exception_in_a_middleware_is_a_json_500_with_its_headers(anonymous, debug):
    with mock.patch("incidents.caching.AnonymousReadCacheMiddleware.__call__", _fail):
        response = anonymous.get(reverse("incident-list"), HTTP_ORIGIN="https://dashboard.example")
    assert response.status_code == 500
    assert _json(response) == {"detail": "Server error."}
    # Changed in place: the headers the other middleware set are kept, the length is the JSON's.
    assert response["Access-Control-Allow-Origin"] == "*"
    assert int(response["Content-Length"]) == len(response.content)
    # django-csp leaves DEBUG's 404 and 500 pages without a policy, and so their JSON.
    assert ("Content-Security-Policy" in response) is not debug


# -- 400: a request Django refuses before any view ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/incidents/", "/api/nothing"])
def test_a_host_not_allowed_is_a_json_400(anonymous, debug, path):
    response = anonymous.get(path, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert _json(response) == {"detail": "Bad request."}


# -- Formats: ?format= and a suffix win over Accept; an unknown one is a 404 naming it --------------


@pytest.fixture
def world(db):
    """A published incident with a place, an actor, a source and a claim: a record behind
    every detail route."""
    place, actor, source = make_location(), make_actor(), make_source()
    incident = make_incident(location=place)
    incident.sources.add(source)
    add_actor(incident, actor)
    claim = add_figure(incident, source, claimed_by=actor)
    return {
        "incident": incident.slug,
        "actor": actor.slug,
        "location": place.slug,
        "source": source.slug,
        "casualtyfigure": str(claim.pk),
    }


# The query a route needs to answer 200 rather than its own 400.
QUERIES = {"stats-casualties": "group_by=year"}
GDAL_ACCEPT = "text/plain, application/json"


def _formats(route):
    return list(dict.fromkeys(renderer.format for renderer in route.view().get_renderers()))


def _media_types(route):
    return list(dict.fromkeys(renderer.media_type for renderer in route.view().get_renderers()))


def _format_cases():
    return [
        pytest.param(route, fmt, id=f"{route}-{fmt}")
        for route in GET_ROUTES
        if set(route.params) <= {"slug", "pk"}
        for fmt in _formats(route)
    ]


def _url(route, world, fmt, suffix=False):
    """The route's URL for a record of the world, in format `fmt`: `?format=`, or the suffix."""
    values = {name: world[route.name.split("-")[0]] for name in route.params if name in ("slug", "pk")}
    query = [QUERIES[route.name]] if route.name in QUERIES else []
    if suffix:
        values["format"] = fmt
    else:
        query.append(f"format={fmt}")
    return reverse(route.name, kwargs=values) + (f"?{'&'.join(query)}" if query else "")


def _answer(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, response["Content-Type"], body


def assert_same_answer(answer, expected, route, fmt, accept):
    """The same status and body, and a Content-Type of the same format: the schema has two
    renderers for each of its formats, between which the Accept header still chooses."""
    assert answer[0] == expected[0], accept
    if answer[1] != expected[1]:
        types = {renderer.media_type for renderer in route.view().get_renderers() if renderer.format == fmt}
        assert {answer[1].split(";")[0], expected[1].split(";")[0]} <= types, (accept, answer[1])
    if fmt != "api":  # the browsable API's page carries a new CSRF token each time
        assert answer[2] == expected[2], accept


@pytest.mark.parametrize(("route", "fmt"), _format_cases())
def test_a_named_format_wins_over_any_accept_header(world, route, fmt):
    """?format=X answers as it does without an Accept header, whatever Accept says: GDAL's,
    one nothing serves, a browser's, or the media type of each of the view's other formats."""
    url = _url(route, world, fmt)
    expected = _answer(CLIENT.get(url))
    assert expected[0] == 200, expected
    for accept in [
        GDAL_ACCEPT,
        "application/x-nothing-serves-this",
        "text/html,*/*;q=0.8",
        *_media_types(route),
    ]:
        assert_same_answer(_answer(CLIENT.get(url, HTTP_ACCEPT=accept)), expected, route, fmt, accept)


def _suffix_cases():
    cases = []
    for route in GET_ROUTES:
        if "format" not in route.params:
            continue
        for fmt in _formats(route):
            try:
                route.path(format=fmt)
            except NoReverseMatch:  # the suffix takes [a-z0-9]: claims-csv has none
                continue
            cases.append(pytest.param(route, fmt, id=f"{route}-{fmt}"))
    return cases


@pytest.mark.parametrize(("route", "fmt"), _suffix_cases())
def test_a_format_suffix_wins_over_the_accept_header_as_the_parameter_does(world, route, fmt):
    url = _url(route, world, fmt, suffix=True)
    expected = _answer(CLIENT.get(url))
    assert expected[0] == 200, expected
    assert_same_answer(_answer(CLIENT.get(url, HTTP_ACCEPT=GDAL_ACCEPT)), expected, route, fmt, GDAL_ACCEPT)
    parameter = _answer(CLIENT.get(_url(route, world, fmt), HTTP_ACCEPT=GDAL_ACCEPT))
    assert parameter[:2] == expected[:2]


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in GET_ROUTES if "format" not in r.params], ids=str)
def test_an_unknown_format_parameter_is_a_json_404_naming_it(anonymous, debug, route):
    response = anonymous.get(route.path(), {"format": "xml"}, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    detail = _json(response)["detail"]
    assert "'xml'" in detail and "format parameter" in detail
    for fmt in _formats(route):
        assert fmt in detail


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in GET_ROUTES if "format" in r.params], ids=str)
def test_an_unknown_format_suffix_is_a_json_404_naming_it(anonymous, debug, route):
    response = anonymous.get(route.path(format="xml"))
    assert response.status_code == 404
    assert "URL's .xml suffix" in _json(response)["detail"]


def test_an_empty_format_parameter_counts_as_absent(world):
    response = CLIENT.get(reverse("incident-list"), {"format": ""}, HTTP_ACCEPT="text/csv")
    assert response["Content-Type"].startswith("text/csv")


# -- Over real HTTP ---------------------------------------------------------------------------------


class LiveServerChecks:
    """Requests on the wire: the raw path reaches the server's own WSGI decoding."""

    host = "127.0.0.1"
    # A TransactionTestCase empties the database after each test; the groups the migrations
    # created are put back for the tests that follow.
    serialized_rollback = True

    @classmethod
    def _fixture_setup(cls):
        call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
        super()._fixture_setup()

    def setUp(self):
        incident = make_incident(slug="live-clash", location=make_location())
        add_figure(incident, make_source())

    def request(self, method, path, accept="application/json"):
        address = urlsplit(self.live_server_url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.request(method, path, headers={"Accept": accept})
            answer = connection.getresponse()
            return answer.status, answer.getheader("Content-Type"), answer.read()
        finally:
            connection.close()

    def assert_json_error(self, answer, status, detail=None):
        self.assertEqual(answer[:2], (status, "application/json"), answer[2][:200])
        body = json.loads(answer[2])
        self.assertEqual(list(body), ["detail"])
        if detail is not None:
            self.assertEqual(body["detail"], detail)

    def test_paths_no_route_matches(self):
        paths = [
            "/api/v1/incidents/%C2%84/",
            "/api/v1/incidents/%84/",  # not UTF-8 at all
            "/api/v1/casualties/null,null/",
            "/api/v1/actors//",
            "/api/nothing",
            "/api/v1/incidents/x/y/z/",
            "/api/v1/stats/",
        ]
        for path in paths:
            for accept in ("application/json", "text/html", "*/*"):
                with self.subTest(path=path, accept=accept):
                    self.assert_json_error(self.request("GET", path, accept), 404, "Not found.")

    def test_method_format_and_server_errors(self):
        self.assert_json_error(self.request("POST", "/api/v1/docs/", "text/html"), 405)
        self.assert_json_error(self.request("POST", "/api/v1/schema/"), 405)
        self.assert_json_error(self.request("GET", "/api/v1/casualties/", "text/csv"), 406)
        self.assert_json_error(self.request("GET", "/api/v1/incidents/?format=xml"), 404)
        with mock.patch("rest_framework.views.APIView.initial", _fail):
            answer = self.request("GET", "/api/v1/incidents/", "text/html")
        self.assert_json_error(answer, 500, "Server error.")
        self.assertNotIn(b"boom", answer[2])

    def test_gdal_gets_the_geojson_it_names(self):
        status, content_type, body = self.request(
            "GET", "/api/v1/incidents/?format=geojson", "text/plain, application/json"
        )
        self.assertEqual((status, content_type), (200, "application/geo+json"))
        self.assertEqual([f["id"] for f in json.loads(body)["features"]], ["live-clash"])

    def test_ogrinfo_reads_the_geojson_export(self):
        ogrinfo = shutil.which("ogrinfo")
        if ogrinfo is None:
            self.skipTest("GDAL's ogrinfo is not installed (apt-get install gdal-bin)")
        url = f"{self.live_server_url}/api/v1/incidents/?format=geojson"
        result = subprocess.run(
            [ogrinfo, "-ro", "-so", url, "OGRGeoJSON"], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("Feature Count: 1", result.stdout)
        self.assertIn("Geometry: Point", result.stdout)


@override_settings(DEBUG=True)
class DebugLiveServerTests(LiveServerChecks, LiveServerTestCase):
    """As `make run` serves: DEBUG on, where Django answers with its HTML debug pages."""


@override_settings(DEBUG=False)
class ProductionLiveServerTests(LiveServerChecks, LiveServerTestCase):
    pass
