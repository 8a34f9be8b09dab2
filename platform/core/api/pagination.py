"""How list APIs page their results: limit/offset with DRF's envelope, or keyset (cursor) pages for
lists that grow without bound (the ledger), where counting and skipping rows would grow with them."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView


class ApiPagination(LimitOffsetPagination):
    # A larger ?limit= is cut to this: no page is unbounded, and a limit beyond what the database's
    # integers hold never reaches the query.
    max_limit = 500


class KeysetPagination(CursorPagination):
    """Newest first by a unique, indexed key; `next` and `previous` are opaque cursors and there is
    no `count`, so a page costs the same on the millionth entry as on the first."""

    ordering = "-seq"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 500


def paginated_response(
    view: APIView,
    request: Request,
    queryset: Any,
    serializer: type[BaseSerializer[Any]],
    paginator_class: type[LimitOffsetPagination] | type[CursorPagination] = ApiPagination,
) -> Response:
    """Serialize one page of `queryset` (`?limit=&offset=`, or `?limit=&cursor=` for keyset pages).

    The view declares the same `pagination_class` too: that documents the parameters and the page
    envelope in the OpenAPI schema.
    """
    paginator = paginator_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)
