"""Scanner page routes."""

from django.urls import path

from detection import views

app_name = "detection"
urlpatterns = [
    path("scanner/", views.scanner_page, name="scanner"),
    path("scanner/scans/<uuid:scan_id>/", views.scan_page, name="scan-detail"),
    path(
        "scanner/scans/<uuid:scan_id>/evidence/<int:evidence_id>.png", views.evidence_image, name="evidence"
    ),
    path("scanner/scans/<uuid:scan_id>/case/", views.case_open_view, name="case-open"),
    path("scanner/cases/<uuid:case_id>/", views.case_page, name="case"),
    path("scanner/cases/<uuid:case_id>/takedown.pdf", views.takedown_pdf_view, name="takedown"),
]
