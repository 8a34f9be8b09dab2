"""Scanner API routes (/api/v1/scans/...)."""

from django.urls import path

from detection.api import dicom, views

urlpatterns = [
    path("scans/", views.ScanListCreateApi.as_view(), name="scan-list"),
    path("scans/<uuid:scan_id>/", views.ScanDetailApi.as_view(), name="scan-detail"),
    path("scans/<uuid:scan_id>/cases/", views.CaseCreateApi.as_view(), name="scan-case-create"),
    path("scans/cases/<uuid:case_id>/", views.CaseUpdateApi.as_view(), name="scan-case-update"),
    path(
        "scans/cases/<uuid:case_id>/takedown.pdf", views.TakedownPdfApi.as_view(), name="scan-case-takedown"
    ),
    path("dicom/studies/", dicom.DicomStudyListCreateApi.as_view(), name="dicom-study-list"),
    path("dicom/studies/<uuid:study_id>/", dicom.DicomStudyDetailApi.as_view(), name="dicom-study-detail"),
    path(
        "dicom/studies/<uuid:study_id>/cases/", dicom.DicomCaseCreateApi.as_view(), name="dicom-case-create"
    ),
]
