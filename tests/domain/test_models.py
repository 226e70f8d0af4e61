"""The data model's rules: constraints the database enforces, validation, names and natural keys."""

import datetime
import uuid
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import TestCase

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from tests.factories import (
    add_actor,
    add_figure,
    make_actor,
    make_incident,
    make_location,
    make_source,
)


@contextmanager
def refused_by_database(constraint=None):
    """The statements inside must be refused by the database, by the named constraint if given."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        yield
    if constraint is not None:
        assert constraint in str(caught.value)


class DatabaseConstraintTestCase(TestCase):
    def assert_refused(self, constraint=None):
        return refused_by_database(constraint)


class CasualtyFigureConstraintTests(DatabaseConstraintTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.source = make_source()
        cls.incident = make_incident()

    def figure(self, **fields):
        return add_figure(self.incident, self.source, refresh=False, **fields)

    def test_low_above_best_is_refused(self):
        with self.assert_refused("casualty_low_not_above_best"):
            self.figure(low=20, best=10, high=None)

    def test_best_above_high_is_refused(self):
        with self.assert_refused("casualty_best_not_above_high"):
            self.figure(low=None, best=30, high=20)

    def test_low_above_high_is_refused(self):
        with self.assert_refused("casualty_low_not_above_high"):
            self.figure(low=30, best=None, high=20)

    def test_ordered_bounds_are_accepted(self):
        self.figure(low=10, best=10, high=10)
        self.figure(low=None, best=None, high=None, group="civilians")
        self.figure(low=1, best=2, high=3, group="non_state_armed")

        self.assertEqual(CasualtyFigure.objects.filter(incident=self.incident).count(), 3)

    def test_negative_numbers_are_refused(self):
        for bound in ("low", "best", "high"):
            numbers = {"low": None, "best": None, "high": None, bound: -1}
            with self.subTest(bound=bound), self.assert_refused():
                self.figure(**numbers)
        self.assertFalse(CasualtyFigure.objects.exists())

    def test_two_preferred_figures_for_one_incident_outcome_and_group_are_refused(self):
        self.figure(is_preferred=True)

        with self.assert_refused():
            self.figure(is_preferred=True, low=30, best=30)

    def test_several_figures_that_are_not_preferred_are_accepted(self):
        self.figure(is_preferred=False)
        self.figure(is_preferred=False, low=30, best=30)
        self.figure(is_preferred=True, low=40, best=40)

        self.assertEqual(CasualtyFigure.objects.filter(incident=self.incident).count(), 3)

    def test_preferred_figures_for_other_groups_outcomes_or_incidents_are_accepted(self):
        self.figure(is_preferred=True, group="state_forces")
        self.figure(is_preferred=True, group="civilians")
        self.figure(is_preferred=True, group="state_forces", outcome="wounded")
        add_figure(make_incident(), self.source, refresh=False, is_preferred=True, group="state_forces")

        self.assertEqual(CasualtyFigure.objects.filter(is_preferred=True).count(), 4)

    def test_duplicate_uid_is_refused(self):
        uid = uuid.uuid4()
        self.figure(uid=uid)

        with self.assert_refused():
            self.figure(uid=uid, group="civilians")


class IncidentConstraintTests(DatabaseConstraintTestCase):
    def test_end_before_start_is_refused(self):
        with self.assert_refused("incident_end_not_before_start"):
            make_incident(start_date=datetime.date(2012, 7, 24), end_date=datetime.date(2012, 7, 23))

    def test_one_day_and_longer_spans_are_accepted(self):
        make_incident(start_date=datetime.date(2012, 7, 24), end_date=datetime.date(2012, 7, 24))
        make_incident(start_date=datetime.date(2012, 7, 21), end_date=datetime.date(2012, 7, 25))

        self.assertEqual(Incident.objects.count(), 2)

    def test_sub_event_type_of_another_event_type_is_refused(self):
        with self.assert_refused("incident_sub_event_type_matches_event_type"):
            make_incident(event_type="battles", sub_event_type="peaceful_protest")

    def test_sub_event_type_of_its_own_event_type_is_accepted(self):
        make_incident(event_type="protests", sub_event_type="peaceful_protest")
        make_incident(event_type="strategic_developments", sub_event_type="other")

        self.assertEqual(Incident.objects.count(), 2)

    def test_negative_stored_total_is_refused(self):
        incident = make_incident()
        incident.killed_low = -1

        with self.assert_refused():
            incident.save()

    def test_incident_cannot_be_its_own_parent(self):
        incident = make_incident()
        incident.parent = incident

        with self.assert_refused("incident_not_own_parent"):
            incident.save()


class LocationConstraintTests(DatabaseConstraintTestCase):
    def test_latitude_without_longitude_is_refused(self):
        with self.assert_refused("location_coordinates_paired_and_in_range"):
            make_location(latitude="37.5", longitude=None)

    def test_longitude_without_latitude_is_refused(self):
        with self.assert_refused("location_coordinates_paired_and_in_range"):
            make_location(latitude=None, longitude="71.5")

    def test_latitude_beyond_90_is_refused(self):
        with self.assert_refused("location_coordinates_paired_and_in_range"):
            make_location(latitude="91", longitude="71.5")

    def test_longitude_beyond_180_is_refused(self):
        with self.assert_refused("location_coordinates_paired_and_in_range"):
            make_location(latitude="37.5", longitude="-181")

    def test_no_coordinates_and_extreme_valid_ones_are_accepted(self):
        make_location(latitude=None, longitude=None)
        make_location(latitude="90", longitude="-180")

        self.assertEqual(Location.objects.count(), 2)


class UniquenessTests(DatabaseConstraintTestCase):
    def test_duplicate_slugs_are_refused_for_every_model_with_a_slug(self):
        builders = {
            Source: make_source,
            Actor: make_actor,
            Location: make_location,
            Incident: make_incident,
        }
        for model, build in builders.items():
            with self.subTest(model=model.__name__):
                build(slug="same-slug")
                with self.assert_refused():
                    build(slug="same-slug")
                self.assertEqual(model.objects.filter(slug="same-slug").count(), 1)

    def test_same_actor_twice_in_the_same_role_is_refused(self):
        incident = make_incident()
        actor = make_actor()
        add_actor(incident, actor, role="side_a")

        with self.assert_refused():
            add_actor(incident, actor, role="side_a")

    def test_same_actor_in_another_role_or_incident_is_accepted(self):
        incident = make_incident()
        actor = make_actor()
        add_actor(incident, actor, role="side_a")
        add_actor(incident, actor, role="commentator")
        add_actor(make_incident(), actor, role="side_a")

        self.assertEqual(IncidentActor.objects.filter(actor=actor).count(), 3)

    def test_actor_cannot_be_its_own_parent(self):
        actor = make_actor()
        actor.parent = actor

        with self.assert_refused("actor_not_own_parent"):
            actor.save()


class ValidationTests(TestCase):
    def assert_invalid(self, obj, field, **full_clean_options):
        with self.assertRaises(ValidationError) as caught:
            obj.full_clean(**full_clean_options)
        self.assertIn(field, caught.exception.message_dict)
        return caught.exception.message_dict[field]

    def test_actor_country_must_be_an_iso_code(self):
        messages = self.assert_invalid(Actor(slug="a", name="A", kind="armed_group", country="XX"), "country")

        self.assertIn("XX is not an ISO 3166-1 alpha-2 country code.", messages)

    def test_actor_with_a_real_or_no_country_is_valid(self):
        Actor(slug="a", name="A", kind="armed_group", country="TJ").full_clean()
        Actor(slug="b", name="B", kind="armed_group", country="").full_clean()

    def test_lower_case_country_code_is_invalid(self):
        self.assert_invalid(
            Location(slug="x", name="X", country_code="tj", geo_precision="country"), "country_code"
        )

    def test_location_country_code_must_be_an_iso_code(self):
        location = Location(slug="x", name="X", country_code="XX", geo_precision="country")

        messages = self.assert_invalid(location, "country_code")

        self.assertIn("XX is not an ISO 3166-1 alpha-2 country code.", messages)

    def test_location_latitude_beyond_90_is_invalid(self):
        location = Location(
            slug="x", name="X", country_code="TJ", geo_precision="exact", latitude=91, longitude=70
        )

        self.assert_invalid(location, "latitude")

    def test_aliases_must_be_a_list_of_strings(self):
        for aliases in ("Tajik government", ["ok", 3], {"name": "Tajik government"}, [["nested"]]):
            with self.subTest(aliases=aliases):
                actor = Actor(slug="a", name="A", kind="state", aliases=aliases)
                messages = self.assert_invalid(actor, "aliases")
                self.assertIn("Aliases must be a list of strings.", messages)

    def test_list_of_strings_as_aliases_is_valid(self):
        Actor(slug="a", name="A", kind="state", aliases=["Tajik government", "Dushanbe"]).full_clean()
        Actor(slug="b", name="B", kind="state", aliases=[]).full_clean()

    def test_low_above_best_is_invalid_through_validate_constraints(self):
        figure = CasualtyFigure(
            incident=make_incident(),
            source=make_source(),
            outcome="killed",
            group="civilians",
            low=20,
            best=10,
            qualifier="about",
            quote="Dozens died",
        )

        with self.assertRaises(ValidationError) as caught:
            figure.full_clean()
        self.assertIn("low must not be greater than best.", caught.exception.messages)

        with self.assertRaises(ValidationError):
            figure.validate_constraints()

        figure.best = 20
        figure.full_clean()

    def test_second_preferred_figure_is_invalid_through_validate_constraints(self):
        incident = make_incident()
        source = make_source()
        add_figure(incident, source, is_preferred=True)
        second = CasualtyFigure(
            incident=incident,
            source=source,
            outcome="killed",
            group="state_forces",
            low=30,
            best=30,
            qualifier="exact",
            quote="at least 12 soldiers were killed",
            is_preferred=True,
        )

        with self.assertRaises(ValidationError) as caught:
            second.validate_constraints()
        self.assertIn(
            "Another figure is already preferred for this incident, outcome and group.",
            caught.exception.messages,
        )

    def test_end_before_start_is_invalid_through_validate_constraints(self):
        incident = Incident(
            slug="x",
            title="X",
            event_type="battles",
            sub_event_type="armed_clash",
            start_date=datetime.date(2012, 7, 24),
            end_date=datetime.date(2012, 7, 23),
            date_precision="day",
        )

        with self.assertRaises(ValidationError) as caught:
            incident.full_clean()
        self.assertIn("The end date must not be before the start date.", caught.exception.messages)

    def test_sub_event_type_mismatch_is_invalid_through_validate_constraints(self):
        incident = Incident(
            slug="x",
            title="X",
            event_type="battles",
            sub_event_type="peaceful_protest",
            start_date=datetime.date(2012, 7, 24),
            end_date=datetime.date(2012, 7, 24),
            date_precision="day",
        )

        with self.assertRaises(ValidationError) as caught:
            incident.full_clean()
        self.assertIn("The sub-event type does not belong to the event type.", caught.exception.messages)


class StrAndNaturalKeyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.source = make_source(title="Government Ends Operations In Eastern Tajikistan")
        cls.actor = make_actor(name="Military of Tajikistan", slug="military-of-tajikistan")
        cls.location = make_location(name="Khorugh", slug="tj-khorugh", country_code="TJ")
        cls.incident = make_incident(
            title="Fighting in Gorno-Badakhshan",
            slug="gorno-badakhshan-fighting-2012-07-24",
            start_date=datetime.date(2012, 7, 24),
            location=cls.location,
        )
        cls.incident_actor = add_actor(cls.incident, cls.actor, role="side_a")
        cls.figure = add_figure(
            cls.incident, cls.source, group="state_forces", low=12, best=None, high=None, qualifier="at_least"
        )

    def test_str_names_each_record(self):
        expected = {
            self.source: "Government Ends Operations In Eastern Tajikistan",
            self.actor: "Military of Tajikistan",
            self.location: "Khorugh (TJ)",
            self.incident: "Fighting in Gorno-Badakhshan (2012-07-24)",
            self.incident_actor: "Military of Tajikistan as Side A in gorno-badakhshan-fighting-2012-07-24",
            self.figure: "gorno-badakhshan-fighting-2012-07-24: killed state_forces 12/-/- (at_least)",
        }
        for obj, text in expected.items():
            with self.subTest(model=type(obj).__name__):
                self.assertEqual(str(obj), text)

    def test_natural_keys_round_trip_for_every_model(self):
        expected_keys = {
            self.source: (self.source.slug,),
            self.actor: ("military-of-tajikistan",),
            self.location: ("tj-khorugh",),
            self.incident: ("gorno-badakhshan-fighting-2012-07-24",),
            self.incident_actor: ("gorno-badakhshan-fighting-2012-07-24", "military-of-tajikistan", "side_a"),
            self.figure: (str(self.figure.uid),),
        }
        for obj, key in expected_keys.items():
            model = type(obj)
            with self.subTest(model=model.__name__):
                self.assertEqual(obj.natural_key(), key)
                found = model._default_manager.get_by_natural_key(*obj.natural_key())
                self.assertEqual(found.pk, obj.pk)

    def test_unknown_natural_key_is_not_found(self):
        for model, key in (
            (Source, ("missing",)),
            (Actor, ("missing",)),
            (Location, ("missing",)),
            (Incident, ("missing",)),
            (IncidentActor, (self.incident.slug, self.actor.slug, "side_b")),
            (CasualtyFigure, (str(uuid.uuid4()),)),
        ):
            with self.subTest(model=model.__name__), self.assertRaises(model.DoesNotExist):
                model._default_manager.get_by_natural_key(*key)
