"""The API's errors: the exceptions views raise, the handler that answers them in JSON,
and the JSON parser that turns a body too deep to parse into a 400."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import parsers
from rest_framework.exceptions import APIException, ParseError
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
