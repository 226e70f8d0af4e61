"""Production behaviour: throttling, CORS, health check, settings that refuse to start unsafe."""

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock, skipUnless

from django.apps import apps
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.models.signals import pre_migrate
from django.test import TestCase
from django.urls import reverse
from rest_framework.throttling import AnonRateThrottle

ROOT = Path(__file__).resolve().parents[2]


class ThrottleTests(TestCase):
    def test_anonymous_clients_over_the_rate_get_429_with_retry_after(self):
        with mock.patch.object(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": None}):
            codes = [self.client.get(reverse("source-list")).status_code for _ in range(4)]
            response = self.client.get(reverse("source-list"))
        self.assertEqual(codes, [200, 200, 200, 429])
        self.assertEqual(response.status_code, 429)
        self.assertGreater(int(response["Retry-After"]), 0)
        self.assertIn("detail", response.json())


class CorsTests(TestCase):
    def test_reads_are_open_to_other_origins(self):
        response = self.client.get(reverse("incident-list"), HTTP_ORIGIN="https://dashboard.example")
        self.assertEqual(response["Access-Control-Allow-Origin"], "*")

    def test_writes_are_not_allowed_across_origins(self):
        response = self.client.options(
            reverse("incident-list"),
            HTTP_ORIGIN="https://dashboard.example",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        )
        self.assertNotIn("POST", response.get("Access-Control-Allow-Methods", ""))
        self.assertNotIn("Access-Control-Allow-Credentials", response)


class HealthTests(TestCase):
    def test_healthy_when_the_database_answers(self):
        response = self.client.get(reverse("healthz"))
        self.assertEqual((response.status_code, response.json()["database"]), (200, "up"))

    def test_503_when_the_database_does_not(self):
        with mock.patch(
            "django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")
        ):
            response = self.client.get(reverse("healthz"))
        self.assertEqual(response.status_code, 503)

    def test_api_requests_get_a_quick_503_when_the_connection_fails(self):
        error = OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')
        with mock.patch("incidents.api.views.IncidentViewSet.get_queryset", side_effect=error):
            response = self.client.get(reverse("incident-list"))
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "5")


def run_check(env):
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
    )


class SettingsTests(TestCase):
    def test_refuses_to_start_without_secret_key_or_hosts_when_debug_is_off(self):
        no_key = run_check({"DEBUG": "false", "ALLOWED_HOSTS": "example.org"})
        self.assertNotEqual(no_key.returncode, 0)
        self.assertIn("SECRET_KEY is required", no_key.stderr)
        no_hosts = run_check({"DEBUG": "false", "SECRET_KEY": "x" * 60})
        self.assertNotEqual(no_hosts.returncode, 0)
        self.assertIn("ALLOWED_HOSTS is required", no_hosts.stderr)

    def test_documented_production_environment_passes_the_deploy_check(self):
        result = run_check(
            {
                "DEBUG": "false",
                "SECRET_KEY": "tY7#q2Lp9vX!mB4nR8sK1wZ6dF3hJ0cG5aE2uI9oP7yT4rW8-zQ3xV6bN1",
                "ALLOWED_HOSTS": "example.org",
                "SECURE_HSTS_PRELOAD": "true",
            }
        )
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)


@skipUnless(connection.vendor == "postgresql", "the statement timeout is PostgreSQL's")
class MigrationTimeoutTests(TestCase):
    def timeout(self):
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    def test_migrations_run_without_the_request_timeout_and_leave_it_as_it_was(self):
        seen = []

        def during(using, **kwargs):
            seen.append(self.timeout())

        configured = self.timeout()
        sender = apps.get_app_config("incidents")
        # Connected after the app's own receiver, so it sees what migrations run with.
        pre_migrate.connect(during, sender=sender)
        try:
            call_command("migrate", verbosity=0)
        finally:
            pre_migrate.disconnect(during, sender=sender)
        self.assertNotEqual(configured, "0")
        self.assertEqual(seen, ["0"])
        self.assertEqual(self.timeout(), configured)
