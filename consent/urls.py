"""Consent page routes."""

from django.urls import path

from consent import views, views_revoke

app_name = "consent"
urlpatterns = [
    path("consent/likeness/", views.likeness_page, name="likeness"),
    path("consent/likeness/<uuid:consent_id>/revoke/", views_revoke.likeness_revoke, name="likeness_revoke"),
    path("consent/likeness/<uuid:consent_id>/evidence/", views.likeness_evidence, name="likeness_evidence"),
    path("consent/mine/", views.patient_consents_page, name="patient"),
    path("consent/mine/<uuid:consent_id>/withdraw/", views.patient_withdraw, name="patient_withdraw"),
    path("consent/admin/", views.consent_admin_page, name="admin"),
    path("compliance/", views.compliance_page, name="compliance"),
    path("compliance/clinicians/<int:user_id>/", views.clinician_timeline_page, name="timeline"),
    path("compliance/disclosures/", views.disclosures_page, name="disclosures"),
]
