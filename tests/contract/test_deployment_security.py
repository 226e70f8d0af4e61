"""Deployment-side protections (docs/security.md): client identity for the throttles and the
login lockout, the lockout itself, passwords, the Content-Security-Policy, and the production
server's configuration. ops/security_check.py checks the same over real HTTP against gunicorn.
"""

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings
from django.urls import reverse
from rest_framework.throttling import AnonRateThrottle

ROOT = Path(__file__).resolve().parents[2]
LIST = "/api/v1/sources/"


def with_proxies(count):
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": count})


class ClientIdentityTests(TestCase):
    """The throttles count per socket address unless proxies are configured."""

    def get(self, **meta):
        return self.client.get(LIST, **meta).status_code

    def test_x_forwarded_for_does_not_escape_the_anonymous_throttle(self):
        with mock.patch.object(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": None}):
            codes = [self.get(HTTP_X_FORWARDED_FOR=f"203.0.113.{n}") for n in range(6)]
        self.assertEqual(codes, [200, 200, 200, 429, 429, 429])

    def test_other_socket_addresses_are_other_clients(self):
        with mock.patch.object(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": None}):
            first = [self.get(REMOTE_ADDR="192.0.2.1") for _ in range(3)]
            second = self.get(REMOTE_ADDR="192.0.2.2")
        self.assertEqual((first, second), ([200, 200, 429], 200))

    def test_behind_one_proxy_the_address_it_appended_is_the_client(self):
        rates = {"anon": "2/minute", "user": None}
        with with_proxies(1), mock.patch.object(AnonRateThrottle, "THROTTLE_RATES", rates):
            # A client's own X-Forwarded-For entries are ignored: only the proxy's last one counts.
            codes = [self.get(HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 198.51.100.7") for n in range(3)]
            other = self.get(HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.8")
        self.assertEqual((codes, other), ([200, 200, 429], 200))

    def test_the_login_lockout_sees_the_same_address_as_the_throttles(self):
        request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="203.0.113.1")
        client_ip = settings.AXES_CLIENT_IP_CALLABLE
        self.assertEqual(client_ip(request), AnonRateThrottle().get_ident(request))
        self.assertEqual(client_ip(request), "192.0.2.9")
        with with_proxies(1):
            self.assertEqual(client_ip(request), "203.0.113.1")

    def test_num_proxies_defaults_to_zero(self):
        self.assertEqual(settings.REST_FRAMEWORK["NUM_PROXIES"], 0)


def settings_import(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("NUM_PROXIES", "LOGIN_FAILURE_LIMIT")}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
    )


class StrictSettingsTests(SimpleTestCase):
    def test_num_proxies_must_be_a_whole_number_not_below_zero(self):
        for value in ("-1", "two", "1.5"):
            with self.subTest(value=value):
                done = settings_import(NUM_PROXIES=value)
                self.assertNotEqual(done.returncode, 0)
                self.assertIn("NUM_PROXIES", done.stderr)
        self.assertEqual(settings_import(NUM_PROXIES="2").returncode, 0)

    def test_the_login_failure_limit_must_be_positive(self):
        done = settings_import(LOGIN_FAILURE_LIMIT="0")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("LOGIN_FAILURE_LIMIT", done.stderr)


class AdminLoginLockoutTests(TestCase):
    url = "/admin/login/?next=/admin/"
    password = "a-long-enough-passphrase"

    @classmethod
    def setUpTestData(cls):
        cls.editor = User.objects.create_user("eve", password=cls.password, is_staff=True)
        cls.editor.groups.add(Group.objects.get(name="editors"))

    def attempt(self, password, address="192.0.2.10", **meta):
        self.client.logout()
        response = self.client.post(
            self.url, {"username": "eve", "password": password}, REMOTE_ADDR=address, **meta
        )
        return response.status_code

    def test_the_right_password_is_refused_after_the_failure_limit(self):
        limit = settings.AXES_FAILURE_LIMIT
        wrong = [self.attempt(f"guess-{n}", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}") for n in range(limit)]
        self.assertEqual(wrong[:-1], [200] * (limit - 1))
        self.assertEqual(self.attempt(self.password), 429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_the_lock_is_for_that_username_at_that_address(self):
        for n in range(settings.AXES_FAILURE_LIMIT):
            self.attempt(f"guess-{n}")
        self.assertEqual(self.attempt(self.password, address="192.0.2.11"), 302)

    def test_a_success_resets_the_count(self):
        limit = settings.AXES_FAILURE_LIMIT
        for _ in range(2):
            codes = [self.attempt(f"typo-{n}") for n in range(limit - 1)]
            self.assertEqual(codes, [200] * (limit - 1))
            self.assertEqual(self.attempt(self.password), 302)

    def test_the_lock_ends_after_the_cool_off(self):
        self.assertGreater(settings.AXES_COOLOFF_TIME.total_seconds(), 0)
        self.assertTrue(settings.AXES_RESET_ON_SUCCESS)
        self.assertEqual(settings.AXES_LOCKOUT_PARAMETERS, [["username", "ip_address"]])


class PasswordTests(SimpleTestCase):
    def test_the_old_readme_password_and_short_ones_are_refused(self):
        for password in ("change-me", "Tr0ub4dor&3", "password1234"):
            with self.subTest(password=password), self.assertRaises(ValidationError):
                validate_password(password)

    def test_a_long_passphrase_is_accepted(self):
        validate_password("plain words make a long passphrase")

    def test_the_readme_sets_no_password_of_its_own(self):
        readme = (ROOT / "README.md").read_text()
        self.assertNotIn("change-me", readme)
        self.assertIsNone(re.search(r"password\s*=\s*['\"]", readme), "the README spells out a password")


class ContentSecurityPolicyHeaderTests(TestCase):
    def policy(self, path, **meta):
        response = self.client.get(path, **meta)
        self.assertEqual(response.status_code, 200, path)
        header = response.headers.get("Content-Security-Policy", "")
        return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}

    def test_every_kind_of_page_carries_the_policy(self):
        for path, accept in (
            ("/admin/login/", "text/html"),
            ("/api/v1/incidents/", "text/html"),
            ("/api/v1/docs/", "text/html"),
            ("/api/v1/redoc/", "text/html"),
            ("/api/v1/incidents/", "application/json"),
            (reverse("healthz"), "application/json"),
        ):
            with self.subTest(path=path, accept=accept):
                policy = self.policy(path, HTTP_ACCEPT=accept)
                self.assertEqual(policy["script-src"], ["'self'"])
                self.assertEqual(policy["object-src"], ["'none'"])
                self.assertEqual(policy["frame-ancestors"], ["'none'"])
                self.assertEqual(policy["form-action"], ["'self'"])


def gunicorn_settings(**env):
    keep = {k: v for k, v in os.environ.items() if k not in ("WORKERS", "REDIS_URL", "THREADS", "BIND")}
    with mock.patch.dict(os.environ, {**keep, **env}, clear=True):
        return runpy.run_path(str(ROOT / "config" / "gunicorn.py"))


class ProductionServerTests(SimpleTestCase):
    def test_threads_so_slow_clients_hold_a_thread_not_a_process(self):
        config = gunicorn_settings()
        self.assertEqual(config["worker_class"], "gthread")
        self.assertGreaterEqual(config["threads"], 16)
        self.assertEqual(config["workers"], 1)
        self.assertEqual(config["bind"], "127.0.0.1:8000")
        self.assertEqual(config["wsgi_app"], "config.wsgi:application")
        self.assertTrue(config["control_socket_disable"])

    def test_more_processes_need_a_shared_throttle_cache(self):
        with self.assertRaises(SystemExit) as refused:
            gunicorn_settings(WORKERS="2")
        self.assertIn("REDIS_URL", str(refused.exception.code))
        self.assertEqual(gunicorn_settings(WORKERS="3", REDIS_URL="redis://127.0.0.1:6379/0")["workers"], 3)

    def test_bad_numbers_are_refused(self):
        for env in ({"THREADS": "0"}, {"WORKERS": "many"}):
            with self.subTest(env=env), self.assertRaises(SystemExit):
                gunicorn_settings(**env)

    def test_make_serve_and_ci_use_them(self):
        makefile = (ROOT / "Makefile").read_text()
        serve = makefile.split("\nserve:", 1)[1].split("\n\n", 1)[0]
        self.assertIn("gunicorn --config config/gunicorn.py", serve)
        self.assertIn("python -m ops.security_check", makefile)
        self.assertIn("ops.security_check", (ROOT / ".ci" / "run").read_text())
