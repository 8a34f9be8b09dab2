"""Scanner page routes."""

from django.urls import path

from detection import views, views_dicom

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
    path("scanner/dicom/", views_dicom.dicom_page, name="dicom"),
    path("scanner/dicom/<uuid:study_id>/", views_dicom.dicom_study_page, name="dicom-study"),
    path(
        "scanner/dicom/<uuid:study_id>/slices/<int:number>.png",
        views_dicom.dicom_slice_view,
        name="dicom-slice",
    ),
    path(
        "scanner/dicom/<uuid:study_id>/heatmaps/<int:number>.png",
        views_dicom.dicom_heatmap_view,
        name="dicom-heatmap",
    ),
    path("scanner/dicom/<uuid:study_id>/case/", views_dicom.dicom_case_open_view, name="dicom-case-open"),
]
