"""Checks that a quoted passage really occurs in its source's text."""

import re

# Typographic quotes and dashes are matched as their plain forms, since copies of
# the same article differ in them.
_PLAIN_FORMS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
_WHITESPACE = re.compile(r"\s+")


def normalise(text):
    return _WHITESPACE.sub(" ", text.translate(_PLAIN_FORMS)).strip()


def quote_occurs_in(quote, text):
    """True when the quote, normalised for whitespace and quotation marks, is in the text."""
    quote = normalise(quote)
    return bool(quote) and quote in normalise(text)


def _normalised_with_positions(text):
    """The normalised text, and for each of its characters the index it came from."""
    chars, positions = [], []
    pending_space = None
    for index, char in enumerate(text.translate(_PLAIN_FORMS)):
        if char.isspace():
            if chars and pending_space is None:
                pending_space = index
            continue
        if pending_space is not None:
            chars.append(" ")
            positions.append(pending_space)
            pending_space = None
        chars.append(char)
        positions.append(index)
    return "".join(chars), positions


def quote_spans(text, quotes):
    """Where each quote stands in the raw text: [(start, end, key)], in text order.

    `quotes` is an iterable of (key, quote). Matching is normalised as in
    quote_occurs_in; every occurrence of each quote is returned.
    """
    normalised, positions = _normalised_with_positions(text)
    spans = []
    for key, quote in quotes:
        needle = normalise(quote)
        if not needle:
            continue
        start = normalised.find(needle)
        while start != -1:
            end = start + len(needle) - 1
            spans.append((positions[start], positions[end] + 1, key))
            start = normalised.find(needle, start + 1)
    return sorted(spans, key=lambda span: (span[0], -span[1]))


def claims_losing_their_quote(source, text, kind):
    """The ids of the claims citing `source` whose quote would no longer occur in it, were its
    text `text` and its kind `kind` (a dataset's claims are not checked against a text)."""
    from incidents.models import CasualtyFigure, Source

    if source is None or source.pk is None or kind == Source.Kind.DATASET:
        return []
    normalised = normalise(text)
    claims = CasualtyFigure.objects.filter(source=source).values_list("pk", "quote").order_by("pk")
    return [pk for pk, quote in claims if not (normalise(quote) and normalise(quote) in normalised)]


def quotes_lost_message(ids):
    shown = ", ".join(str(pk) for pk in ids[:20]) + (" and more" if len(ids) > 20 else "")
    return (
        f"Claims quote passages this text would no longer contain (claim ids {shown}); "
        "change their quotes first, or keep the passages."
    )
