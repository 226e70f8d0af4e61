"""Content negotiation: an explicit format wins over the Accept header.

A client that names a format, with `?format=` or a URL suffix (`incidents.geojson`), has
said what it wants; the Accept header is often not the client's own choice. GDAL, for
one, sends `Accept: text/plain, application/json` with every request, and got 406 for
`?format=geojson`, since DRF's negotiation kept only the renderers of the named format and
then asked the header to accept one of them.

So: with a format named, the renderers of that format are the candidates, the Accept
header still chooses among them when it can (the schema has two JSON renderers; a client
may ask for `application/json; indent=2`), and when it accepts none of them the first
one answers. Without a format, DRF's negotiation is unchanged (406 when nothing fits).
"""

from rest_framework.exceptions import NotAcceptable, NotFound
from rest_framework.negotiation import DefaultContentNegotiation

# A format name is echoed in the 404; past this length, only its start.
SHOWN_LENGTH = 40


class ExplicitFormatNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        parameter = self.settings.URL_FORMAT_OVERRIDE
        requested = format_suffix or (request.query_params.get(parameter) if parameter else None)
        if not requested:  # absent or empty: the Accept header decides
            return super().select_renderer(request, renderers, format_suffix)
        candidates = [renderer for renderer in renderers if renderer.format == requested]
        if not candidates:
            raise NotFound(
                unknown_format(requested, renderers, suffix=bool(format_suffix), parameter=parameter)
            )
        try:
            return super().select_renderer(request, candidates, format_suffix)
        except NotAcceptable:
            return candidates[0], candidates[0].media_type


def unknown_format(requested, renderers, suffix, parameter):
    """The 404's words: which format was asked for, where, and which ones the endpoint has."""
    shown = requested if len(requested) <= SHOWN_LENGTH else requested[:SHOWN_LENGTH] + "…"
    where = f"the URL's .{shown} suffix" if suffix else f"the {parameter} parameter"
    formats = ", ".join(dict.fromkeys(renderer.format for renderer in renderers))
    return f"Unknown format {shown!r} in {where}; this endpoint answers in: {formats}."
