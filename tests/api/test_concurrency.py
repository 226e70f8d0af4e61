"""Concurrent writes with the same If-Match against a live server: exactly one wins, the others get
412 (docs/api.md, "Concurrent edits: ETag and If-Match"). The admin's stale-page guard likewise.

Real requests in real threads on PostgreSQL, each on its own connection: the comparison and the
write hold the record's row lock, so the writes queue and each finds the tag its predecessor
changed. SQLite has no row locks (a writer locks the whole file), so these tests skip there.
"""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import LiveServerTestCase
from django.urls import reverse
from rest_framework.authtoken.models import Token

from incidents.models import CasualtyFigure, Incident
from tests.factories import add_figure, make_actor, make_incident, make_location, make_source

WRITERS = 8
ROUNDS = 3
CSRF = "c" * 32  # a CSRF secret of our own, sent as both the cookie and the form field

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no row locks: a writer locks the whole database"
)


def at_once(requests):
    """Send the requests from one thread each, released together; their (status, body) in order."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def send(index, request):
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers[index] = (response.status, response.read())
        except urllib.error.HTTPError as error:
            answers[index] = (error.code, error.read())

    threads = [threading.Thread(target=send, args=(n, r)) for n, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return answers


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class ConcurrentWritesTests(LiveServerTestCase):
    # The migrations' groups (editors, maintainers) are restored for each test.
    serialized_rollback = True

    def setUp(self):
        self.editor = User.objects.create_user("editor", is_staff=True)
        self.editor.groups.add(Group.objects.get(name="editors"))
        self.maintainer = User.objects.create_user("maintainer", is_staff=True)
        self.maintainer.groups.add(Group.objects.get(name="maintainers"))
        self.tokens = {user: Token.objects.create(user=user).key for user in (self.editor, self.maintainer)}
        self.source = make_source(slug="wire")

    def request(self, method, path, body=None, *, etag=None, user=None):
        headers = {"Authorization": f"Token {self.tokens[user or self.editor]}", "Accept": "application/json"}
        if etag:
            headers["If-Match"] = etag
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return urllib.request.Request(self.live_server_url + path, data=data, headers=headers, method=method)

    def etag(self, path):
        with urllib.request.urlopen(self.request("GET", path)) as response:
            return response.headers["ETag"]

    def statuses(self, answers):
        return Counter(status for status, _ in answers)

    def report(self, what, counts):
        print(f"\n{WRITERS} concurrent {what} with one If-Match: {dict(sorted(counts.items()))}")

    def test_one_of_eight_patches_wins_and_seven_get_412(self):
        make_incident(slug="contested", title="Original", status="draft")
        path = reverse("incident-detail", kwargs={"slug": "contested"})
        for round_ in range(ROUNDS):
            etag = self.etag(path)
            answers = at_once(
                [
                    self.request("PATCH", path, {"title": f"Round {round_} writer {n}"}, etag=etag)
                    for n in range(WRITERS)
                ]
            )
            counts = self.statuses(answers)
            self.report(f"incident PATCHes (round {round_ + 1})", counts)
            self.assertEqual(counts, Counter({200: 1, 412: WRITERS - 1}), answers)
            [winner] = [json.loads(body) for status, body in answers if status == 200]
            self.assertEqual(Incident.objects.get(slug="contested").title, winner["title"])

    def test_nested_claim_writes_one_wins(self):
        incident = make_incident(slug="claims", status="draft")
        claim = add_figure(incident, self.source)
        path = reverse("incident-detail", kwargs={"slug": "claims"})
        etag = self.etag(path)
        answers = at_once(
            [
                self.request(
                    "PATCH", path, {"casualty_figures": [{"id": claim.pk, "high": 20 + n}]}, etag=etag
                )
                for n in range(WRITERS)
            ]
        )
        counts = self.statuses(answers)
        self.report("nested claim PATCHes", counts)
        self.assertEqual(counts, Counter({200: 1, 412: WRITERS - 1}), answers)
        self.assertEqual(CasualtyFigure.objects.filter(incident=incident).count(), 1)

    def test_one_of_eight_workflow_steps_wins(self):
        make_incident(slug="to-publish", status="reviewed")
        etag = self.etag(reverse("incident-detail", kwargs={"slug": "to-publish"}))
        path = reverse("incident-publish", kwargs={"slug": "to-publish"})
        counts = self.statuses(at_once([self.request("POST", path, {}, etag=etag) for _ in range(WRITERS)]))
        self.report("publish steps", counts)
        self.assertEqual(counts, Counter({200: 1, 412: WRITERS - 1}))

    def test_eight_concurrent_revise_calls_make_one_revision(self):
        make_incident(slug="revised", title="Original")
        path = reverse("incident-revise", kwargs={"slug": "revised"})
        answers = at_once([self.request("POST", path, {}) for _ in range(WRITERS)])
        counts = self.statuses(answers)
        self.report("revise calls", counts)
        self.assertEqual(counts, Counter({201: 1, 200: WRITERS - 1}), answers)
        self.assertEqual({json.loads(body)["slug"] for _, body in answers}, {"revised--revision"})
        self.assertEqual(Incident.objects.filter(revision_of__slug="revised").count(), 1)

    def test_a_revision_published_eight_times_at_once_is_applied_once(self):
        incident = make_incident(slug="applied", title="Original")
        add_figure(incident, self.source)
        self.client.force_login(self.editor)
        self.client.post(reverse("incident-revise", kwargs={"slug": "applied"}))
        revision = Incident.objects.get(revision_of=incident)
        Incident.objects.filter(pk=revision.pk).update(
            title="Changed", status="reviewed", reviewed_by=self.maintainer
        )
        path = reverse("incident-publish", kwargs={"slug": revision.slug})
        answers = at_once([self.request("POST", path, {}) for _ in range(WRITERS)])
        counts = self.statuses(answers)
        self.report("publishes of one revision", counts)
        # The first applies it; the others find it gone (410, naming the incident).
        self.assertEqual(counts, Counter({200: 1, 410: WRITERS - 1}), answers)
        incident.refresh_from_db()
        self.assertEqual((incident.title, incident.casualty_figures.count()), ("Changed", 1))

    def test_one_of_eight_deletes_wins(self):
        make_incident(slug="to-delete")
        path = reverse("incident-detail", kwargs={"slug": "to-delete"})
        etag = self.etag(path)
        answers = at_once(
            [self.request("DELETE", path, etag=etag, user=self.maintainer) for _ in range(WRITERS)]
        )
        counts = self.statuses(answers)
        self.report("DELETEs", counts)
        self.assertEqual(counts[204], 1, answers)
        # A delete that waited for the winner's lock finds its tag gone (412); one that started
        # after the winner committed finds a deleted incident (410).
        self.assertEqual(counts[412] + counts[410], WRITERS - 1, answers)

    def test_claims_actors_places_and_sources_one_wins(self):
        incident = make_incident(status="draft")
        claim = add_figure(incident, self.source)
        make_actor(slug="contested-actor")
        make_location(slug="contested-place")
        writes = {
            "claim": (reverse("casualtyfigure-detail", kwargs={"pk": claim.pk}), "high", 20),
            "actor": (reverse("actor-detail", kwargs={"slug": "contested-actor"}), "description", "x"),
            "location": (reverse("location-detail", kwargs={"slug": "contested-place"}), "name", "x"),
            "source": (reverse("source-detail", kwargs={"slug": "wire"}), "notes", "x"),
        }
        for name, (path, field, value) in writes.items():
            with self.subTest(record=name):
                etag = self.etag(path)
                counts = self.statuses(
                    at_once(
                        [
                            self.request(
                                "PATCH",
                                path,
                                {field: value * (n + 1) if name != "claim" else value + n},
                                etag=etag,
                            )
                            for n in range(WRITERS)
                        ]
                    )
                )
                self.report(f"{name} PATCHes", counts)
                self.assertEqual(counts, Counter({200: 1, 412: WRITERS - 1}))


class ConcurrentAdminSavesTests(LiveServerTestCase):
    serialized_rollback = True

    def setUp(self):
        self.editor = User.objects.create_user("editor", is_staff=True)
        self.editor.groups.add(Group.objects.get(name="editors"))
        self.client.force_login(self.editor)
        self.session = self.client.cookies["sessionid"].value
        self.opener = urllib.request.build_opener(NoRedirects)

    def post(self, path, data):
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": CSRF}).encode()
        request = urllib.request.Request(
            self.live_server_url + path,
            data=body,
            headers={"Cookie": f"sessionid={self.session}; csrftoken={CSRF}"},
            method="POST",
        )
        return request

    def form(self, incident, title):
        return {
            "title": title,
            "slug": incident.slug,
            "event_type": incident.event_type,
            "sub_event_type": incident.sub_event_type,
            "start_date": incident.start_date.isoformat(),
            "end_date": incident.end_date.isoformat(),
            "date_precision": incident.date_precision,
            "summary": "",
            "extra": "{}",
            "opened_at_version": incident.updated_at.isoformat(),
            "incident_actors-TOTAL_FORMS": "0",
            "incident_actors-INITIAL_FORMS": "0",
            "casualty_figures-TOTAL_FORMS": "0",
            "casualty_figures-INITIAL_FORMS": "0",
        }

    def send_all(self, requests):
        barrier = threading.Barrier(len(requests))
        statuses = [None] * len(requests)

        def send(index, request):
            barrier.wait()
            try:
                with self.opener.open(request, timeout=60) as response:
                    statuses[index] = response.status
            except urllib.error.HTTPError as error:
                statuses[index] = error.code

        threads = [threading.Thread(target=send, args=(n, r)) for n, r in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        return statuses

    def test_of_saves_and_step_buttons_from_one_page_version_exactly_one_is_done(self):
        for round_ in range(ROUNDS):
            incident = make_incident(slug=f"page-{round_}", title="Original", status="draft")
            change = reverse("admin:incidents_incident_change", args=[incident.pk])
            review = reverse("admin:incidents_incident_step", args=[incident.pk, "review"])
            version = incident.updated_at.isoformat()
            requests = [self.post(change, self.form(incident, f"Saved by {n}")) for n in range(WRITERS // 2)]
            requests += [self.post(review, {"opened_at_version": version}) for _ in range(WRITERS // 2)]
            statuses = self.send_all(requests)
            incident.refresh_from_db()
            saved = incident.title != "Original"
            reviewed = incident.status == "reviewed"
            print(
                f"\n{WRITERS // 2} admin saves and {WRITERS // 2} review buttons from one page version "
                f"(round {round_ + 1}): statuses {statuses}, saved={saved}, reviewed={reviewed}"
            )
            # A save that wins redirects (302); a stale one shows the form again (200). A step
            # always redirects, with its message.
            self.assertTrue(all(status in (200, 302) for status in statuses), statuses)
            self.assertEqual(saved + reviewed, 1)
            self.assertEqual(Incident.history.filter(id=incident.pk, history_type="~").count(), 1)
