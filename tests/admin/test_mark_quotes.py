"""The source page's quote marking (incidents.admin.mark_quotes): linear in the quoted passages,
with the same output as the quadratic version it replaced."""

import random
import time

from django.test import SimpleTestCase
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from incidents.admin import mark_quotes
from incidents.evidence import quote_spans


def quadratic_mark_quotes(text, spans):
    """The version before: every span scanned the rest of the list (18 s for 40,000 matches)."""
    parts, cursor = [], 0
    index = 0
    while index < len(spans):
        start, end, _ = spans[index]
        same = [key for s, e, key in spans[index:] if s < end]
        index += len(same)
        if start < cursor:
            continue
        links = format_html_join(
            "",
            '<sup><a href="{}" title="Casualty figure {}">[{}]</a></sup>',
            ((reverse("admin:incidents_casualtyfigure_change", args=[key]), key, key) for key in same),
        )
        parts.append(format_html("{}<mark>{}</mark>{}", text[cursor:start], text[start:end], links))
        cursor = end
    parts.append(format_html("{}", text[cursor:]))
    return mark_safe("".join(parts))


def random_spans(rng, length):
    """Spans as quote_spans gives them: sorted by start, longest first; overlapping, nested, equal."""
    spans = []
    for _ in range(rng.randint(0, 40)):
        start = rng.randrange(length)
        end = min(length, start + rng.randint(1, 12))
        spans.append((start, end, rng.randint(1, 6)))
    return sorted(spans, key=lambda span: (span[0], -span[1]))


class MarkQuotesTests(SimpleTestCase):
    def test_the_same_output_as_the_quadratic_version_on_random_spans(self):
        rng = random.Random(7)
        for case in range(500):
            text = "".join(rng.choice("ab <&\"'\n") for _ in range(rng.randint(1, 80)))
            spans = random_spans(rng, len(text))
            with self.subTest(case=case):
                self.assertEqual(mark_quotes(text, spans), quadratic_mark_quotes(text, spans))

    def test_the_same_output_on_quotes_found_in_random_texts(self):
        rng = random.Random(11)
        words = ["killed", "at", "least", "12", "soldiers", "\u201cdozens\u201d", "died", "<b>", "&"]
        for case in range(200):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(5, 60)))
            quotes = [
                (key, " ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))) for key in range(1, 6)
            ]
            spans = quote_spans(text, quotes)
            with self.subTest(case=case):
                self.assertEqual(mark_quotes(text, spans), quadratic_mark_quotes(text, spans))

    def test_forty_thousand_matches(self):
        quote = "at least 12 soldiers were killed"
        text = (" Filler words here. " + quote) * 40_000
        spans = quote_spans(text, [(1, quote), (2, "soldiers")])
        started = time.perf_counter()
        marked = mark_quotes(text, spans)
        elapsed = time.perf_counter() - started
        self.assertEqual(marked.count("<mark>"), 40_000)
        self.assertEqual(marked.count("[2]</a>"), 40_000)
        print(f"\nmark_quotes, {len(spans):,} spans ({marked.count('<mark>'):,} passages): {elapsed:.2f} s")
