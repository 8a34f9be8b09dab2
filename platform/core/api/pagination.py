"""One way every list API pages its results (limit/offset, DRF's envelope)."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView


def paginated_response(
    view: APIView, request: Request, queryset: Any, serializer: type[BaseSerializer]
) -> Response:
    """Serialize one page of `queryset` with `?limit=&offset=`."""
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)
