"""Consent and ledger API routes (/api/v1/consent/...)."""

from django.urls import path

from consent.api import views

urlpatterns = [
    path("consents/likeness/", views.LikenessConsentListApi.as_view(), name="likeness-list"),
    path(
        "consents/likeness/<uuid:consent_id>/revoke/",
        views.LikenessConsentRevokeApi.as_view(),
        name="likeness-revoke",
    ),
    path(
        "consents/likeness/<uuid:consent_id>/evidence/",
        views.LikenessConsentEvidenceApi.as_view(),
        name="likeness-evidence",
    ),
    path(
        "consents/likeness/<uuid:consent_id>/challenge/",
        views.LikenessConsentChallengeApi.as_view(),
        name="likeness-challenge",
    ),
    path(
        "consents/likeness/<uuid:consent_id>/verify/",
        views.LikenessConsentVerifyApi.as_view(),
        name="likeness-verify",
    ),
    path("consents/patient/", views.PatientConsentListApi.as_view(), name="patient-consent-list"),
    path(
        "consents/patient/<uuid:consent_id>/withdraw/",
        views.PatientConsentWithdrawApi.as_view(),
        name="patient-consent-withdraw",
    ),
    path("ledger/entries/", views.LedgerEntryListApi.as_view(), name="ledger-entries"),
    path("ledger/entries/<int:seq>/proof/", views.LedgerProofApi.as_view(), name="ledger-proof"),
    path("ledger/consistency/", views.LedgerConsistencyApi.as_view(), name="ledger-consistency"),
    path("ledger/heads/", views.LedgerHeadsApi.as_view(), name="ledger-heads"),
    path("ledger/verify/", views.LedgerVerifyApi.as_view(), name="ledger-verify"),
    path("compliance/exports/", views.EvidenceExportApi.as_view(), name="evidence-export"),
]
