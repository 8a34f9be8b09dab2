"""One way every list API pages its results (limit/offset, DRF's envelope)."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView


class ApiPagination(LimitOffsetPagination):
    # A larger ?limit= is cut to this: no page is unbounded, and a limit beyond what the database's
    # integers hold never reaches the query.
    max_limit = 500


def paginated_response(
    view: APIView, request: Request, queryset: Any, serializer: type[BaseSerializer]
) -> Response:
    """Serialize one page of `queryset` with `?limit=&offset=`.

    The view declares `pagination_class = ApiPagination`, which also documents the parameters and
    the page envelope in the OpenAPI schema.
    """
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)
