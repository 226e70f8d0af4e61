"""Two ways through a list: numbered pages with a count, or a cursor without one.

`?page=N` (the default) answers with `count`. `?cursor=` (empty to start) walks the
same ordering by keyset: each page asks for the rows after the last one seen, so deep
pages cost what the first one does and no COUNT is run.
"""

import base64
import datetime
import json
import math
import re

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

PAGE_SIZE_PARAM = "page_size"
CURSOR_PARAM = "cursor"


def requested_page_size(request, default):
    raw = request.query_params.get(PAGE_SIZE_PARAM)
    if raw is None or raw == "":
        # Empty counts as absent, as for every parameter.
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= settings.API_MAX_PAGE_SIZE:
        raise ValidationError(
            {PAGE_SIZE_PARAM: [f"Must be a whole number from 1 to {settings.API_MAX_PAGE_SIZE}."]}
        )
    return size


class PageNumberPagination(pagination.PageNumberPagination):
    """Numbered pages with a count; `page_size` is validated instead of silently ignored."""

    page_size = 50
    page_size_query_param = PAGE_SIZE_PARAM
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        return requested_page_size(request, self.page_size)

    def get_page_number(self, request, paginator):
        # Not a whole number from 1 is a 400 naming `page`; a page past the end stays a 404.
        raw = request.query_params.get(self.page_query_param)
        if raw in (None, "") or raw in self.last_page_strings:
            return super().get_page_number(request, paginator)
        if not re.fullmatch(r"[0-9]+", raw) or not raw.lstrip("0"):
            raise ValidationError({self.page_query_param: ["Must be a whole number from 1."]})
        return raw

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=settings.API_MAX_PAGE_SIZE)
        return parameters


def _encode(values):
    raw = json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token, count):
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError, RecursionError):
        values = None
    if not isinstance(values, list) or len(values) != count:
        raise ValidationError({CURSOR_PARAM: ["Invalid cursor; start again with an empty cursor."]})
    return values


class KeysetCursorPagination(pagination.BasePagination):
    """Keyset pages over the queryset's own ordering, which must end in a unique field."""

    page_size = 50

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = requested_page_size(request, self.page_size)
        keys = [str(term) for term in queryset.query.order_by]
        self.fields = [(key.lstrip("-"), key.startswith("-")) for key in keys]
        token = request.query_params.get(CURSOR_PARAM, "")
        if token:
            values = _decode(token, len(self.fields))
            queryset = queryset.filter(self._after(values, queryset))
        rows = list(queryset[: self.page_size + 1])
        self.has_next = len(rows) > self.page_size
        rows = rows[: self.page_size]
        self.next_token = (
            _encode([self._value(rows[-1], name) for name, _ in self.fields]) if self.has_next else None
        )
        return rows

    def _value(self, row, name):
        return row[name] if isinstance(row, dict) else getattr(row, name)

    def _after(self, values, queryset):
        """Rows strictly after the cursor in the ordering: (a, b, c) > (x, y, z), spelled out."""
        model = queryset.model
        condition = Q()
        equal_so_far = Q()
        bound = Q()
        for position, ((name, descending), value) in enumerate(zip(self.fields, values, strict=True)):
            value = self._coerce(model, name, value)
            step = Q(**{f"{name}__{'lt' if descending else 'gt'}": value})
            condition |= equal_so_far & step
            equal_so_far &= Q(**{name: value})
            if position == 0 and value is not None:
                # Implied by the condition, but PostgreSQL cannot use an OR of terms to start
                # an index scan and would read every row before the cursor (58,800 of them at
                # page 1,000 of a million incidents); a plain bound on the first key it can.
                bound = Q(**{f"{name}__{'lte' if descending else 'gte'}": value})
        return bound & condition

    def _coerce(self, model, name, value):
        """The cursor's value for one sort key, as the database can compare it, or a 400.

        A cursor comes from the client, so anything may be in it: text with NUL, numbers
        out of any column's range, dates the database cannot convert, wrong types.
        """
        invalid = ValidationError({CURSOR_PARAM: ["Invalid cursor; start again with an empty cursor."]})
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise invalid
        if isinstance(value, str) and "\x00" in value:
            raise invalid
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise invalid
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            # An annotation (the killed sort key, the search rank): a number.
            if isinstance(value, str):
                raise invalid from None
            return value
        try:
            if field.get_internal_type() == "DateField":
                return datetime.date.fromisoformat(value)
            if field.get_internal_type() == "DateTimeField":
                moment = datetime.datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=datetime.UTC)
                return moment.astimezone(datetime.UTC)
            return field.to_python(value)
        except (ValueError, TypeError, OverflowError, DjangoValidationError) as exc:
            raise invalid from exc

    def get_paginated_response(self, data):
        url = self.request.build_absolute_uri()
        next_url = replace_query_param(url, CURSOR_PARAM, self.next_token) if self.next_token else None
        return Response({"next": next_url, "previous": None, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


class IncidentPagination(PageNumberPagination):
    """Numbered pages, or keyset pages when the request carries `cursor` (even empty)."""

    def paginate_queryset(self, queryset, request, view=None):
        if CURSOR_PARAM in request.query_params:
            self.cursor = KeysetCursorPagination()
            return self.cursor.paginate_queryset(queryset, request, view)
        self.cursor = None
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.cursor is not None:
            return self.cursor.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": CURSOR_PARAM,
                "required": False,
                "in": "query",
                "description": "Keyset paging without a count: pass it empty to start, then follow `next`.",
                "schema": {"type": "string"},
            },
        ]

    def get_paginated_response_schema(self, schema):
        paged = super().get_paginated_response_schema(schema)
        paged["required"] = ["results"]
        paged["properties"]["count"]["description"] = "Absent when paging with a cursor."
        return paged
