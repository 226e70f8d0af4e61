"""The Content-Security-Policy in a real browser: the admin, the browsable API and the API docs
work under it, and Chromium reports no violation on any of them.

Every page gets a listener for `securitypolicyviolation` before its own scripts run; a
violation anywhere (a blocked inline script, a stylesheet from another site) fails the
page. Needs the `playwright` package and /usr/bin/chromium, like tests/admin/test_browser.py
(see its docstring for why the database is only used before the browser starts).
"""

import os
import unittest

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core.management import call_command

from tests.factories import add_figure, make_incident, make_location, make_source

sync_api = pytest.importorskip("playwright.sync_api", reason="no browser: playwright", exc_type=ImportError)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
TIMEOUT_MS = 15_000
PASSWORD = "csp-check-long-passphrase"
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(
  `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
"""


@pytest.mark.browser
class ContentSecurityPolicyInBrowserTests(StaticLiveServerTestCase):
    host = "127.0.0.1"
    serialized_rollback = True

    @classmethod
    def _fixture_setup(cls):
        call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
        super()._fixture_setup()

    @classmethod
    def setUpClass(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise unittest.SkipTest(f"no browser: {CHROMIUM} is missing (apt-get install -y chromium)")
        super().setUpClass()

    def setUp(self):
        get_user_model().objects.create_superuser("boss", "boss@example.org", PASSWORD)
        self.incident = make_incident(slug="csp-clash", location=make_location(), status="draft")
        add_figure(self.incident, make_source())
        playwright = sync_api.sync_playwright().start()
        self.addCleanup(playwright.stop)
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except sync_api.Error as error:
            self.skipTest(f"no browser: Chromium would not start: {str(error).splitlines()[0]}")
        self.addCleanup(browser.close)
        self.context = browser.new_context()
        self.context.add_init_script(LISTEN)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.console = []
        self.page.on(
            "console",
            lambda message: (
                self.console.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )

    def visit(self, path, ready):
        """Open the page and return its violations; with none, wait for `ready` (a selector its
        scripts produce), so the page's scripts are known to have run."""
        self.page.goto(self.live_server_url + path)
        self.page.wait_for_load_state("networkidle")
        violations = self.page.evaluate("window.__violations") + self.console
        if not violations:
            self.page.wait_for_selector(ready)
            violations = self.page.evaluate("window.__violations") + self.console
        return violations

    def log_in(self):
        self.page.goto(self.live_server_url + "/admin/login/?next=/admin/")
        self.page.fill("#id_username", "boss")
        self.page.fill("#id_password", PASSWORD)
        self.page.click("input[type=submit]")
        self.page.wait_for_selector("#user-tools")

    def test_admin_pages_and_their_widgets(self):
        self.assertEqual(self.visit("/admin/login/", "#id_username"), [])
        self.log_in()
        self.assertEqual(self.visit("/admin/incidents/incident/", "#result_list"), [])
        violations = self.visit(f"/admin/incidents/incident/{self.incident.pk}/change/", ".select2-selection")
        # The admin's scripts ran: select2 opens its dropdown, the calendar its box.
        self.page.locator(".select2-selection").first.click()
        self.page.wait_for_selector(".select2-results__option")
        self.page.keyboard.press("Escape")
        self.page.locator(".datetimeshortcuts a").nth(1).click()
        self.assertTrue(self.page.locator(".calendarbox").first.is_visible())
        self.assertEqual(violations + self.page.evaluate("window.__violations"), [])

    def test_browsable_api(self):
        self.log_in()
        self.assertEqual(self.visit("/api/v1/incidents/?format=api", ".response-info"), [])
        self.assertEqual(self.visit("/api/v1/incidents/csp-clash/?format=api", ".response-info"), [])

    def test_swagger_ui(self):
        self.assertEqual(self.visit("/api/v1/docs/", ".opblock"), [])

    def test_redoc(self):
        self.assertEqual(self.visit("/api/v1/redoc/", "li[data-item-id]"), [])
