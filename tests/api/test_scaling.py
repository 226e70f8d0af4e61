"""Read replicas and the anonymous read cache (docs/scaling.md)."""

from django.conf import settings
from django.db import connections
from django.test import RequestFactory, TestCase, TransactionTestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Incident
from incidents.routing import PinWritesToPrimaryMiddleware, PrimaryReplicaRouter
from tests.factories import make_incident

REPLICA = {**settings.DATABASES["default"], "TEST": {"MIRROR": "default"}}


class RouterTests(TestCase):
    databases = "__all__"

    @override_settings(DATABASES={**settings.DATABASES, "replica_1": REPLICA})
    def test_reads_go_to_a_replica_unless_the_request_writes(self):
        router = PrimaryReplicaRouter()
        self.assertEqual(router.db_for_read(Incident), "replica_1")
        self.assertEqual(router.db_for_write(Incident), "default")
        seen = {}

        def view(request):
            seen[request.method] = router.db_for_read(Incident)

        for method in ("get", "post"):
            PinWritesToPrimaryMiddleware(view)(getattr(RequestFactory(), method)("/api/v1/incidents/"))
        self.assertEqual(seen, {"GET": "replica_1", "POST": "default"})
        self.assertEqual(router.db_for_read(Incident), "replica_1")  # the pin ends with the request

    def test_without_replicas_everything_uses_the_primary(self):
        if "replica_1" in settings.DATABASES:
            self.skipTest("a replica is configured")
        self.assertEqual(PrimaryReplicaRouter().db_for_read(Incident), "default")

    def test_only_the_primary_is_migrated(self):
        router = PrimaryReplicaRouter()
        self.assertTrue(router.allow_migrate("default", "incidents"))
        self.assertFalse(router.allow_migrate("replica_1", "incidents"))


class ReplicaIntegrationTests(TransactionTestCase):
    """Runs when DATABASE_REPLICA_URLS configures a replica (CI points one at the primary).

    A TransactionTestCase, because the replica is another connection and sees only
    committed rows, as a real replica would.
    """

    databases = "__all__"

    def test_api_reads_are_served_by_the_replica(self):
        if "replica_1" not in settings.DATABASES:
            self.skipTest("no replica configured (set DATABASE_REPLICA_URLS)")
        make_incident(slug="replicated")
        with CaptureQueriesContext(connections["replica_1"]) as replica_queries:
            response = self.client.get(reverse("incident-detail", kwargs={"slug": "replicated"}))
        self.assertEqual(response.status_code, 200)
        self.assertGreater(len(replica_queries), 0)


@override_settings(API_CACHE_SECONDS=60)
class ReadCacheTests(TestCase):
    databases = "__all__"

    def test_anonymous_reads_are_cached_and_any_write_invalidates(self):
        incident = make_incident(slug="cached", title="Before")
        url = reverse("incident-detail", kwargs={"slug": "cached"})
        self.assertEqual(self.client.get(url)["X-Cache"], "miss")
        # Expected: no query at all, the answer comes from the cache.
        with self.assertNumQueries(0):
            hit = self.client.get(url)
        self.assertEqual((hit["X-Cache"], hit.json()["title"]), ("hit", "Before"))
        incident.title = "After"
        incident.save()
        fresh = self.client.get(url)
        self.assertEqual((fresh["X-Cache"], fresh.json()["title"]), ("miss", "After"))

    def test_accept_header_and_query_are_part_of_the_key(self):
        make_incident(slug="cached")
        url = reverse("incident-list")
        self.client.get(url)
        self.assertEqual(self.client.get(url, {"page_size": 1})["X-Cache"], "miss")
        self.assertEqual(self.client.get(url, HTTP_ACCEPT="text/csv").status_code, 200)
        self.assertNotIn("X-Cache", self.client.get(url, HTTP_ACCEPT="text/csv"))  # streams are not cached

    def test_authenticated_reads_bypass_the_cache(self):
        from django.contrib.auth.models import User

        make_incident(slug="cached")
        self.client.force_login(User.objects.create_user("editor"))
        self.assertNotIn("X-Cache", self.client.get(reverse("incident-detail", kwargs={"slug": "cached"})))
