"""Guards for the places that copy or lean on a library's internals.

Each fails loudly when the library changes under it, naming what to re-check, instead
of letting the copy drift from the original silently:

- incidents.api.filters.FilterSet.__init__ is django-filter's BaseFilterSet.__init__
  with shallow copies (pinned by the source of the original);
- incidents.api.compiled.RowsByKeys compiles queries with Django's SQL compiler
  (pinned by the source of the compiler methods it calls, and checked by behaviour).

After an upgrade: compare the copy with the new original, adapt it, then record the new
digests printed by the failing assertion.
"""

import hashlib
import inspect

import django_filters
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test import TestCase
from django_filters.filterset import BaseFilterSet

from incidents.api import representation
from incidents.api.compiled import RowsByKeys
from incidents.api.filters import FilterSet
from incidents.models import CasualtyFigure, Incident
from tests.factories import add_figure, make_incident, make_source


def digest(function):
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def test_filterset_init_is_still_django_filters_own():
    assert django_filters.__version__ == "26.2", (
        "django-filter changed: compare incidents.api.filters.FilterSet.__init__ with the new "
        "BaseFilterSet.__init__ and update this pin"
    )
    assert digest(BaseFilterSet.__init__) == "3584346d75423b6a", (
        f"BaseFilterSet.__init__ changed (now {digest(BaseFilterSet.__init__)}): "
        "re-copy it into incidents.api.filters.FilterSet.__init__"
    )
    # The copy takes exactly the original's arguments.
    assert inspect.signature(FilterSet.__init__) == inspect.signature(BaseFilterSet.__init__)


COMPILER_DIGESTS = {
    "as_sql": "0f0b77905ec86137",
    "get_converters": "c6c8c1b71882ee8b",
    "get_select": "12c5003d7ab4bf35",
    "setup_query": "a426aa7c0cfa3024",
}


def test_the_compiler_api_rows_by_keys_uses_is_unchanged():
    now = {name: digest(getattr(SQLCompiler, name)) for name in COMPILER_DIGESTS}
    assert now == COMPILER_DIGESTS, (
        f"Django's SQL compiler changed ({now}): check incidents.api.compiled.RowsByKeys "
        "(as_sql's parameters, select's 3-tuples, get_converters' mapping) and update these digests"
    )


class RowsByKeysBehaviourTests(TestCase):
    """Whatever the internals, the compiled query answers what values() answers."""

    def test_same_rows_as_the_values_query(self):
        source = make_source()
        incidents = [make_incident(slug=f"fork-{n}") for n in range(3)]
        for incident in incidents:
            add_figure(incident, source)
        ids = [incident.pk for incident in incidents]
        for keys in (ids[:1], ids, [*ids, 10**9]):
            with self.subTest(keys=len(keys)):
                plain = list(
                    CasualtyFigure.objects.filter(incident_id__in=keys)
                    .order_by(*representation.CLAIM_ORDER)
                    .values(*representation.CLAIM_ROW_PATHS)
                )
                self.assertEqual(list(representation.CLAIMS(keys)), plain)
                self.assertEqual(len(plain), min(len(keys), 3))

    def test_a_query_with_other_parameters_is_refused(self):
        make_incident(slug="fork-refused")
        rows = RowsByKeys(Incident, lambda ids: Incident.objects.filter(pk__in=ids, title="x").values("pk"))
        with self.assertRaisesMessage(ValueError, "parameters besides the keys"):
            list(rows([1]))

    def test_postgresql_takes_the_keys_as_one_array(self):
        if connection.vendor != "postgresql":
            self.skipTest("the array form is PostgreSQL's")
        list(representation.CLAIMS([1]))
        sql, _, _ = representation.CLAIMS.compiled[("default", None)]
        self.assertIn("= ANY(%s)", sql)
