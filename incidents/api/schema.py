"""The OpenAPI schema: what every operation answers besides its success.

Views say what they can answer through plain attributes (below), so the schema never
needs to know their classes:

- `checks_if_match`: writes compare If-Match with the ETag (412);
- `answers_gone`: a deleted record's URL answers 410 (incidents);
- `refused_deletes`: DELETE can be refused while other records refer to this one (409);
- `conflicting_actions`: actions whose record state can refuse them (409);
- `filters_on_get`: a GET that is not a list but takes the list's filters (stats).

What a client reads about each operation is written for clients: a summary and a
description from `extend_schema` (or an extra action's own docstring), never a class's
docstring, which is written for this code's readers (tests/contract/test_schema.py holds
every operation to it). Who may call an operation is asked of its permission classes: a read
anyone may make inherits the document's default security (anyone, or a token), writes name
the token alone. The streamed exports get an operation of their own at their URL-suffix
form (`/api/v1/incidents.{format}`), so a generated client reads them as text, not JSON.

ApiSchema overrides a few of drf-spectacular's underscored methods (`_get_paginator`,
`_get_response_bodies`, `_map_basic_serializer`); tests/contract/test_schema.py checks what
each one changes, so it fails if drf-spectacular stops calling one.
"""

import inspect
import re

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_view_model
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.settings import api_settings

from incidents.api.exports import EXPORT_RENDERERS

# The exports' URL-suffix form of a list path: /api/v1/incidents/ -> /api/v1/incidents.{format}
EXPORT_SUFFIX = ".{format}"


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


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The API token as the schema names it: sent as `Bearer <key>` (incidents.api.authentication)."""

    target_class = "incidents.api.authentication.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An editor's API token, sent as `Authorization: Bearer <key>` (`Token <key>` is "
                "accepted too). Reads need none; with one, editors also see unpublished records."
            ),
        }


def _served_as_suffix(base, format_):
    """Whether the list at `base` (/api/v1/incidents) answers `base.format_` in that format."""
    try:
        match = resolve(f"{base}.{format_}")
    except Resolver404:
        return False
    return match.kwargs.get("format") == format_


def suffix_exports(base, view_class):
    """The export renderers of a list whose format its URL suffix can name.

    DRF's suffix routes take letters and digits only, so `claims-csv` is reached with
    `?format=` or Accept alone; asking the URLconf keeps this true whatever it routes.
    """
    offered = getattr(view_class, "renderer_classes", ())
    return [r for r in EXPORT_RENDERERS if r in offered and _served_as_suffix(base, r.format)]


def add_export_endpoints(endpoints):
    """Preprocessing hook: the URL-suffix form of each list that streams exports.

    DRF's endpoint enumerator leaves every suffix route out (`incidents.json` repeats
    `incidents/`), which is right but for the exports: a client generated from the schema
    parses one media type per operation, so the downloads need an operation of their own.
    ApiSchema declares its `format` path parameter, so the list's regex serves for both.
    """
    added = []
    for path, path_regex, method, callback in endpoints:
        if method != "GET" or getattr(callback, "actions", {}).get("get") != "list":
            continue
        base = path.rstrip("/")
        if suffix_exports(base, getattr(callback, "cls", None)):
            added.append((base + EXPORT_SUFFIX, path_regex, method, callback))
    return [*endpoints, *added]


def default_security(result, generator, request, public):
    """Postprocessing hook: the document's default security, which reads rely on.

    Anyone may read; a token, when sent, shows editors more: so the default is the token or
    nothing (`{}`). Operations that need the token (writes, workflow steps) name it alone.
    Reads carry no `security` of their own on purpose: openapi-python-client (0.29) takes any
    operation-level list, even one holding `{}`, as "a token is required" and types the call
    for its AuthenticatedClient only (its issue #1372); inherited from here, the same
    requirement leaves the call open to its plain Client too.
    """
    schemes = result.get("components", {}).get("securitySchemes", {})
    result["security"] = [*({name: []} for name in schemes), {}]
    return result


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

    @property
    def exports_only(self):
        """This is a list's URL-suffix form (add_export_endpoints): its downloads, not its pages."""
        return self.path.endswith(EXPORT_SUFFIX)

    def _list_base(self):
        return self.path.removesuffix(EXPORT_SUFFIX)

    def _exports(self):
        return suffix_exports(self._list_base(), type(self.view))

    def _path_tokens(self, path):
        path = re.sub(self.path_prefix, "", path, flags=re.IGNORECASE)
        return [token for token in path.strip("/").split("/") if token]

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        if self.exports_only:
            operation.update(self._export_text())
        for parameter in operation.get("parameters", []):
            # An empty value counts as if the parameter were absent (docs/api.md, General rules).
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
            if not parameter.get("description"):
                parameter["description"] = self._parameter_description(parameter)
            self._put_label_first(parameter)
        return operation

    def _declared_filter(self, name):
        filterset = getattr(self.view, "filterset_class", None)
        return filterset.base_filters.get(name) if filterset else None

    def _put_label_first(self, parameter):
        """A filter's label is what its author says it is: drf-spectacular prefers the help text,
        which for a comma-separated filter is django-filter's generic "Multiple values may be
        separated by commas." (dropping e.g. `status`'s label). The label goes first; the list
        of choices drf-spectacular adds stays below it."""
        declared = self._declared_filter(parameter["name"]) if parameter["in"] == "query" else None
        label = getattr(declared, "label", None)
        description = parameter.get("description") or ""
        if not label or str(label) in description:
            return
        generic = declared.extra.get("help_text")
        if generic and description.startswith(str(generic)):
            description = description[len(str(generic)) :].strip()
        parameter["description"] = "\n\n".join(part for part in (str(label), description) if part)

    def get_operation_id(self):
        if self.exports_only:  # incidents_export, beside incidents_list
            operation_id = "_".join([*self._path_tokens(self._list_base()), "export"])
        else:
            operation_id = super().get_operation_id()
        # A name in every language a client is generated in: a path's dots (datapackage.json)
        # and dashes become underscores.
        return re.sub(r"[^A-Za-z0-9_]+", "_", operation_id)

    def get_tags(self):
        # The path's first word, which generated clients name a module after: `datapackage`
        # for datapackage.json, `incidents` for incidents.{format}.
        if self.exports_only:
            return self._path_tokens(self._list_base())[:1]
        return [tag.split(".")[0] for tag in super().get_tags()]

    def get_description(self):
        # Not drf-spectacular's fallback to the view's class docstring (or a mixin's): those
        # are written for readers of this code. An extra action's (@action) own docstring is
        # written for clients; every other operation is described with extend_schema.
        action = getattr(self.view, getattr(self.view, "action", None) or "", None)
        if getattr(action, "mapping", None) is not None and action.__doc__:
            return inspect.cleandoc(action.__doc__)
        return ""

    def _parameter_description(self, parameter):
        """What a parameter is, when neither its filter's form field nor extend_schema said."""
        name = parameter["name"]
        if parameter["in"] == "path":
            model = get_view_model(self.view, emit_warnings=False)
            return f"The {model._meta.verbose_name if model else 'record'}'s {name}."
        if name == api_settings.URL_FORMAT_OVERRIDE:
            downloads = [value for value in parameter["schema"].get("enum", []) if value != "json"]
            return (
                "The answer's format, in place of the one the Accept header picks: json, a page; "
                f"or one download of every matching record: {', '.join(downloads)}."
            )
        # Filters whose schema type is declared on their class (extend_schema_field) lose their
        # label on the way; it is still the filter's.
        declared = self._declared_filter(name)
        if declared is not None:
            return declared.extra.get("help_text") or declared.label or ""
        return ""

    def _export_text(self):
        model = get_view_model(self.view, emit_warnings=False)
        formats = [renderer.format for renderer in self._exports()]
        elsewhere = [
            renderer.format
            for renderer in EXPORT_RENDERERS
            if renderer in self.view.renderer_classes and renderer.format not in formats
        ]
        example = f"{self._path_tokens(self._list_base())[-1]}.{formats[0]}"
        only_there = (
            f"; {', '.join(elsewhere)}, whose name no URL suffix can hold, only there" if elsewhere else ""
        )
        return {
            "summary": f"Download {model._meta.verbose_name_plural} ({', '.join(formats)})",
            "description": (
                f"Every {model._meta.verbose_name} the list's filters select, as one streamed file in "
                f"the format the path names (`{example}`): not paginated, in the list's order "
                "(`ordering` applies), named in Content-Disposition. A bad filter is a JSON 400, as "
                f"on the list. The list gives the same files for `?format=` or an Accept header{only_there}."
            ),
        }

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.exports_only:
            formats = [renderer.format for renderer in self._exports()]
            parameters = [
                *parameters,
                OpenApiParameter(
                    "format",
                    str,
                    OpenApiParameter.PATH,
                    enum=formats,
                    description="The file's format: "
                    + ", ".join(
                        f"{f} ({r.media_type})" for f, r in zip(formats, self._exports(), strict=True)
                    )
                    + ".",
                ),
            ]
        return parameters

    def get_auth(self):
        requirements = [requirement for requirement in super().get_auth() if requirement]
        if self.method in permissions.SAFE_METHODS and self._anyone_may_call():
            return []  # the document's default applies: a token or none (default_security)
        return requirements

    def _anyone_may_call(self):
        """Whether the view's permissions let an anonymous request of this method through."""
        request = Request(RequestFactory().generic(self.method, self.path))
        request.user = AnonymousUser()
        return all(
            permission.has_permission(request, self.view) for permission in self.view.get_permissions()
        )

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        # A shape is described by its serializer's own docstring only. drf-spectacular falls
        # back to a base class's, which is about that class's code ("Validate attrs as the
        # admin does…" on every write shape).
        if not type(serializer).__dict__.get("__doc__"):
            schema.pop("description", None)
        return schema

    def _get_paginator(self):
        # A download is the whole filtered set: no page parameters, no page wrapper.
        return None if self.exports_only else super()._get_paginator()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        if self.exports_only:
            served = set(self.map_renderers("media_type"))
            for code, response in responses.items():
                if code.startswith("2"):
                    content = response.get("content", {})
                    response["content"] = {media: body for media, body in content.items() if media in served}
                    response["description"] = "The file, streamed."
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
        if getattr(self.view, "answers_gone", False) and "{" in self.path and not self.exports_only:
            errors[410] = OpenApiResponse(GoneSerializer, description="This incident was deleted.")
        return errors

    def map_renderers(self, attribute):
        if self.exports_only:  # one file, in the format the path names; no ?format= beside it
            return [renderer.media_type for renderer in self._exports()] if attribute == "media_type" else []
        # Only the incident list answers in the export formats; elsewhere they give JSON.
        values = super().map_renderers(attribute)
        if getattr(self.view, "action", None) != "list":
            exports = {getattr(renderer, attribute) for renderer in EXPORT_RENDERERS}
            values = [value for value in values if value not in exports]
        return values

    def get_filter_backends(self):
        if getattr(self.view, "filters_on_get", False):
            return self.view.filter_backends
        return super().get_filter_backends()
