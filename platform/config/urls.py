"""Top-level URL routes: pages, the versioned API, its schema and interactive docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("core.urls")),
    path("api/v1/", include("core.api.urls")),
    path("api/v1/", include("consent.api.urls")),
    path("api/v1/", include("provenance.api.urls")),
    path("api/v1/", include("detection.api.urls")),
    path("", include("detection.urls")),
    path("", include("consent.urls")),
    path("", include("avatars.urls")),
    path("", include("provenance.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("django-admin/", admin.site.urls),
]
