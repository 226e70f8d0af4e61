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
