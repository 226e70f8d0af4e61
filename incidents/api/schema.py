"""The OpenAPI schema: what every operation answers besides its success.

Views say what they can answer through plain attributes (below), so the schema never
needs to know their classes:

- `checks_if_match`: writes compare If-Match with the ETag (412);
- `answers_gone`: a deleted record's URL answers 410 (incidents);
- `refused_deletes`: DELETE can be refused while other records refer to this one (409);
- `conflicting_actions`: actions whose record state can refuse them (409);
- `filters_on_get`: a GET that is not a list but takes the list's filters (stats).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from incidents.api.exports import EXPORT_RENDERERS


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class GoneSerializer(serializers.Serializer):
    detail = serializers.CharField()
    deleted_at = serializers.DateTimeField()
    merged_into = serializers.URLField(allow_null=True)


@extend_schema_serializer(many=False)
class GeoJSONExportSerializer(serializers.Serializer):
    type = serializers.CharField(help_text='Always "FeatureCollection".')
    features = serializers.ListField(child=serializers.DictField())
    metadata = serializers.DictField(help_text="How many incidents are in it and how many lack coordinates.")


# Validation errors name each bad parameter or field: {"name": ["message", ...]}, nested
# like the request for nested writes ({"casualty_figures": {"0": {"quote": [...]}}}).
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {},
    "description": "Each key is a parameter or field at fault (or non_field_errors, or detail).",
}


class ApiSchema(AutoSchema):
    """Documents the error answers each operation can give, next to its success.

    400: a bad parameter or body (and a body or query string over Django's limits);
    401: a token that is not valid; 403: a write without the permission (or CSRF token);
    404: an unknown record, page or ?format=; 406: an Accept header no renderer meets;
    409: a workflow step or deletion the record's state refuses; 410: a deleted incident;
    412: a stale If-Match; 413: a body over Django's size limit;
    415: a body in a media type the API does not parse;
    429: throttled; 503: the database is down.
    """

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        # An empty value counts as if the parameter were absent (docs/api.md, General rules).
        for parameter in (operation or {}).get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return operation

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, response in self._error_responses().items():
            responses.setdefault(
                str(code), self._get_response_for_code(response, str(code), ["application/json"])
            )
        return responses

    def _error_responses(self):
        detail = ErrorSerializer
        errors = {
            400: OpenApiResponse(FIELD_ERRORS, description="Bad parameters or body."),
            401: OpenApiResponse(detail, description="The token is not valid."),
            404: OpenApiResponse(detail, description="No such record, page or format."),
            406: OpenApiResponse(detail, description="No renderer meets the Accept header."),
            429: OpenApiResponse(detail, description="Throttled; Retry-After says when to try again."),
            503: OpenApiResponse(detail, description="The database is unavailable; try again shortly."),
        }
        writes = self.method not in ("GET", "HEAD", "OPTIONS")
        action = getattr(self.view, "action", None)
        if writes:
            errors[403] = OpenApiResponse(detail, description="No permission for this write.")
            if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
                errors[413] = OpenApiResponse(detail, description="A body over DATA_UPLOAD_MAX_MEMORY_SIZE.")
                errors[415] = OpenApiResponse(detail, description="A body in an unsupported media type.")
        conflicting = getattr(self.view, "conflicting_actions", ())
        refused_delete = self.method == "DELETE" and getattr(self.view, "refused_deletes", False)
        if refused_delete or action in conflicting:
            errors[409] = OpenApiResponse(FIELD_ERRORS, description="The record's state refuses this.")
        if getattr(self.view, "checks_if_match", False) and (
            self.method in ("PUT", "PATCH", "DELETE") or action in getattr(self.view, "if_match_actions", ())
        ):
            errors[412] = OpenApiResponse(detail, description="If-Match does not match the current ETag.")
        if getattr(self.view, "answers_gone", False) and "{" in self.path:
            errors[410] = OpenApiResponse(GoneSerializer, description="This incident was deleted.")
        return errors

    def map_renderers(self, attribute):
        # Only the incident list answers in the export formats; elsewhere they give JSON.
        values = super().map_renderers(attribute)
        if attribute == "media_type" and getattr(self.view, "action", None) != "list":
            exports = {renderer.media_type for renderer in EXPORT_RENDERERS}
            values = [value for value in values if value not in exports]
        return values

    def get_filter_backends(self):
        if getattr(self.view, "filters_on_get", False):
            return self.view.filter_backends
        return super().get_filter_backends()
