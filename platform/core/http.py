"""Serving stored files with HTTP range support, so browsers can seek in videos."""

from __future__ import annotations

import mimetypes
import re

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
RANGE_CHUNK = 4 * 1024 * 1024


def stored_file_response(
    request: HttpRequest, key: str, *, download_name: str | None = None
) -> HttpResponseBase:
    """Stream a stored file; answer a single byte range with 206 Partial Content.

    With signed links on (STORAGE_SIGNED_URL_SECONDS, S3 only) the caller, already authorized, is
    sent to a short-lived signed link to the object instead; the bucket then serves the bytes and
    the ranges.
    """
    seconds = settings.STORAGE_SIGNED_URL_SECONDS
    if seconds and getattr(default_storage, "querystring_auth", False):
        parameters: dict[str, str] = {}
        if download_name:
            parameters["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        # default_storage is S3's here (querystring_auth), whose url() signs; the base Storage's takes only the name.
        return HttpResponseRedirect(default_storage.url(key, parameters=parameters, expire=seconds))  # type: ignore[call-arg]
    size = default_storage.size(key)
    response: HttpResponseBase
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    match = _RANGE.match(request.headers.get("Range", ""))
    if match and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        else:
            start, end = max(0, size - int(match.group(2))), size - 1
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        # Answer at most RANGE_CHUNK bytes per request; players ask again for the rest. Reading a
        # bounded slice keeps memory flat and avoids sync iterators under ASGI.
        end = min(end, start + RANGE_CHUNK - 1)
        with default_storage.open(key, "rb") as handle:
            handle.seek(start)
            data = handle.read(end - start + 1)
        response = HttpResponse(data, status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{size}"
    else:
        response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
        response["Content-Length"] = str(size)
        if download_name:
            response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    return response
