"""The access-control matrix: every URL under /api/ × every format its view offers × role × status.

The cells are generated, not listed: the routes come from the URL configuration
(incidents.api.urls: the router's registry with the list, detail and extra-action routes of
each viewset, and every other named route: stats, schema, docs), the formats from each
view's renderers, and the probed filters from each view's FilterSet (every filter naming a
record by slug). A new endpoint, action, format or slug filter is in the matrix the day it
is added; a new kind of record fails `test_every_kind_has_targets` until the world below
has records of it.

The world: for each unpublished status (draft, reviewed, retracted) an incident whose slug,
title, summary, role quote and claims carry the marker `zqxj`, with an actor, a place and a
source of its own (marked too: the public sees only records that a published incident uses),
the child of a published incident and the parent of another; a deleted draft with its own
records, a deleted published incident, and a published incident merged into the draft. The
roles: anonymous, an editor (`editors`) and a maintainer (`maintainers`).

What each cell asserts:
- anonymous: the marker appears in no body; a detail URL or a slug filter naming a record the
  public may not see (unpublished, deleted while unpublished, used by no published incident)
  answers exactly as one naming nothing: status, Content-Type and body, with the requested
  path and slug written alike;
- editors and maintainers: those records appear wherever their kind is served (lists, exports,
  details, filters), and published records name their unpublished relations.
Writes (and OPTIONS) are probed as anonymous only, an editor's write would change the world:
a write to a hidden record answers as a write to a missing one.

Cells that wait for a fix elsewhere are xfail(strict=True) with the reason (`_xfail`): they
fail as soon as the fix lands, and the mark is then removed.
"""

import csv
import difflib
import html
import io
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, reverse
from django.urls.resolvers import URLPattern, URLResolver

from incidents import workflow
from incidents.api import urls as api_urls
from incidents.models import Actor, CasualtyFigure, Incident, Location, Source
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

SECRET = "zqxj"
UNPUBLISHED = ("draft", "reviewed", "retracted")
STATUSES = (*UNPUBLISHED, "published", "deleted")
ROLES = ("anonymous", "editor", "maintainer")
MISSING_SLUG = "no-such-record-at-all"
MISSING_ID = "987654321"
MODEL_KINDS = {
    Incident: "incident",
    CasualtyFigure: "claim",
    Actor: "actor",
    Location: "location",
    Source: "source",
}
BASENAME_KINDS = {
    "incident": "incident",
    "casualtyfigure": "claim",
    "actor": "actor",
    "location": "location",
    "source": "source",
}
RECORD_KINDS = ("actor", "location", "source")
# Parameters a route needs to answer at all.
ROUTE_QUERY = {"stats-casualties": {"group_by": "event_type"}}
WRITE_METHODS = ("post", "put", "patch", "delete", "options")
STANDARD_ACTIONS = {"list", "create", "retrieve", "update", "partial_update", "destroy"}


# -- Routes, from the URL configuration ---------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    kind: str | None  # what its answers are made of (None: neither records nor lists of them)
    detail: bool
    lookup: str | None  # the URL keyword of a detail
    methods: tuple  # lower-case HTTP methods
    formats: tuple
    slug_filters: tuple  # (name, kind) of each filter naming a record by slug
    action: str | None = None  # an extra action's name


def _formats(view_class):
    return tuple(dict.fromkeys(renderer.format for renderer in view_class().get_renderers()))


def _slug_filters(view_class):
    filterset = getattr(view_class, "filterset_class", None)
    if filterset is None:
        return ()
    found = []
    for name, declared in filterset.base_filters.items():
        model = getattr(getattr(declared, "queryset", None), "model", None)
        if model is not None:
            found.append((name, MODEL_KINDS.get(model, model.__name__)))
    return tuple(found)


def _routes():
    router = api_urls.router
    root = router.get_api_root_view().cls
    routes = [Route(router.root_view_name, None, False, None, ("get",), _formats(root), ())]
    for _prefix, viewset, basename in router.registry:
        kind = BASENAME_KINDS.get(basename, basename)
        lookup = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        for route in router.get_routes(viewset):
            actions = set(route.mapping.values())
            extra = actions - STANDARD_ACTIONS
            routes.append(
                Route(
                    route.name.format(basename=basename),
                    kind,
                    route.detail,
                    lookup if route.detail else None,
                    tuple(route.mapping),
                    _formats(viewset),
                    _slug_filters(viewset) if "list" in actions else (),
                    extra.pop() if extra else None,
                )
            )
    for pattern in api_urls.urlpatterns:
        if getattr(pattern, "name", None) is None:
            continue
        view_class = pattern.callback.cls
        methods = tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m))
        kind = "stats" if pattern.name.startswith("stats-") else None
        filters = _slug_filters(view_class)
        routes.append(Route(pattern.name, kind, False, None, methods, _formats(view_class), filters))
    return routes


ROUTES = {route.name: route for route in _routes()}


# -- The world ------------------------------------------------------------------------------------


@dataclass
class World:
    clients: dict
    # (kind, status) -> [(variant, value)]: what a detail URL of that kind and status names.
    targets: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)  # status -> incidents
    answers: dict = field(default_factory=dict)

    def request(self, role, method, url, params=None):
        """(status, Content-Type, body); kept, since no cell changes the world."""
        key = (role, method, url, tuple(sorted((params or {}).items())))
        if key not in self.answers:
            client = self.clients[role]
            if method == "get":
                response = client.get(url, params or {})
            else:
                target = f"{url}?{urlencode(params)}" if params else url
                body = "" if method in ("delete", "options") else "{}"
                response = getattr(client, method)(target, body, content_type="application/json")
            body = b"".join(response.streaming_content) if response.streaming else response.content
            self.answers[key] = (response.status_code, response.get("Content-Type"), body.decode())
        return self.answers[key]


def _records(prefix, label):
    """An actor, a place and a source, named with the prefix."""
    return {
        "actor": make_actor(slug=f"{prefix}-actor", name=f"{label} actor"),
        "location": make_location(slug=f"{prefix}-place", name=f"{label} place"),
        "source": make_source(slug=f"{prefix}-source", title=f"{label} source"),
    }


def _family(world, status):
    """A published parent, the unpublished incident under it and a published child under that,
    each child with records of its own."""
    hidden = _records(f"{SECRET}-{status}", f"{SECRET.title()} {status}")
    shown = _records(f"open-child-{status}", f"Open child {status}")
    parent = make_incident(
        slug=f"open-parent-{status}", title=f"Open parent {status}", location=make_location()
    )
    secret = make_incident(
        slug=f"{SECRET}-{status}-secret",
        title=f"{SECRET.title()} {status} secret title",
        summary=f"The {SECRET} summary.",
        status=status,
        parent=parent,
        location=hidden["location"],
        retraction_reason="Withdrawn." if status == "retracted" else "",
    )
    secret.sources.add(hidden["source"])
    add_actor(secret, hidden["actor"], claimed_by=hidden["actor"], quote=f"{SECRET} role quote")
    claim = add_figure(
        secret,
        hidden["source"],
        claimed_by=hidden["actor"],
        wording=f"{SECRET} {status} wording",
        notes=f"{SECRET} notes",
    )
    child = make_incident(
        slug=f"open-child-{status}", title=f"Open child {status}", parent=secret, location=shown["location"]
    )
    child.sources.add(shown["source"])
    add_actor(child, shown["actor"])
    open_claim = add_figure(child, shown["source"], claimed_by=shown["actor"], wording="open wording")
    world.targets[("incident", status)] = [("", secret.slug)]
    world.targets[("claim", status)] = [("", str(claim.pk))]
    for kind in RECORD_KINDS:
        world.targets[(kind, status)] = [("", hidden[kind].slug)]
        if status == "draft":
            world.targets[(kind, "published")] = [("", shown[kind].slug)]
    if status == "draft":
        world.targets[("claim", "published")] = [("", str(open_claim.pk))]
    return [parent, child]


def build_world():
    editor = User.objects.create_user("matrix-editor")
    editor.groups.add(Group.objects.get(name="editors"))
    maintainer = User.objects.create_user("matrix-maintainer")
    maintainer.groups.add(Group.objects.get(name="maintainers"))
    clients = {"anonymous": Client(), "editor": Client(), "maintainer": Client()}
    clients["editor"].force_login(editor)
    clients["maintainer"].force_login(maintainer)
    world = World(clients)
    published = []
    for status in UNPUBLISHED:
        published += _family(world, status)
    world.targets[("incident", "published")] = [("", incident.slug) for incident in published]

    # Deleted: a draft with its own records (which nothing uses any more), a published incident,
    # and a published incident merged into the draft (its claim and source go with it).
    doomed_records = _records(f"{SECRET}-deleted", f"{SECRET.title()} deleted")
    doomed = make_incident(
        slug=f"{SECRET}-deleted-draft",
        title=f"{SECRET.title()} deleted title",
        status="draft",
        location=doomed_records["location"],
    )
    add_actor(doomed, doomed_records["actor"])
    doomed_claim = add_figure(doomed, doomed_records["source"], wording=f"{SECRET} deleted wording")
    gone = make_incident(slug="gone-published", title="Gone published")
    merged = make_incident(slug="merged-away", title="Merged away")
    add_figure(merged, make_source(slug=f"{SECRET}-merged-source"), wording=f"{SECRET} merged wording")
    workflow.delete(doomed, maintainer)
    workflow.delete(gone, maintainer)
    workflow.merge(merged, Incident.objects.get(slug=f"{SECRET}-draft-secret"), maintainer)
    world.targets[("incident", "deleted")] = [
        ("draft", doomed.slug),
        ("published", gone.slug),
        ("merged", merged.slug),
    ]
    world.targets[("claim", "deleted")] = [("", str(doomed_claim.pk))]
    for kind in RECORD_KINDS:
        world.targets[(kind, "deleted")] = [("", doomed_records[kind].slug)]
    for status in (*UNPUBLISHED, "published"):
        world.counts[status] = Incident.objects.filter(status=status).count()
    return world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    # Built once for the module, inside a transaction rolled back at its end; each cell runs in
    # a savepoint within it.
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


# -- Cells ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    route: str
    method: str
    fmt: str
    role: str
    status: str
    variant: str = ""  # which deleted incident
    param: str = ""  # a slug filter
    param_kind: str = ""

    @property
    def id(self):
        status = f"{self.status}:{self.variant}" if self.variant else self.status
        parts = [self.route, f"?{self.param}=" if self.param else "", self.method.upper(), self.fmt]
        return "|".join(part for part in (*parts, self.role, status) if part)


def _variants(route, status):
    if route.kind == "incident" and route.detail and status == "deleted":
        return ("draft", "published", "merged")
    return ("",)


def _cells():
    cells = []
    for route in ROUTES.values():
        for fmt, role, status in ((f, r, s) for f in route.formats for r in ROLES for s in STATUSES):
            for variant in _variants(route, status):
                if "get" in route.methods:
                    cells.append(Cell(route.name, "get", fmt, role, status, variant))
                if route.detail and role == "anonymous" and fmt == route.formats[0]:
                    for method in WRITE_METHODS:
                        if method in route.methods or (method == "options" and "get" in route.methods):
                            cells.append(Cell(route.name, method, fmt, role, status, variant))
            for param, kind in route.slug_filters:
                cells.append(Cell(route.name, "get", fmt, role, status, param=param, param_kind=kind))
    return cells


def _xfail(cell):
    """Why a cell is expected to fail for now, or None (none is, today; the hook stays so a
    known gap can be marked strictly, and flips to a failure once fixed)."""
    return None


CELLS = _cells()


def _params():
    for cell in CELLS:
        reason = _xfail(cell)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(cell, id=cell.id, marks=marks)


# -- Checks ---------------------------------------------------------------------------------------

RELATION = re.compile(rf'"(parent|children)": \[?\s*"{SECRET}-')
CSRF = re.compile(r'(csrfmiddlewaretoken" value="|"?csrfToken"?: ")[^"]*"')


def normalised(body, url, probe):
    """The body with the requested path and probe slug (and CSRF tokens) written alike."""
    text = body.replace(url, "<url>")
    if probe and not probe.isdigit():
        text = text.replace(probe, "<probe>")
    return CSRF.sub(r"\1<csrf>", text)


def assert_alike(cell, answer, missing):
    """Two answers (status, Content-Type, normalised body) are the same; else where they differ."""
    if answer != missing:
        diff = difflib.unified_diff(missing[2].splitlines(), answer[2].splitlines(), "missing", "probe", n=1)
        raise AssertionError(
            f"{cell.id}: {answer[:2]} != missing {missing[:2]}\n" + "\n".join(list(diff)[:40])
        )


def assert_no_secret(cell, body):
    at = body.lower().find(SECRET)
    assert at < 0, f"{cell.id}: the public sees {body[max(0, at - 160) : at + 80]!r}"


def assert_status(cell, status, expected, body):
    assert status == expected, f"{cell.id}: {status}, not {expected}: {body[:300]!r}"


def _served(fmt, body):
    """The incidents of an incident-list body by slug (JSON page, NDJSON, CSV, GeoJSON)."""
    if fmt == "json":
        return {item["slug"]: item for item in json.loads(body)["results"]}
    if fmt == "ndjson":
        return {item["slug"]: item for item in map(json.loads, body.splitlines())}
    if fmt == "csv":
        return {
            row["slug"]: {"parent": row["parent_slug"] or None} for row in csv.DictReader(io.StringIO(body))
        }
    if fmt == "geojson":
        return {feature["id"]: feature["properties"] for feature in json.loads(body)["features"]}
    return None


def assert_relations_named(cell, body):
    """Editors: each published parent lists its unpublished child, each published child names it."""
    if cell.fmt == "api":
        # The records shown, not the editors' write form (which offers every incident).
        assert len(RELATION.findall(html.unescape(body))) >= 2 * len(UNPUBLISHED), cell.id
        return
    served = _served(cell.fmt, body)
    if served is None:
        return
    for status in UNPUBLISHED:
        secret = f"{SECRET}-{status}-secret"
        assert served[f"open-child-{status}"]["parent"] == secret, cell.id
        if served[f"open-parent-{status}"].get("children") is not None:
            assert secret in served[f"open-parent-{status}"]["children"], cell.id


@pytest.mark.django_db
@pytest.mark.parametrize("cell", list(_params()))
def test_cell(world, cell):
    route = ROUTES[cell.route]
    query = {**ROUTE_QUERY.get(route.name, {}), "format": cell.fmt}
    if route.detail:
        check_detail(world, cell, route, query)
    elif cell.param:
        check_filter(world, cell, route, query)
    elif route.kind == "stats" and cell.fmt == "json":
        check_stats(world, cell, route, query)
    else:
        check_list(world, cell, route, query)


def _hidden(kind, status, variant):
    """Whether the public may not see the record a detail URL of this kind and status names."""
    if kind == "incident" and status == "deleted":
        return variant == "draft"
    return status != "published"


def check_detail(world, cell, route, query):
    editor = cell.role != "anonymous"
    for variant, value in world.targets[(route.kind, cell.status)]:
        if variant != cell.variant:
            continue
        url = reverse(route.name, kwargs={route.lookup: value})
        status, content_type, body = world.request(cell.role, cell.method, url, query)
        if not editor:
            assert_no_secret(cell, normalised(body, url, value))
            if _hidden(route.kind, cell.status, variant):
                missing_value = MISSING_ID if value.isdigit() else MISSING_SLUG
                missing_url = reverse(route.name, kwargs={route.lookup: missing_value})
                missing = world.request(cell.role, cell.method, missing_url, query)
                assert_alike(
                    cell,
                    (status, content_type, normalised(body, url, value)),
                    (missing[0], missing[1], normalised(missing[2], missing_url, missing_value)),
                )
            elif cell.method == "get":
                assert_status(cell, status, 410 if cell.status == "deleted" else 200, body)
            continue
        if route.kind == "incident" and cell.status == "deleted":
            assert_status(cell, status, 410, body)
        elif route.kind == "claim" and cell.status == "deleted":
            assert_status(cell, status, 404, body)
        else:
            assert_status(cell, status, 200, body)
            if cell.status != "published" and route.action is None:
                assert value in body, cell.id
                if route.kind == "incident":
                    assert f"{SECRET.title()} {cell.status} secret title" in html.unescape(body), cell.id
        if cell.status == "published" and cell.route == "incident-detail":
            if cell.fmt == "api":
                assert RELATION.search(html.unescape(body)), (cell.id, value)
            else:
                data = json.loads(body)
                secrets = {f"{SECRET}-{status}-secret" for status in UNPUBLISHED}
                assert {data["parent"], *data["children"]} & secrets, (cell.id, value, data["parent"])


def _probe(cell):
    """The slug a filter cell names, and what an editor's answer shows."""
    if cell.param_kind == "incident":
        if cell.status in UNPUBLISHED:
            value = f"{SECRET}-{cell.status}-secret"
            return value, f"open-child-{cell.status}" if cell.param == "parent" else value
        if cell.status == "published":
            if cell.param == "parent":
                return "open-parent-draft", f"{SECRET}-draft-secret"
            return "open-child-draft", "open-child-draft"
        return f"{SECRET}-deleted-draft", None
    if cell.status in UNPUBLISHED:
        return f"{SECRET}-{cell.status}-{_suffix(cell.param_kind)}", f"{SECRET}-{cell.status}-secret"
    if cell.status == "published":
        return f"open-child-draft-{_suffix(cell.param_kind)}", "open-child-draft"
    return f"{SECRET}-deleted-{_suffix(cell.param_kind)}", None


def _suffix(kind):
    return {"location": "place"}.get(kind, kind)


def check_filter(world, cell, route, query):
    url = reverse(route.name)
    value, shown = _probe(cell)
    status, content_type, body = world.request(cell.role, "get", url, {**query, cell.param: value})
    missing = world.request(cell.role, "get", url, {**query, cell.param: MISSING_SLUG})
    answer = (status, content_type, normalised(body, url, value))
    missing = (missing[0], missing[1], normalised(missing[2], url, MISSING_SLUG))
    if cell.role == "anonymous":
        assert_no_secret(cell, answer[2])
        if cell.status == "published":
            assert_status(cell, status, 200, body)
        else:
            assert_alike(cell, answer, missing)
        return
    if cell.status == "deleted" and cell.param_kind == "incident":
        # A deleted incident names nothing, for editors too.
        assert_alike(cell, answer, missing)
        return
    assert_status(cell, status, 200, body)
    if shown and route.kind != "stats":
        assert shown in body, (cell.id, body[:300])


def check_list(world, cell, route, query):
    url = reverse(route.name)
    status, _, body = world.request(cell.role, "get", url, query)
    assert_status(cell, status, 200, body)
    for gone in (f"{SECRET}-deleted-draft", "gone-published", "merged-away"):
        assert gone not in body, (cell.id, gone)
    lists = route.kind in ("incident", "claim", *RECORD_KINDS)
    if cell.role == "anonymous":
        assert_no_secret(cell, normalised(body, url, None))
        if lists and cell.status == "published":
            assert "open-child-draft" in body, cell.id
        return
    if not lists:
        return
    if cell.status in UNPUBLISHED:
        if route.kind in RECORD_KINDS:
            assert f"{SECRET}-{cell.status}-{_suffix(route.kind)}" in body, cell.id
        else:
            assert f"{SECRET}-{cell.status}-secret" in body, cell.id
    elif cell.status == "published":
        assert "open-child-draft" in body, cell.id
        if route.kind == "incident":
            assert_relations_named(cell, body)
    elif route.kind in RECORD_KINDS:
        # Records whose incident was deleted stay, for editors.
        assert f"{SECRET}-deleted-{_suffix(route.kind)}" in body, cell.id


def check_stats(world, cell, route, query):
    """Sums count the incidents the viewer may see."""
    url = reverse(route.name)
    if cell.status == "deleted":
        params = query
        public, everything = world.counts["published"], sum(world.counts.values())
    else:
        params = {**query, "status": cell.status}
        public = world.counts["published"] if cell.status == "published" else 0
        everything = world.counts[cell.status]
    status, _, body = world.request(cell.role, "get", url, params)
    assert_status(cell, status, 200, body)
    counted = sum(row["incidents"] for row in json.loads(body)["results"])
    assert counted == (public if cell.role == "anonymous" else everything), cell.id


# -- The matrix covers what the URL configuration serves ----------------------------------------


def _named_patterns(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _named_patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + str(pattern.pattern), pattern.name


def test_every_named_api_url_is_in_the_matrix():
    served = {name for path, name in _named_patterns(get_resolver()) if path.startswith("api/")}
    assert served, "no URL under /api/"
    assert served <= set(ROUTES), f"routes under /api/ missing from the matrix: {served - set(ROUTES)}"
    assert {cell.route for cell in CELLS} == set(ROUTES)


def test_every_view_format_is_in_the_matrix():
    for route in ROUTES.values():
        formats = {cell.fmt for cell in CELLS if cell.route == route.name}
        if "get" in route.methods:
            assert formats == set(route.formats), route.name
        else:
            # A write-only action (review, publish, …) is probed as anonymous, in its first format.
            assert formats == {route.formats[0]}, route.name
    assert set(ROUTES["incident-list"].formats) >= {"json", "api", "csv", "claims-csv", "geojson", "ndjson"}


def test_every_slug_filter_is_probed():
    probed = {(cell.route, cell.param) for cell in CELLS if cell.param}
    for expected in (
        ("incident-list", "parent"),
        ("incident-list", "actor"),
        ("incident-list", "claimed_by"),
        ("incident-list", "location"),
        ("incident-list", "source"),
        ("casualtyfigure-list", "incident"),
        ("casualtyfigure-list", "parent"),
        ("stats-casualties", "parent"),
    ):
        assert expected in probed
    kinds = {cell.param_kind for cell in CELLS if cell.param}
    assert kinds <= {"incident", *RECORD_KINDS}, f"a slug filter of a new kind: {kinds}"


@pytest.mark.django_db
def test_every_kind_has_targets(world):
    for route in ROUTES.values():
        if route.detail:
            for status in STATUSES:
                assert world.targets.get((route.kind, status)), (route.name, status)


def test_matrix_size():
    # Printed with -s; grows with every route, format and filter.
    xfails = sum(1 for cell in CELLS if _xfail(cell))
    print(f"\naccess matrix: {len(CELLS)} cells, {xfails} xfail(strict)")
    assert len(CELLS) > 500
