"""What a nested write of many claims on one long source costs (docs/api.md, "Writing").

The evidence check normalises each source's text once per request, not once per claim, and a
source named by many claims is read once. The test prints the time; it asserts none.
"""

import random
import time

import pytest
from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse

from incidents.models import CasualtyFigure
from tests.factories import make_source

CLAIMS = 1_000
SOURCE_CHARS = 1_000_000


def long_text(rng, quotes):
    """About SOURCE_CHARS characters of words, the quotes spread through it, with typographic
    quotes and runs of whitespace for the normalisation to do."""
    words = ["the", "ministry", "said", "\u201cclashes\u201d", "near", "the\n\n border", "\u2014"]
    filler = []
    size = 0
    while size < SOURCE_CHARS:
        word = rng.choice(words)
        filler.append(word)
        size += len(word) + 1
    step = len(filler) // (len(quotes) + 1)
    for number, quote in enumerate(quotes, start=1):
        filler.insert(number * step + number - 1, quote + ".")
    return " ".join(filler)


@pytest.mark.slow
class NestedWriteCostTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        rng = random.Random(1)
        cls.quotes = [f"at least {n} soldiers were killed in village {n}" for n in range(1, CLAIMS + 1)]
        cls.source = make_source(slug="long-report", text=long_text(rng, cls.quotes))
        cls.user = User.objects.create_user("editor")
        cls.user.groups.add(Group.objects.get(name="editors"))

    def test_a_thousand_claims_on_a_one_megabyte_source(self):
        self.client.force_login(self.user)
        claims = [
            {
                "outcome": "killed",
                "group": "state_forces",
                "low": n,
                "qualifier": "at_least",
                "source": "long-report",
                "quote": quote,
            }
            for n, quote in enumerate(self.quotes, start=1)
        ]
        body = {
            "slug": "many-claims",
            "title": "Many claims",
            "event_type": "battles",
            "sub_event_type": "armed_clash",
            "start_date": "2012-07-24",
            "end_date": "2012-07-24",
            "date_precision": "day",
            "casualty_figures": claims,
        }
        started = time.perf_counter()
        response = self.client.post(reverse("incident-list"), body, content_type="application/json")
        created = time.perf_counter() - started
        self.assertEqual(response.status_code, 201, response.content[:500])
        self.assertEqual(CasualtyFigure.objects.count(), CLAIMS)

        # The same claims again, each named by its id and one number changed: updated in place.
        served = response.json()["casualty_figures"]
        for claim, read in zip(claims, sorted(served, key=lambda c: c["low"]), strict=True):
            claim["id"] = read["id"]
            claim["best"] = claim["low"] + 1
        started = time.perf_counter()
        response = self.client.patch(
            reverse("incident-detail", kwargs={"slug": "many-claims"}),
            {"casualty_figures": claims},
            content_type="application/json",
        )
        updated = time.perf_counter() - started
        self.assertEqual(response.status_code, 200, response.content[:500])
        print(
            f"\n{CLAIMS} claims on a {len(self.source.text):,}-character source: "
            f"POST {created:.2f} s, PATCH in place {updated:.2f} s"
        )
