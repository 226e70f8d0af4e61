"""The fast incident representation is byte for byte the serializer's."""

import io

from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from incidents.models import Incident
from incidents.rows import incident_rows, represent
from incidents.serializers import IncidentSerializer


def rendered(data):
    return JSONRenderer().render(data)


class SameBytesTests(TestCase):
    def assert_same(self, queryset):
        queryset = queryset.order_by("-start_date", "-id")
        slow = IncidentSerializer(queryset.for_api(), many=True).data
        fast = represent(incident_rows(queryset))
        self.assertEqual(rendered(fast), rendered(slow))
        return fast

    def test_seed_data(self):
        call_command("load_seeds", verbosity=0)
        fast = self.assert_same(Incident.objects.all())
        self.assertEqual(len(fast), Incident.objects.count())

    def test_generated_data_of_every_shape(self):
        call_command("generate_incidents", count=300, seed=3, verbosity=0, stdout=io.StringIO())
        first = Incident.objects.order_by("pk")
        Incident.objects.filter(pk__in=first[:5].values("pk")).update(location=None)
        Incident.objects.filter(pk__in=first[5:10].values("pk")).update(reviewed_at=timezone.now())
        self.assert_same(Incident.objects.all())

    def test_no_incidents(self):
        self.assertEqual(represent(incident_rows(Incident.objects.none())), [])
