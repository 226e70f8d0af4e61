"""generate_incidents: shape of the data, determinism, reruns, both insert paths, the read cache."""

import datetime
from collections import Counter
from io import StringIO

import pycountry
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.test import SimpleTestCase, TestCase

from incidents import caching
from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from incidents.search import refresh_search_documents
from incidents.synthetic.generator import plan_incident
from incidents.synthetic.vocabulary import COUNTRY_BOXES
from incidents.synthetic.writer import PLANNED_FIGURE_FIELDS, PLANNED_INCIDENT_FIELDS, SOURCE_SLUG
from incidents.taxonomy import SUB_EVENT_TYPES_BY_EVENT_TYPE, EventType, SubEventType
from incidents.totals import refresh_totals

TOTAL_COLUMNS = [
    f"{outcome}_{bound}"
    for outcome in ("killed", "wounded", "detained", "missing")
    for bound in ("low", "best", "high")
]


def generate(**options):
    out = StringIO()
    call_command("generate_incidents", stdout=out, **options)
    return out.getvalue()


def _fields(model, *left_out):
    """Concrete field names except ids, foreign keys and timestamps, which differ between runs."""
    return [
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key and not f.is_relation and f.attname not in left_out
    ]


def dump():
    """Everything generated, by natural keys, in a stable order."""
    incidents = Incident.objects.order_by("slug").values(
        *_fields(Incident, "created_at", "updated_at"), "location__slug", "parent__slug"
    )
    roles = IncidentActor.objects.order_by("incident__slug", "actor__slug", "role").values(
        "incident__slug", "actor__slug", "role", "claimed_by__slug", "quote", "note"
    )
    figures = CasualtyFigure.objects.order_by("uid").values(
        *_fields(CasualtyFigure), "incident__slug", "actor__slug", "claimed_by__slug", "source__slug"
    )
    # Ids are not compared, but their order within an incident decides ties in the totals.
    figure_order = CasualtyFigure.objects.order_by("incident__slug", "pk").values_list("uid", flat=True)
    cited = Incident.sources.through.objects.order_by("incident__slug").values_list(
        "incident__slug", "source__slug"
    )
    return {
        "incidents": list(incidents),
        "roles": list(roles),
        "figures": list(figures),
        "figure_order": list(figure_order),
        "cited": list(cited),
        "actors": list(Actor.objects.order_by("slug").values(*_fields(Actor))),
        "places": list(Location.objects.order_by("slug").values(*_fields(Location))),
        "sources": list(Source.objects.order_by("slug").values(*_fields(Source))),
    }


def wipe():
    Incident.objects.filter(parent__isnull=False).delete()
    Incident.objects.all().delete()
    Actor.objects.all().delete()
    Location.objects.all().delete()
    Source.objects.all().delete()


class GeneratedShapeTests(TestCase):
    COUNT = 2000

    @classmethod
    def setUpTestData(cls):
        cls.output = generate(count=cls.COUNT, seed=7)

    def test_slugs_and_counts(self):
        slugs = set(Incident.objects.values_list("slug", flat=True))
        self.assertEqual(slugs, {f"gen-7-{n}" for n in range(1, self.COUNT + 1)})
        self.assertTrue(all(s.startswith("gen-actor-") for s in Actor.objects.values_list("slug", flat=True)))
        self.assertTrue(
            all(s.startswith("gen-place-") for s in Location.objects.values_list("slug", flat=True))
        )

    def test_reports_rows_per_second_and_the_insert_method(self):
        self.assertRegex(
            self.output,
            r"Generated 2000 incidents \(skipped 0 existing\): \d+ rows in [\d.]+ s, [\d,]+ rows/s",
        )
        method = "COPY" if connection.vendor == "postgresql" else "bulk_create"
        self.assertIn(f"({method})", self.output)

    def test_one_to_four_actors_and_zero_to_four_claims(self):
        counts = Incident.objects.annotate(
            n_actors=Count("incident_actors", distinct=True),
            n_claims=Count("casualty_figures", distinct=True),
        )
        self.assertEqual({row.n_actors for row in counts}, {1, 2, 3, 4})
        self.assertEqual({row.n_claims for row in counts}, {0, 1, 2, 3, 4})
        roles = set(IncidentActor.objects.values_list("role", flat=True))
        self.assertTrue({"side_a", "side_b", "perpetrator", "target", "organiser"} <= roles)

    def test_every_event_and_sub_event_type_in_valid_pairs(self):
        pairs = set(Incident.objects.values_list("event_type", "sub_event_type"))
        valid = {(e, s) for e, subs in SUB_EVENT_TYPES_BY_EVENT_TYPE.items() for s in subs}
        self.assertTrue(pairs <= valid)
        self.assertEqual({e for e, _ in pairs}, set(EventType.values))
        self.assertEqual({s for _, s in pairs}, set(SubEventType.values))

    def test_dates_fit_their_precision_and_the_period(self):
        spans = {"day": 3, "week": 6, "month": 30, "year": 365}
        precisions = Counter()
        for start, end, precision in Incident.objects.values_list("start_date", "end_date", "date_precision"):
            precisions[precision] += 1
            self.assertLessEqual(datetime.date(1990, 1, 1), start)
            self.assertLessEqual(end, datetime.date(2025, 12, 31))
            self.assertLessEqual(0, (end - start).days)
            self.assertLessEqual((end - start).days, spans[precision])
            if precision == "year":
                self.assertEqual((start.year, end.year), (start.year, start.year))
        self.assertEqual(set(precisions), set(spans))
        years = {d.year for d in Incident.objects.values_list("start_date", flat=True)}
        self.assertGreater(len(years), 30)

    def test_places_in_many_countries_with_plausible_coordinates(self):
        places = list(Location.objects.all())
        self.assertGreaterEqual(len({p.country_code for p in places}), 30)
        for p in places:
            self.assertIsNotNone(pycountry.countries.get(alpha_2=p.country_code))
            if p.geo_precision == "country":
                self.assertEqual((p.latitude, p.longitude, p.admin1), (None, None, ""))
                continue
            lat_min, lat_max, lon_min, lon_max = COUNTRY_BOXES[p.country_code]
            lat, lon = float(p.latitude), float(p.longitude)
            self.assertTrue(lat_min <= lat <= lat_max and lon_min <= lon <= lon_max, p.slug)
            self.assertTrue(p.admin1)
        self.assertEqual(
            set(Location.objects.values_list("geo_precision", flat=True)), set(Location.GeoPrecision)
        )
        self.assertTrue(Incident.objects.filter(location__isnull=True).exists())

    def test_claims_are_coherent(self):
        figures = list(CasualtyFigure.objects.all())
        self.assertTrue(figures)
        for f in figures:
            numbers = [n for n in (f.low, f.best, f.high) if n is not None]
            self.assertEqual(numbers, sorted(numbers), f.uid)
        preferred = Counter((f.incident_id, f.outcome, f.group) for f in figures if f.is_preferred)
        self.assertTrue(preferred)
        self.assertEqual(max(preferred.values()), 1)
        self.assertEqual({f.qualifier for f in figures}, set(CasualtyFigure.Qualifier))
        self.assertEqual({f.group for f in figures}, set(CasualtyFigure.Group))

    def test_stored_totals_flags_and_search_text_are_what_the_refreshers_compute(self):
        def snapshot():
            incidents = Incident.objects.order_by("pk").values_list("pk", "search_document", *TOTAL_COLUMNS)
            flags = CasualtyFigure.objects.order_by("pk").values_list("pk", "counts_in_total")
            return list(incidents), list(flags)

        before = snapshot()
        self.assertTrue(any(row[2] is not None for row in before[0]))
        self.assertTrue(all(row[1] for row in before[0]))
        ids = [row[0] for row in before[0]]
        refresh_totals(ids)
        refresh_search_documents(ids)
        self.assertEqual(snapshot(), before)

    def test_operations_contain_some_incidents_within_their_dates(self):
        children = Incident.objects.filter(parent__isnull=False).select_related("parent")
        self.assertGreater(children.count(), self.COUNT // 10)
        for child in children:
            self.assertLess(child.parent.pk, child.pk)
            self.assertLessEqual(child.parent.start_date, child.start_date)
            self.assertLessEqual(child.end_date, child.parent.end_date)

    def test_one_generated_source_cited_by_everything(self):
        source = Source.objects.get()
        self.assertEqual(source.slug, SOURCE_SLUG)
        self.assertEqual(source.incidents.count(), self.COUNT)
        self.assertFalse(CasualtyFigure.objects.exclude(source=source).exists())

    def test_text_to_search(self):
        incident = Incident.objects.select_related("location").exclude(location=None).first()
        self.assertIn(incident.location.name, incident.title)
        self.assertTrue(incident.summary)


class DeterminismTests(TestCase):
    def test_same_seed_same_data_whatever_the_batch_size(self):
        generate(count=150, seed=3, batch_size=1000)
        first = dump()
        wipe()
        generate(count=150, seed=3, batch_size=7)
        self.assertEqual(dump(), first)

    def test_copy_and_bulk_create_write_the_same_rows(self):
        # On SQLite both runs use bulk_create; on PostgreSQL this compares COPY with it.
        generate(count=150, seed=4)
        first = dump()
        wipe()
        generate(count=150, seed=4, bulk_create=True)
        self.assertEqual(dump(), first)

    def test_other_seeds_other_data(self):
        generate(count=50, seed=1)
        generate(count=50, seed=2)
        titles = dict(Incident.objects.values_list("slug", "title"))
        self.assertNotEqual(
            [titles[f"gen-1-{n}"] for n in range(1, 51)], [titles[f"gen-2-{n}"] for n in range(1, 51)]
        )

    def test_a_larger_count_extends_an_earlier_run_to_the_same_data(self):
        generate(count=60, seed=5)
        generate(count=100, seed=5, batch_size=30)
        extended = dump()
        wipe()
        generate(count=100, seed=5)
        self.assertEqual(dump(), extended)


class RerunTests(TestCase):
    def test_rerun_adds_nothing(self):
        generate(count=80, seed=9)
        counts = [
            m.objects.count() for m in (Incident, IncidentActor, CasualtyFigure, Actor, Location, Source)
        ]
        output = generate(count=80, seed=9)
        self.assertIn("Generated 0 incidents (skipped 80 existing)", output)
        self.assertEqual(
            [m.objects.count() for m in (Incident, IncidentActor, CasualtyFigure, Actor, Location, Source)],
            counts,
        )

    def test_seeds_share_the_pools(self):
        generate(count=80, seed=1)
        generate(count=80, seed=2)
        self.assertEqual(Source.objects.count(), 1)
        self.assertEqual(Incident.objects.count(), 160)
        self.assertEqual(Actor.objects.count(), len(set(Actor.objects.values_list("slug", flat=True))))

    def test_bad_arguments_are_refused(self):
        with self.assertRaises(CommandError):
            generate(count=-1, seed=1)
        with self.assertRaises(CommandError):
            generate(count=10, seed=-1)
        with self.assertRaises(CommandError):
            generate(count=10, seed=1, batch_size=10_001)
        with self.assertRaises(CommandError):
            generate(count=10, seed=1, batch_size=0)

    def test_zero_is_nothing(self):
        self.assertIn("Generated 0 incidents", generate(count=0, seed=1))


class ReadCacheTests(TestCase):
    def test_generating_empties_the_read_cache_once_it_commits(self):
        generate(count=10, seed=6)  # the source exists from here on: what follows saves no model
        before = caching.generation()
        with self.captureOnCommitCallbacks() as callbacks:
            generate(count=30, seed=6, batch_size=10)
        written = caching.generation()
        # Bulk writes send no signals: only what the generator asks to run at its commits
        # keeps a reader from caching what was there before them.
        for callback in callbacks:
            callback()
        self.assertGreater(caching.generation(), written)
        self.assertGreater(caching.generation(), before)

    def test_a_rerun_that_writes_nothing_leaves_the_cache_alone(self):
        generate(count=10, seed=6)
        before = caching.generation()
        with self.captureOnCommitCallbacks(execute=True):
            generate(count=10, seed=6)
        self.assertEqual(caching.generation(), before)


class PlanFieldsTests(SimpleTestCase):
    def test_the_writer_writes_every_planned_field(self):
        # A field added to the plan but not to the writer would be dropped without a word.
        plans = [plan_incident(1, n) for n in range(1, 21)]
        figures = [figure for plan in plans for figure in plan.figures]
        self.assertTrue(figures)
        self.assertEqual({frozenset(plan.row) for plan in plans}, {frozenset(PLANNED_INCIDENT_FIELDS)})
        self.assertEqual(
            {frozenset(figure) for figure in figures},
            {frozenset({*PLANNED_FIGURE_FIELDS, "actor", "claimed_by"})},
        )
