"""The API's errors: the exceptions views raise, the handler that answers them in JSON,
the JSON parser that turns a body too deep to parse into a 400, and the middleware that
gives every other error under /api/ the same JSON shape, `{"detail": "..."}`.

Who answers which error under /api/:

- a DRF view (every endpoint): `api_exception_handler`, in JSON whatever format the
  endpoint's successes take (the schema's YAML, the docs' HTML, the exports); only the
  browsable API, which a browser asks for, shows the same error inside its HTML page;
- Django, when no view does (a path no route matches, a server error, a refused Host
  header): `handler404`/`handler500`/`handler400` (config/urls.py) with DEBUG off; with
  DEBUG on Django shows its HTML debug pages instead, which `JSONErrorsMiddleware` turns
  into the same JSON, as it does any other error under /api/ that is not JSON.
"""

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

from incidents.workflow import TransitionRefused


class SafeJSONParser(parsers.JSONParser):
    """JSON nested past Python's recursion limit is a 400 like any other malformed body, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class Conflict(APIException):
    status_code = 409
    default_detail = "The request conflicts with the record's current state."
    default_code = "conflict"


class PreconditionFailed(APIException):
    status_code = 412
    default_detail = "The record changed since you read it (If-Match does not match its ETag). Read it again."
    default_code = "precondition_failed"


class Gone(APIException):
    """410 with a body of dates and links, which DRF's own errors would turn into strings."""

    status_code = 410
    default_detail = "This incident was deleted."
    default_code = "gone"

    def __init__(self, body):
        super().__init__(body["detail"])
        self.body = body


def conflict_from(refused):
    """The 409 for a workflow step the record's state refuses, naming what is at fault."""
    if refused.field == "children":
        return Conflict({"detail": refused.message})
    return Conflict({refused.field: [refused.message]})


def api_exception_handler(exc, context):
    response = _answer(exc, context)
    if response is not None:
        _answer_in_json(context.get("request"))
    return response


def _answer(exc, context):
    if isinstance(exc, Gone):
        return Response(exc.body, status=exc.status_code)
    if isinstance(exc, TransitionRefused):
        exc = conflict_from(exc)
    # Django's own limits on a request, met while DRF reads it: JSON answers, in DEBUG too.
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"The request body is larger than {limit} bytes."}, status=413)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response({"detail": str(exc)}, status=400)
    return exception_handler(exc, context)


def _answer_in_json(request):
    """Render an error as JSON, whichever renderer the request's success would have used.

    An endpoint's own formats would spell an error as YAML (the schema), as a bare
    "405 Method Not Allowed" text (the HTML docs pages) or pretend it is a download (the
    exports), and a request refused before negotiation (406, an unknown format) would take
    the view's first renderer. JSON, as the client asked (`indent`), or the browsable API,
    which shows the JSON inside its page, are kept.
    """
    if request is None:
        return
    renderer = getattr(request, "accepted_renderer", None)
    if type(renderer) is JSONRenderer or isinstance(renderer, BrowsableAPIRenderer):
        return
    request.accepted_renderer = JSONRenderer()
    request.accepted_media_type = JSONRenderer.media_type


# -- Errors no API view answers -----------------------------------------------------------------

# Every URL under this prefix is the API's, matched by a route or not (CORS_URLS_REGEX too).
API_PREFIX = "/api/"

# DRF's words for the errors it shares with Django; the others take their HTTP reason phrase.
DETAILS = {400: "Bad request.", 404: NotFound.default_detail, 500: "Server error."}


def error_response(status, detail=None):
    """The API's error shape for an answer no API view gave."""
    if detail is None:
        detail = DETAILS.get(status) or _reason(status)
    # Spelt as DRF's JSON renderer spells its errors, byte for byte.
    return JsonResponse({"detail": str(detail)}, status=status, json_dumps_params={"separators": (",", ":")})


def _reason(status):
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return f"HTTP {status}."


def _under_api(request):
    return request.path_info.startswith(API_PREFIX)


class JSONErrorsMiddleware:
    """Any error under /api/ that is not JSON yet becomes the API's JSON error, same status.

    In DEBUG Django answers a path no route matches with its HTML "Page not found" page
    (about 17 KB, listing every URL pattern) and a server error with its traceback page,
    skipping handler404/handler500; a client asking for JSON (curl, GDAL, a script) got HTML.
    Django still logs a server error's traceback in the server's console.

    First in MIDDLEWARE: Django turns an exception in any middleware into an answer where
    that middleware stands, so only the outermost one sees them all. The answer is changed
    in place, keeping the headers the other middleware set (CORS, the CSP, Allow, Vary).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code >= 400 and _under_api(request) and not _is_api_answer(response):
            _become_json(response, error_response(response.status_code))
        return response


def _is_api_answer(response):
    """JSON already (any +json type too), or the browsable API's page around a JSON error."""
    if isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer):
        return True
    media_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _become_json(response, replacement):
    body = replacement.content
    response["Content-Type"] = replacement["Content-Type"]
    if response.streaming:
        response.streaming_content = [body]
        del response["Content-Length"]
    else:
        response.content = body
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(body))
