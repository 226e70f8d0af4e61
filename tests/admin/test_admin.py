"""The editors' admin: pages render, inlines save and refresh totals, bad input is a form error,
and every write ends with incidents.derived (totals, search text, the read cache)."""

import datetime
from contextlib import contextmanager

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.test import TestCase
from django.urls import reverse
from django.utils.html import escape

from incidents import caching, derived
from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source


def constraint_message(model, name):
    constraint = next(c for c in model._meta.constraints if c.name == name)
    return constraint.get_violation_error_message()


LOW_ABOVE_BEST = constraint_message(CasualtyFigure, "casualty_low_not_above_best")
SECOND_PREFERRED = constraint_message(CasualtyFigure, "casualty_one_preferred_per_incident_outcome_group")
END_BEFORE_START = constraint_message(Incident, "incident_end_not_before_start")
SUB_EVENT_MISMATCH = constraint_message(Incident, "incident_sub_event_type_matches_event_type")


def management_form(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def incident_post(actor_rows=(), figure_rows=(), initial_actors=0, initial_figures=0, **fields):
    """POST data for the incident add/change form, with inline rows given as dicts."""
    data = {
        "title": "Clash in Khorog",
        "slug": "clash-in-khorog",
        "event_type": "battles",
        "sub_event_type": "armed_clash",
        "start_date": "2012-07-24",
        "end_date": "2012-07-24",
        "date_precision": "day",
        "location": "",
        "parent": "",
        "summary": "",
        "extra": "{}",
        **management_form("incident_actors", len(actor_rows), initial_actors),
        **management_form("casualty_figures", len(figure_rows), initial_figures),
    }
    for i, row in enumerate(actor_rows):
        data.update({f"incident_actors-{i}-{k}": v for k, v in row.items()})
    for i, row in enumerate(figure_rows):
        data.update({f"casualty_figures-{i}-{k}": v for k, v in row.items()})
    data.update(fields)
    return data


def figure_row(source, **fields):
    row = {
        "outcome": "killed",
        "group": "state_forces",
        "actor": "",
        "low": "12",
        "best": "12",
        "high": "",
        "qualifier": "at_least",
        "wording": "at least 12",
        "claimed_by": "",
        "source": str(source.pk),
        "quote": "at least 12 soldiers were killed",
    }
    row.update(fields)
    return row


def existing_figure_row(figure, preferred=None):
    """An inline row for a saved figure, as the change page would post it back."""
    row = figure_row(
        figure.source,
        id=str(figure.pk),
        incident=str(figure.incident_id),
        outcome=figure.outcome,
        group=figure.group,
        low="" if figure.low is None else str(figure.low),
        best="" if figure.best is None else str(figure.best),
        high="" if figure.high is None else str(figure.high),
        qualifier=figure.qualifier,
        wording=figure.wording,
        quote=figure.quote,
    )
    # An unticked checkbox is simply absent from a POST.
    if figure.is_preferred if preferred is None else preferred:
        row["is_preferred"] = "on"
    return row


def figure_post(incident, source, **fields):
    """POST data for the casualty figure's own add/change form."""
    data = figure_row(source, incident=str(incident.pk), notes="")
    data.update(fields)
    return data


class AdminTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = get_user_model().objects.create_superuser("editor", "editor@example.org", "not-used")
        cls.source = make_source(title="Clashes in Khorog", publisher="Asia-Plus")
        cls.location = make_location(name="Khorog", slug="khorog")
        cls.actor = make_actor(name="Tajik state forces", kind="state_forces", country="TJ")
        cls.militia = make_actor(name="Local militia", aliases=["Khorog self-defence"], country="TJ")
        cls.incident = make_incident(title="Khorog clashes", location=cls.location, summary="Fighting.")
        cls.incident.sources.add(cls.source)
        add_actor(cls.incident, cls.actor, role="side_a")
        add_actor(cls.incident, cls.militia, role="side_b", claimed_by=cls.actor)
        cls.figure = add_figure(cls.incident, cls.source, low=12, best=17, high=20, is_preferred=True)

    def setUp(self):
        self.client.force_login(self.user)

    def make_the_incident_a_draft(self):
        """For tests of how an incident's claims and roles are edited: a published incident's are
        read-only (it changes through a revision, incidents.workflow.revise), a draft's are not."""
        Incident.objects.filter(pk=self.incident.pk).update(status=Incident.Status.DRAFT)
        self.incident.refresh_from_db()


class PagesTests(AdminTestCase):
    def test_changelists_render(self):
        for model in ("source", "actor", "location", "incident", "incidentactor", "casualtyfigure"):
            with self.subTest(model=model):
                response = self.client.get(reverse(f"admin:incidents_{model}_changelist"))
                self.assertEqual(response.status_code, 200)

    def test_change_pages_render(self):
        objects = {
            "source": self.source,
            "actor": self.militia,
            "location": self.location,
            "incident": self.incident,
            "incidentactor": self.incident.incident_actors.first(),
            "casualtyfigure": self.figure,
        }
        for model, obj in objects.items():
            with self.subTest(model=model):
                response = self.client.get(reverse(f"admin:incidents_{model}_change", args=[obj.pk]))
                self.assertEqual(response.status_code, 200)
                response = self.client.get(reverse(f"admin:incidents_{model}_add"))
                self.assertEqual(response.status_code, 200)

    def assert_changelist_finds(self, model, params, expected):
        response = self.client.get(reverse(f"admin:incidents_{model}_changelist"), params)
        self.assertEqual(response.status_code, 200)
        # A filter the admin does not know redirects with ?e=1 instead of filtering.
        self.assertNotIn("e", response.context["cl"].params)
        self.assertEqual(list(response.context["cl"].result_list), expected)

    def test_changelists_filter_and_search(self):
        other = make_incident(
            title="Protest in Dushanbe", event_type="protests", sub_event_type="peaceful_protest"
        )
        self.assert_changelist_finds(
            "incident",
            {
                "event_type__exact": "battles",
                "sub_event_type__exact": "armed_clash",
                "date_precision__exact": "day",
                "status__exact": "published",
                "location__country_code": "TJ",
                "start_date__year": "2012",
                "q": "khorog",
            },
            [self.incident],
        )
        self.assert_changelist_finds("incident", {"q": "Fighting"}, [self.incident])
        self.assert_changelist_finds("incident", {"q": other.slug}, [other])
        self.assert_changelist_finds(
            "casualtyfigure",
            {
                "outcome__exact": "killed",
                "group__exact": "state_forces",
                "qualifier__exact": "at_least",
                "is_preferred__exact": "1",
                "q": "Khorog",
            },
            [self.figure],
        )
        self.assert_changelist_finds(
            "actor", {"kind__exact": "armed_group", "country": "TJ", "q": "self-defence"}, [self.militia]
        )
        self.assert_changelist_finds(
            "location", {"country_code": "TJ", "geo_precision__exact": "exact", "q": "Gorno"}, [self.location]
        )
        self.assert_changelist_finds(
            "source", {"kind__exact": "news_article", "q": "Asia-Plus"}, [self.source]
        )
        self.assert_changelist_finds(
            "incidentactor",
            {"role__exact": "side_b", "q": "militia"},
            [self.incident.incident_actors.get(role="side_b")],
        )

    def test_incident_page_shows_stored_totals(self):
        response = self.client.get(reverse("admin:incidents_incident_change", args=[self.incident.pk]))
        self.assertContains(response, 'class="incident-totals"')
        self.assertContains(response, "<tr><th>Killed</th><td>12</td><td>17</td><td>20</td></tr>", html=True)
        self.assertContains(response, "<tr><th>Wounded</th><td>–</td><td>–</td><td>–</td></tr>", html=True)

    def test_source_page_shows_text_escaped_with_line_breaks(self):
        self.source.text = "First paragraph <b>not bold</b>.\n\nAt least 12 soldiers were killed."
        self.source.save()
        response = self.client.get(reverse("admin:incidents_source_change", args=[self.source.pk]))
        self.assertContains(
            response, "First paragraph &lt;b&gt;not bold&lt;/b&gt;.\n\nAt least 12 soldiers were killed."
        )
        self.assertNotContains(response, "<b>not bold</b>")

    def test_source_page_lists_figures_quoting_it(self):
        response = self.client.get(reverse("admin:incidents_source_change", args=[self.source.pk]))
        self.assertContains(response, reverse("admin:incidents_casualtyfigure_change", args=[self.figure.pk]))
        self.assertContains(response, "“at least 12 soldiers were killed”")
        link = reverse("admin:incidents_casualtyfigure_changelist") + f"?source__id__exact={self.source.pk}"
        self.assertContains(response, link)
        response = self.client.get(link)
        self.assertEqual(list(response.context["cl"].result_list), [self.figure])

    def test_source_text_can_be_edited(self):
        data = {
            "title": self.source.title,
            "slug": self.source.slug,
            "publisher": self.source.publisher,
            "published_on": "2012-07-25",
            "published_on_precision": "day",
            "url": "",
            "kind": "news_article",
            "language": "en",
            "version": "",
            "notes": "",
            # The passage its claims quote stays (an edit that drops it is refused).
            "text": "Corrected text. The ministry said at least 12 soldiers were killed.",
        }
        response = self.client.post(reverse("admin:incidents_source_change", args=[self.source.pk]), data)
        self.assertEqual(response.status_code, 302)
        self.source.refresh_from_db()
        self.assertEqual(
            self.source.text, "Corrected text. The ministry said at least 12 soldiers were killed."
        )

    def test_location_autocomplete_for_incidents(self):
        make_location(name="Dushanbe")
        response = self.client.get(
            "/admin/autocomplete/",
            {"app_label": "incidents", "model_name": "incident", "field_name": "location", "term": "khor"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {
                "results": [{"id": str(self.location.pk), "text": "Khorog (TJ)"}],
                "pagination": {"more": False},
            },
        )

    def test_actor_autocomplete_searches_aliases(self):
        response = self.client.get(
            "/admin/autocomplete/",
            {
                "app_label": "incidents",
                "model_name": "casualtyfigure",
                "field_name": "claimed_by",
                "term": "self-def",
            },
        )
        self.assertEqual([r["id"] for r in response.json()["results"]], [str(self.militia.pk)])


class SearchTests(AdminTestCase):
    def search(self, model, term):
        response = self.client.get(reverse(f"admin:incidents_{model}_changelist"), {"q": term})
        self.assertEqual(response.status_code, 200)
        return list(response.context["cl"].result_list)

    def test_actor_found_by_non_ascii_alias(self):
        actor = make_actor(name="Government of Tajikistan", aliases=["Ҳукумати Тоҷикистон"])
        self.assertEqual(self.search("actor", "Тоҷикистон"), [actor])
        self.assertEqual(self.search("actor", "Ҳукумати Тоҷикистон"), [actor])
        self.assertEqual(self.search("actor", "Тоҷикистон militia"), [])

    def test_location_found_by_admin_areas(self):
        place = make_location(name="Rushan", admin1="GBAO", admin2="Rushan district")
        self.assertEqual(self.search("location", "GBAO"), [place])
        self.assertEqual(self.search("location", "Rushan district"), [place])

    def test_source_found_by_slug_and_publisher(self):
        source = make_source(slug="rferl-2012-07-24", publisher="RFE/RL")
        self.assertEqual(self.search("source", "rferl-2012"), [source])
        self.assertEqual(self.search("source", "RFE/RL"), [source])


class ChangelistQueryCountTests(AdminTestCase):
    def assert_changelist_queries(self):
        # 1. the session, 2. the user,
        # 3. count of the filtered rows, 4. count of all rows (a separate query even unfiltered),
        # 5. the page of incidents with their locations joined (list_select_related),
        # 6. first and last start_date, 7. the distinct years/months/days the date
        #    hierarchy offers at the level those two dates call for,
        # 8. the distinct location countries for the country filter.
        # None of these runs per row.
        with self.assertNumQueries(8):
            response = self.client.get(reverse("admin:incidents_incident_changelist"))
        self.assertEqual(response.status_code, 200)
        return response

    def test_query_count_does_not_grow_with_rows(self):
        response = self.assert_changelist_queries()
        self.assertEqual(response.context["cl"].result_count, 1)
        for n in range(30):
            make_incident(
                location=make_location(), start_date=datetime.date(2013, 1, 1) + datetime.timedelta(n)
            )
        response = self.assert_changelist_queries()
        self.assertEqual(response.context["cl"].result_count, 31)


class AddIncidentWithInlinesTests(AdminTestCase):
    def test_add_creates_rows_and_refreshes_totals(self):
        data = incident_post(
            actor_rows=[
                {"actor": str(self.actor.pk), "role": "side_a", "claimed_by": "", "quote": "", "note": ""}
            ],
            figure_rows=[
                figure_row(self.source, low="12", best="15", high="20"),
                figure_row(self.source, group="civilians", low="", best="3", high="", outcome="killed"),
                figure_row(self.source, outcome="wounded", low="30", best="", high="40"),
            ],
            location=str(self.location.pk),
            sources=[str(self.source.pk)],
        )
        response = self.client.post(reverse("admin:incidents_incident_add"), data)
        self.assertEqual(response.status_code, 302, response.context and response.context["errors"])

        incident = Incident.objects.get(slug="clash-in-khorog")
        self.assertEqual(list(incident.actors.all()), [self.actor])
        self.assertEqual(incident.casualty_figures.count(), 3)
        self.assertEqual(list(incident.sources.all()), [self.source])
        # State forces 12/15/20 plus civilians 3 (low taken from best, no high).
        self.assertEqual((incident.killed_low, incident.killed_best, incident.killed_high), (15, 18, None))
        self.assertEqual((incident.wounded_low, incident.wounded_best, incident.wounded_high), (30, 30, 40))
        self.assertIsNone(incident.detained_best)

    def test_moving_the_preferred_mark_to_an_earlier_row_saves(self):
        # Rows are saved in list order, so the newly preferred first row is written
        # while the second is still preferred in the database.
        self.make_the_incident_a_draft()
        CasualtyFigure.objects.filter(pk=self.figure.pk).update(is_preferred=False)
        self.figure.refresh_from_db()
        later = add_figure(self.incident, self.source, low=40, best=40, qualifier="about", is_preferred=True)

        data = incident_post(
            figure_rows=[
                existing_figure_row(self.figure, preferred=True),
                existing_figure_row(later, preferred=False),
            ],
            initial_figures=2,
            title=self.incident.title,
            slug=self.incident.slug,
        )
        response = self.client.post(reverse("admin:incidents_incident_change", args=[self.incident.pk]), data)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(list(self.incident.casualty_figures.filter(is_preferred=True)), [self.figure])
        self.incident.refresh_from_db()
        self.assertEqual(self.incident.killed_best, 17)

    def test_deleting_a_figure_row_refreshes_totals(self):
        self.make_the_incident_a_draft()
        data = incident_post(
            figure_rows=[existing_figure_row(self.figure) | {"DELETE": "on"}],
            initial_figures=1,
            title=self.incident.title,
            slug=self.incident.slug,
        )
        response = self.client.post(reverse("admin:incidents_incident_change", args=[self.incident.pk]), data)
        self.assertEqual(response.status_code, 302)
        self.assertFalse(self.incident.casualty_figures.exists())
        self.incident.refresh_from_db()
        self.assertIsNone(self.incident.killed_best)


class ConstraintErrorTests(AdminTestCase):
    """Every database rule the editor can break comes back as a form error, with nothing written."""

    def assert_rejected(self, url, data, message):
        counts = (Incident.objects.count(), CasualtyFigure.objects.count(), IncidentActor.objects.count())
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, escape(message))
        self.assertContains(response, "Please correct the error")
        self.assertEqual(
            (Incident.objects.count(), CasualtyFigure.objects.count(), IncidentActor.objects.count()), counts
        )

    def test_figure_low_above_best_on_its_own_page(self):
        self.assert_rejected(
            reverse("admin:incidents_casualtyfigure_add"),
            figure_post(self.incident, self.source, low="20", best="10"),
            LOW_ABOVE_BEST,
        )

    def test_figure_low_above_best_in_incident_inline(self):
        self.assert_rejected(
            reverse("admin:incidents_incident_add"),
            incident_post(figure_rows=[figure_row(self.source, low="20", best="10")]),
            LOW_ABOVE_BEST,
        )

    def test_end_date_before_start_date(self):
        self.assert_rejected(
            reverse("admin:incidents_incident_add"),
            incident_post(start_date="2012-07-24", end_date="2012-07-23"),
            END_BEFORE_START,
        )

    def test_sub_event_type_of_another_event_type(self):
        self.assert_rejected(
            reverse("admin:incidents_incident_add"),
            incident_post(event_type="battles", sub_event_type="peaceful_protest"),
            SUB_EVENT_MISMATCH,
        )

    def test_duplicate_slug(self):
        self.assert_rejected(
            reverse("admin:incidents_incident_add"),
            incident_post(slug=self.incident.slug),
            "Incident with this Slug already exists.",
        )

    def test_second_preferred_figure_on_its_own_page(self):
        self.make_the_incident_a_draft()
        self.assert_rejected(
            reverse("admin:incidents_casualtyfigure_add"),
            figure_post(self.incident, self.source, is_preferred="on"),
            SECOND_PREFERRED,
        )

    def test_second_preferred_figure_in_incident_inline_on_add(self):
        self.assert_rejected(
            reverse("admin:incidents_incident_add"),
            incident_post(
                figure_rows=[
                    figure_row(self.source, is_preferred="on"),
                    figure_row(self.source, best="20", is_preferred="on"),
                ]
            ),
            SECOND_PREFERRED,
        )

    def test_second_preferred_figure_in_incident_inline_on_change(self):
        self.make_the_incident_a_draft()
        data = incident_post(
            figure_rows=[existing_figure_row(self.figure), figure_row(self.source, is_preferred="on")],
            initial_figures=1,
            title=self.incident.title,
            slug=self.incident.slug,
        )
        self.assert_rejected(
            reverse("admin:incidents_incident_change", args=[self.incident.pk]), data, SECOND_PREFERRED
        )

    def test_preferred_figures_of_different_groups_are_accepted(self):
        data = incident_post(
            figure_rows=[
                figure_row(self.source, is_preferred="on"),
                figure_row(self.source, group="civilians", is_preferred="on"),
            ]
        )
        response = self.client.post(reverse("admin:incidents_incident_add"), data)
        self.assertEqual(response.status_code, 302)


class FigureAdminRefreshesTotalsTests(AdminTestCase):
    def setUp(self):
        super().setUp()
        self.make_the_incident_a_draft()

    def test_add_change_and_delete_refresh_totals(self):
        response = self.client.post(
            reverse("admin:incidents_casualtyfigure_add"),
            figure_post(self.incident, self.source, group="civilians", low="5", best="5"),
        )
        self.assertEqual(response.status_code, 302)
        self.incident.refresh_from_db()
        self.assertEqual(self.incident.killed_best, 22)

        civilians = CasualtyFigure.objects.get(group="civilians")
        response = self.client.post(
            reverse("admin:incidents_casualtyfigure_change", args=[civilians.pk]),
            figure_post(self.incident, self.source, group="civilians", low="8", best="8"),
        )
        self.assertEqual(response.status_code, 302)
        self.incident.refresh_from_db()
        self.assertEqual(self.incident.killed_best, 25)

        response = self.client.post(
            reverse("admin:incidents_casualtyfigure_delete", args=[civilians.pk]), {"post": "yes"}
        )
        self.assertEqual(response.status_code, 302)
        self.incident.refresh_from_db()
        self.assertEqual(self.incident.killed_best, 17)

    def test_moving_a_figure_refreshes_both_incidents(self):
        other = make_incident(status="draft")
        response = self.client.post(
            reverse("admin:incidents_casualtyfigure_change", args=[self.figure.pk]),
            figure_post(other, self.source, low="12", best="17", high="20", is_preferred="on"),
        )
        self.assertEqual(response.status_code, 302)
        self.incident.refresh_from_db()
        other.refresh_from_db()
        self.assertIsNone(self.incident.killed_best)
        self.assertEqual(other.killed_best, 17)

    def test_bulk_delete_refreshes_totals(self):
        other = make_incident(status="draft")
        figure = add_figure(other, self.source, best=4, low=4)
        response = self.client.post(
            reverse("admin:incidents_casualtyfigure_changelist"),
            {"action": "delete_selected", "_selected_action": [self.figure.pk, figure.pk], "post": "yes"},
        )
        self.assertEqual(response.status_code, 302)
        self.assertFalse(CasualtyFigure.objects.exists())
        self.incident.refresh_from_db()
        other.refresh_from_db()
        self.assertIsNone(self.incident.killed_best)
        self.assertIsNone(other.killed_best)


@contextmanager
def model_signals_muted():
    """Without the model signals that also empty the read cache (incidents.derived.connect), so
    what a test sees is the admin's own call to incidents.derived at the end of its write."""
    models = list(apps.get_app_config("incidents").get_models())
    for model in models:
        post_save.disconnect(sender=model, dispatch_uid=f"derived-save-{model.__name__}")
        post_delete.disconnect(sender=model, dispatch_uid=f"derived-delete-{model.__name__}")
    m2m_changed.disconnect(sender=Incident.sources.through, dispatch_uid="derived-sources")
    try:
        yield
    finally:
        if hasattr(derived, "connect"):
            derived.connect(models)


def actor_post(actor, **fields):
    data = {
        "name": actor.name,
        "slug": actor.slug,
        "kind": actor.kind,
        "country": actor.country,
        "parent": "",
        "aliases": "[]",
        "description": "",
        "external_ids": "{}",
    }
    data.update(fields)
    return data


def location_post(location, **fields):
    data = {
        "name": location.name,
        "slug": location.slug,
        "country_code": location.country_code,
        "admin1": location.admin1,
        "admin2": location.admin2,
        "latitude": str(location.latitude),
        "longitude": str(location.longitude),
        "geo_precision": location.geo_precision,
        "notes": "",
    }
    data.update(fields)
    return data


def source_post(source, **fields):
    data = {
        "title": source.title,
        "slug": source.slug,
        "publisher": source.publisher,
        "published_on": source.published_on.isoformat(),
        "published_on_precision": "day",
        "url": "",
        "kind": source.kind,
        "language": "en",
        "version": "",
        "notes": "",
        "text": source.text,
    }
    data.update(fields)
    return data


def role_post(incident, actor, **fields):
    data = {"incident": str(incident.pk), "actor": str(actor.pk), "role": "side_a", "claimed_by": ""}
    data.update({"quote": "", "note": ""}, **fields)
    return data


class WritePathsEmptyTheReadCacheTests(AdminTestCase):
    """Every admin write moves the read cache's generation on, by its own call to incidents.derived."""

    def assert_write_moves_generation(self, write, status=302):
        before = caching.generation()
        with model_signals_muted(), self.captureOnCommitCallbacks(execute=True):
            response = write()
        self.assertEqual(response.status_code, status)
        self.assertGreater(caching.generation(), before)

    def url(self, model, view, *args):
        return reverse(f"admin:incidents_{model}_{view}", args=args)

    def test_incident_add_change_and_delete(self):
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("incident", "add"), incident_post(slug="new", title="New"))
        )
        new = Incident.objects.get(slug="new")
        data = incident_post(title="Renamed", slug="new")
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("incident", "change", new.pk), data)
        )
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("incident", "delete", new.pk), {"post": "yes"})
        )
        others = [make_incident().pk, make_incident().pk]
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("incident", "changelist"),
                {"action": "delete_selected", "_selected_action": others, "post": "yes"},
            )
        )

    def test_incident_workflow_actions_and_buttons(self):
        incident = make_incident(status="draft")
        changelist = self.url("incident", "changelist")
        for action, extra in (
            ("mark_reviewed", {}),
            ("publish", {}),
            ("retract_selected", {"post": "yes", "reason": "Duplicate."}),
            ("reopen_selected", {}),
        ):
            with self.subTest(action=action):
                data = {"action": action, "_selected_action": [incident.pk], **extra}
                self.assert_write_moves_generation(lambda data=data: self.client.post(changelist, data))
        self.assertEqual(Incident.objects.get(pk=incident.pk).status, "draft")
        for step, data in (
            ("review", {}),
            ("publish", {}),
            ("retract", {"reason": "Duplicate."}),
            ("reopen", {}),
        ):
            with self.subTest(step=step):
                url = self.url("incident", "step", incident.pk, step)
                self.assert_write_moves_generation(lambda url=url, data=data: self.client.post(url, data))
        self.assertEqual(Incident.objects.get(pk=incident.pk).status, "draft")

    def test_casualty_figure_add_change_delete_and_revert(self):
        self.make_the_incident_a_draft()
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("casualtyfigure", "add"), figure_post(self.incident, self.source, group="civilians")
            )
        )
        figure = CasualtyFigure.objects.get(group="civilians")
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("casualtyfigure", "change", figure.pk),
                figure_post(self.incident, self.source, group="civilians", best="20", low="20"),
            )
        )
        version = CasualtyFigure.history.filter(id=figure.pk, best=12).get()
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("casualtyfigure", "simple_history", figure.pk, version.history_id),
                figure_post(self.incident, self.source, group="civilians"),
            )
        )
        self.incident.refresh_from_db()
        self.assertEqual(self.incident.killed_best, 17 + 12)  # the revert's totals are refreshed
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("casualtyfigure", "delete", figure.pk), {"post": "yes"})
        )
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("casualtyfigure", "changelist"),
                {"action": "delete_selected", "_selected_action": [self.figure.pk], "post": "yes"},
            )
        )

    def test_incident_actor_add_change_and_delete(self):
        self.make_the_incident_a_draft()
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("incidentactor", "add"), role_post(self.incident, self.militia, role="perpetrator")
            )
        )
        role = IncidentActor.objects.get(role="perpetrator")
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("incidentactor", "change", role.pk),
                role_post(self.incident, self.militia, role="target"),
            )
        )
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("incidentactor", "delete", role.pk), {"post": "yes"})
        )

    def test_actor_location_and_source_changes_and_deletes(self):
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("actor", "change", self.militia.pk), actor_post(self.militia))
        )
        lonely = make_actor()
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("actor", "delete", lonely.pk), {"post": "yes"})
        )
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("location", "change", self.location.pk), location_post(self.location)
            )
        )
        nowhere = make_location()
        self.assert_write_moves_generation(
            lambda: self.client.post(
                self.url("location", "changelist"),
                {"action": "delete_selected", "_selected_action": [nowhere.pk], "post": "yes"},
            )
        )
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("source", "change", self.source.pk), source_post(self.source))
        )
        unused = make_source()
        self.assert_write_moves_generation(
            lambda: self.client.post(self.url("source", "delete", unused.pk), {"post": "yes"})
        )
        self.assertFalse(Actor.objects.filter(pk=lonely.pk).exists())
        self.assertFalse(Location.objects.filter(pk=nowhere.pk).exists())
        self.assertFalse(Source.objects.filter(pk=unused.pk).exists())

    def test_incident_revert_on_the_history_page(self):
        # The history page's revert saves the incident without its inlines; it still ends with
        # incidents.derived, and cannot bring back the status of the version it starts from.
        version = Incident.history.filter(id=self.incident.pk).earliest("history_date")
        Incident.objects.filter(pk=self.incident.pk).update(status="draft")  # no new version
        data = incident_post(
            title="Khorog clashes, reverted",
            slug=self.incident.slug,
            location=str(self.location.pk),
            sources=[str(self.source.pk)],
            opened_at_version=self.incident.updated_at.isoformat(),
        )
        url = self.url("incident", "simple_history", self.incident.pk, version.history_id)
        self.assert_write_moves_generation(lambda: self.client.post(url, data))
        self.incident.refresh_from_db()
        self.assertEqual((self.incident.title, self.incident.status), ("Khorog clashes, reverted", "draft"))

    def test_a_refused_write_leaves_the_generation(self):
        before = caching.generation()
        with model_signals_muted(), self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("admin:incidents_incident_step", args=[self.incident.pk, "publish"]), follow=True
            )
        self.assertContains(response, "A published incident cannot become published.")
        self.assertEqual(caching.generation(), before)


class SearchTextFollowsTests(AdminTestCase):
    """Renames and moved roles reach the search text of every incident they touch."""

    def document(self, incident):
        return Incident.objects.values_list("search_document", flat=True).get(pk=incident.pk)

    def test_renaming_an_actor(self):
        url = reverse("admin:incidents_actor_change", args=[self.militia.pk])
        response = self.client.post(url, actor_post(self.militia, name="Khorog volunteers"))
        self.assertEqual(response.status_code, 302)
        self.assertIn("Khorog volunteers", self.document(self.incident))
        self.assertNotIn("Local militia", self.document(self.incident))

    def test_renaming_a_location(self):
        url = reverse("admin:incidents_location_change", args=[self.location.pk])
        response = self.client.post(url, location_post(self.location, name="Xorugh"))
        self.assertEqual(response.status_code, 302)
        self.assertIn("Xorugh", self.document(self.incident))

    def test_moving_an_actor_role_to_another_incident(self):
        self.make_the_incident_a_draft()
        other = make_incident(status="draft")
        role = self.incident.incident_actors.get(role="side_b")
        url = reverse("admin:incidents_incidentactor_change", args=[role.pk])
        response = self.client.post(url, role_post(other, self.militia, role="side_b"))
        self.assertEqual(response.status_code, 302)
        self.assertIn("Local militia", self.document(other))
        self.assertNotIn("Local militia", self.document(self.incident))

    def test_deleting_an_actor_role(self):
        self.make_the_incident_a_draft()
        role = self.incident.incident_actors.get(role="side_b")
        response = self.client.post(
            reverse("admin:incidents_incidentactor_delete", args=[role.pk]), {"post": "yes"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertNotIn("Local militia", self.document(self.incident))
