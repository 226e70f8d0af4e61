"""End to end in a real browser: an editor records an incident in the admin, a second editor
reviews it (the author may not: incidents.workflow.review), and the editor publishes it.

Playwright drives Debian's Chromium (headless) against a live server on 127.0.0.1.
The admin's own JavaScript takes part: the slug prepopulation, the "Add another"
inline links, the select2 autocomplete widgets and the changelist actions.
Screenshots of every step go to test-artifacts/browser/ (git-ignored), for CI to keep.

Needs the `playwright` package and /usr/bin/chromium (`apt-get install chromium`);
Playwright's own browser download is not used. Without either, the test is skipped.
Run it alone with `pytest -m browser`.

The database is only used before the browser starts. While Playwright's sync API
runs, it keeps an asyncio event loop running in this thread, and Django treats the
thread as async: an ORM call raises SynchronousOnlyOperation. Setting
DJANGO_ALLOW_ASYNC_UNSAFE would silence that, but Django would then also hand the
thread a second, separate database connection (its connections are per async
context), which the test case neither rolls back, restores nor closes. So the test
checks its results the way a user would, through the pages and the API.
"""

import os
import re
import unittest
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core.management import call_command

from tests.factories import make_actor, make_source

# ImportError, not only ModuleNotFoundError: a broken install (its greenlet
# extension missing, say) cannot drive a browser either.
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="no browser: playwright cannot be imported (pip install -r requirements-dev.txt)",
    exc_type=ImportError,
)
expect = sync_api.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home: the machine has no internet, and a test must not depend on it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Wide enough for every column of the incident changelist.
VIEWPORT = {"width": 1600, "height": 1000}
# How long to wait for an element or a condition. Playwright's defaults (30 s for
# actions, 5 s for expect) are too long to fail on and too short on a slow CI machine.
TIMEOUT_MS = 15_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

PASSWORD = "correct horse battery staple"
TITLE = "Clash at a checkpoint in Khorog"
SLUG = "khorog-checkpoint-clash-2012"
SOURCE_TEXT = (
    "At least 20 soldiers were killed in the fighting at the checkpoint, the ministry said. "
    "Local officials put the toll at 25."
)
QUOTE = "At least 20 soldiers were killed in the fighting at the checkpoint"
LOW_ABOVE_BEST = "low must not be greater than best."


@pytest.mark.browser
class EditorPublishesIncidentTests(StaticLiveServerTestCase):
    # StaticLiveServerTestCase serves the admin's CSS and JavaScript from the app
    # finders, as runserver does, so the admin's scripts work without collectstatic.
    host = "127.0.0.1"
    # The `editors` group and its permissions come from a migration, and a
    # transactional test empties every table when it ends: after one has run, the
    # group is gone. Serialized rollback reloads the rows the migrations wrote...
    serialized_rollback = True

    @classmethod
    def _fixture_setup(cls):
        # ...into empty tables. The flush that ends an ordinary transactional test
        # recreates content types and permissions under new ids, which the reloaded
        # rows would collide with.
        call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
        super()._fixture_setup()

    @classmethod
    def setUpClass(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise unittest.SkipTest(f"no browser: {CHROMIUM} is missing (apt-get install -y chromium)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        super().setUpClass()

    def setUp(self):
        # All the database work, before the browser starts (see the module docstring).
        for name in ("editor", "reviewer"):
            user = get_user_model().objects.create_user(name, f"{name}@example.org", PASSWORD, is_staff=True)
            user.groups.add(Group.objects.get(name="editors"))
        self.actor = make_actor(slug="tajik-state-forces", name="Tajik state forces", kind="state_forces")
        self.source = make_source(
            slug="ministry-statement", title="Ministry statement on Khorog", text=SOURCE_TEXT
        )

        # One browser per test, closed by the cleanups, which run before the test
        # case flushes the database.
        playwright = sync_api.sync_playwright().start()
        self.addCleanup(playwright.stop)
        try:
            self.browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except sync_api.Error as error:
            # The first line says why; the rest is Chromium's whole command line and log.
            reason = str(error).splitlines()[0]
            self.skipTest(f"no browser: Chromium at {CHROMIUM} would not start: {reason}")
        self.addCleanup(self.browser.close)
        expect.set_options(timeout=TIMEOUT_MS)

        self.context = self.browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)

    # ---- helpers ------------------------------------------------------------------

    def url(self, path):
        return f"{self.live_server_url}{path}"

    def screenshot(self, name, page=None, full_page=True):
        """Save the page as test-artifacts/browser/<name>.png: a record of each step."""
        (page or self.page).screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)

    def screenshot_region(self, name, top, bottom):
        """Save the part of the page from one element's top to another's bottom.

        The admin's pages are long and its inline tables wider than the window; these
        smaller pictures show one thing each, for the README (docs/img/).
        """
        # Bounding boxes are measured from the window; the clip from the page's top.
        scroll_x, scroll_y = self.page.evaluate("[window.scrollX, window.scrollY]")
        first, last = top.bounding_box(), bottom.bounding_box()
        left = min(first["x"], last["x"])
        right = max(first["x"] + first["width"], last["x"] + last["width"])
        clip = {
            "x": left + scroll_x,
            "y": first["y"] + scroll_y,
            "width": right - left,
            "height": last["y"] + last["height"] - first["y"],
        }
        self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True, clip=clip)

    def choose_in_autocomplete(self, cell, text):
        """Pick `text` in a select2 autocomplete, as an editor does: open, type, click the match."""
        cell.locator(".select2-selection").click()
        # select2 puts its dropdown at the end of <body>, outside the row it belongs to.
        self.page.locator(".select2-container--open .select2-search__field").fill(text)
        self.page.locator(".select2-results__option", has_text=text).click()
        expect(cell.locator(".select2-selection__rendered")).to_have_text(text)

    def api_get(self, context, slug):
        """GET an incident from the API in a browser context, with that context's cookies."""
        response = context.request.get(
            self.url(f"/api/v1/incidents/{slug}/"), headers={"Accept": "application/json"}
        )
        return response.status, (response.json() if response.ok else None)

    def anonymous_api_get(self, slug):
        """The API as the public sees it: a fresh context, without the editor's session."""
        anonymous = self.browser.new_context()
        try:
            return self.api_get(anonymous, slug)
        finally:
            anonymous.close()

    def log_in(self, page, username, screenshot=None):
        """Log in through the admin's own login page."""
        page.goto(self.url("/admin/login/?next=/admin/"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        if screenshot:
            self.screenshot(screenshot, page=page)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#user-tools")).to_contain_text(username)

    def run_action(self, action, message, page=None, skipped=None):
        """Tick the incident on the changelist, run an admin action and check its report: at
        info level, and a warning about the incidents it skipped only if `skipped` says why."""
        page = page or self.page
        page.goto(self.url("/admin/incidents/incident/"))
        row = page.locator("#result_list tbody tr", has_text=TITLE)
        row.locator("input.action-select").check()
        page.locator('select[name="action"]').select_option(action)
        page.get_by_role("button", name="Go").click()
        expect(page.locator(".messagelist .info")).to_have_text(message)
        if skipped is None:
            expect(page.locator(".messagelist .warning")).to_have_count(0)
        else:
            expect(page.locator(".messagelist .warning")).to_contain_text(skipped)

    # ---- the scenario -------------------------------------------------------------

    def test_editor_adds_fixes_and_publishes_an_incident(self):
        page = self.page

        self.log_in(page, "editor", screenshot="01-login")

        # The incident itself.
        page.goto(self.url("/admin/incidents/incident/add/"))
        page.locator("#id_title").fill(TITLE)
        # Leaving the title fills the slug in (the admin's prepopulate script); the
        # editor then gives the slug they want. Filling the slug straight away would
        # race the script, which writes into the slug when the title loses focus.
        page.locator("#id_title").press("Tab")
        expect(page.locator("#id_slug")).to_have_value("clash-at-a-checkpoint-in-khorog")
        page.locator("#id_slug").fill(SLUG)
        page.locator("#id_event_type").select_option("battles")
        page.locator("#id_sub_event_type").select_option("armed_clash")
        page.locator("#id_start_date").fill("2012-07-24")
        page.locator("#id_end_date").fill("2012-07-24")
        page.locator("#id_date_precision").select_option("day")

        # One actor row; the inline starts empty, so "Add another" creates it.
        page.locator("#incident_actors-group .add-row a").click()
        actor_row = page.locator("#incident_actors-0")
        self.choose_in_autocomplete(actor_row.locator("td.field-actor"), self.actor.name)
        actor_row.locator("td.field-role select").select_option("side_a")

        # One casualty figure, with the bounds typed the wrong way round: low 20 above best 10.
        page.locator("#casualty_figures-group .add-row a").click()
        figure_row = page.locator("#casualty_figures-0")
        figure_row.locator("td.field-outcome select").select_option("killed")
        figure_row.locator("td.field-group select").select_option("state_forces")
        figure_row.locator("td.field-low input").fill("20")
        figure_row.locator("td.field-best input").fill("10")
        figure_row.locator("td.field-qualifier select").select_option("at_least")
        figure_row.locator("td.field-wording input").fill("at least 20")
        self.choose_in_autocomplete(figure_row.locator("td.field-source"), self.source.title)
        figure_row.locator("td.field-quote textarea").fill(QUOTE)
        self.screenshot("02-add-form-filled")
        page.locator('input[name="_save"]').click()

        # The model's check constraint comes back as an error on the figure's row.
        expect(page.locator(".errornote")).to_be_visible()
        expect(page.locator("#casualty_figures-group .errorlist")).to_contain_text(LOW_ABOVE_BEST)
        self.screenshot("03-add-form-low-above-best")
        self.screenshot_region(
            "03b-figure-row-low-above-best",
            page.locator("#casualty_figures-group h2"),
            page.locator("#casualty_figures-group table"),
        )
        # Nothing was saved: not even the editor, who sees drafts, finds it in the API.
        self.assertEqual(self.api_get(self.context, SLUG), (404, None))

        # The rows survive the round trip, so only best needs fixing.
        figure_row.locator("td.field-best input").fill("25")
        page.locator('input[name="_continue"]').click()
        expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
        expect(page).to_have_url(re.compile(r"/admin/incidents/incident/\d+/change/$"))
        # The totals are computed from the figure on save: killed low 20, best 25, no high.
        killed = page.locator(".incident-totals tr", has_text="Killed")
        expect(killed.locator("td")).to_have_text(["20", "25", "–"])
        self.screenshot("04-saved-incident-with-totals")
        self.screenshot_region(
            "04b-saved-incident-totals",
            page.locator(".messagelist"),
            page.locator("fieldset", has=page.locator(".incident-totals")),
        )

        # Saved as a draft: the editor sees it in the API, the public does not yet.
        status, draft = self.api_get(self.context, SLUG)
        self.assertEqual((status, draft["status"]), (200, "draft"))
        self.assertEqual(self.anonymous_api_get(SLUG), (404, None))

        # Review takes a second person: the editor who wrote it is refused...
        self.run_action("mark_reviewed", "0 incident(s) reviewed.", skipped="someone else must review it")
        self.screenshot("04c-changelist-own-review-refused")
        status, draft = self.api_get(self.context, SLUG)
        self.assertEqual((status, draft["status"], draft["reviewed_at"]), (200, "draft", None))

        # ...and the second editor, in a browser of their own, reviews it from the changelist.
        reviewer_context = self.browser.new_context(viewport=VIEWPORT)
        reviewer = reviewer_context.new_page()
        reviewer.set_default_timeout(TIMEOUT_MS)
        self.log_in(reviewer, "reviewer")
        self.run_action("mark_reviewed", "1 incident(s) reviewed.", page=reviewer)
        self.screenshot("05-changelist-reviewed", page=reviewer)
        reviewer_context.close()

        # The editor then publishes it, from the changelist as an editor would.
        self.run_action("publish", "1 incident(s) published.")
        row = page.locator("#result_list tbody tr", has_text=TITLE)
        expect(row.locator("td.field-status")).to_have_text("Published")
        self.screenshot("06-changelist-published")
        # The filter sidebar makes the full page long and mostly empty.
        self.screenshot("06b-changelist-published-window", full_page=False)

        # Now the public API shows it, as entered, with the totals of the corrected figure.
        status, body = self.anonymous_api_get(SLUG)
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "published")
        self.assertIsNotNone(body["reviewed_at"])
        self.assertEqual(body["totals"]["killed"], {"low": 20, "best": 25, "high": None})
        self.assertEqual(
            [(a["actor"]["slug"], a["role"]) for a in body["actors"]], [(self.actor.slug, "side_a")]
        )
        [figure] = body["casualty_figures"]
        self.assertEqual(
            (figure["low"], figure["best"], figure["source"]["slug"], figure["quote"]),
            (20, 25, self.source.slug, QUOTE),
        )

        # What a reader sees in the browsable API, for the record.
        reader = self.browser.new_context(viewport=VIEWPORT).new_page()
        reader.goto(self.url(f"/api/v1/incidents/{SLUG}/"))
        expect(reader.locator("body")).to_contain_text(TITLE)
        self.screenshot("07-public-api", page=reader)
