"""Consent pages: a clinician's likeness consent, a patient's consents, texts and labels for admins,
and the compliance console."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import wraps
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from consent.evidence import ExportRequest, disclosure_list, evidence_export
from consent.forms import (
    ConsentTextForm,
    DepartureForm,
    DisclosureLabelForm,
    EvidenceForm,
    ExportForm,
    LedgerSearchForm,
    LikenessConsentForm,
    ManualVerifyForm,
    PatientConsentForm,
)
from consent.ledger import ledger_verify
from consent.models import ConsentKind, LikenessStatus, PatientConsentStatus, SignedTreeHead
from consent.policy import (
    can_give_likeness_consent,
    can_give_patient_consent,
    can_manage_texts,
    can_view_compliance,
)
from consent.selectors import (
    LedgerFilters,
    clinicians_of,
    consent_state_counts,
    consent_text_current,
    consent_text_list,
    disclosure_label_list,
    ledger_activity_by_day,
    ledger_entry_list,
    likeness_consent_current,
    likeness_consent_list,
    patient_consent_list,
    patients_of,
)
from consent.services.challenges import statement_text
from consent.services.labels import disclosure_label_publish
from consent.services.likeness import (
    LikenessScope,
    clinician_departure_record,
    likeness_consent_sign,
    likeness_consent_statement_upload,
    likeness_consent_verify_manual,
)
from consent.services.patient import patient_consent_grant, patient_consent_withdraw
from consent.services.texts import consent_text_publish
from consent.wording import history_rows
from core.charts import BarChart, category_chart, day_buckets, time_chart
from core.errors import ApplicationError
from core.models import User
from core.requests import AuthenticatedHttpRequest

View = Callable[..., HttpResponse]


def _allowed_only(rule: Callable[[Any], bool], refusal: str) -> Callable[[View], View]:
    """Let the view run only if the consent policy's `rule` allows the signed-in user; otherwise
    answer 403 with `refusal` on the not-found page."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not rule(request.user):
                return render(request, "core/not_found.html", {"message": refusal}, status=403)
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def _entries_view(entries: Any) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        body = json.loads(entry.entry)
        rows.append(
            {
                "seq": entry.seq,
                "event_type": entry.event_type,
                "created_at": entry.created_at,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "data": body.get("data", {}),
                "leaf_hash": entry.leaf_hash,
                "actor_id": entry.actor_id,
                "subject_id": entry.subject_id,
            }
        )
    return rows


# --- clinician -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@_allowed_only(can_give_likeness_consent, "Only clinicians give likeness consent.")
def likeness_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Read the text, choose the scope, sign; see status and every use; revoke — all on one page."""
    user = request.user
    form = LikenessConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            likeness_consent_sign(
                clinician=user,
                scope=LikenessScope(**form.scope_values()),
                password=form.cleaned_data["password"],
                otp=form.cleaned_data["otp"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, "Signed. Next, record your consent statement so the clinic can verify it."
            )
            return redirect("consent:likeness")
    return _likeness_render(
        request, form=form, evidence_form=EvidenceForm(), status=400 if form.errors else 200
    )


def _likeness_render(
    request: AuthenticatedHttpRequest, *, form: LikenessConsentForm, evidence_form: EvidenceForm, status: int
) -> HttpResponse:
    user = request.user
    current = likeness_consent_current(clinician=user)
    text = (
        current.text if current else consent_text_current(clinic_id=user.clinic_id, kind=ConsentKind.LIKENESS)
    )
    can_sign = current is None or current.status in (
        LikenessStatus.REVOKED,
        LikenessStatus.EXPIRED,
        LikenessStatus.ACTIVE,
    )
    mine = LedgerFilters(subject_id=str(user.pk))
    history = _entries_view(ledger_entry_list(user=user, filters=mine)[:200])
    days = day_buckets(timezone.now().astimezone(UTC).date(), ACTIVITY_DAYS)
    uses: dict[Any, list[int]] = {}
    for day, _, count in ledger_activity_by_day(
        user=user,
        filters=LedgerFilters(subject_id=str(user.pk), event_type="likeness_consent.used"),
        since=datetime.combine(days[0], time.min, tzinfo=UTC),
    ):
        uses.setdefault(day, [0])[0] += count
    names = {
        str(person.pk): person.printed_name
        for person in User.objects.filter(
            pk__in={e["actor_id"] for e in history if str(e["actor_id"]).isdigit()}
        )
    }
    return render(
        request,
        "consent/likeness.html",
        {
            "consent": current,
            "text": text,
            "form": form,
            "can_sign": can_sign and text is not None,
            "evidence_form": evidence_form,
            "history": history,
            "history_rows": history_rows(history, viewer_id=user.pk, names=names),
            "uses_chart": time_chart(
                title=f"Videos made with my likeness per day, last {ACTIVITY_DAYS} days",
                days=days,
                counts=uses,
                series=["Videos made"],
                unit=("video made with your likeness", "videos made with your likeness"),
            ),
            "consents": likeness_consent_list(user=user),
            "statement_text": statement_text(current) if current else "",
            "revocable": current is not None
            and current.status
            in (LikenessStatus.DRAFT, LikenessStatus.AWAITING_VERIFICATION, LikenessStatus.ACTIVE),
        },
        status=status,
    )


@login_required
@require_POST
@_allowed_only(can_give_likeness_consent, "Only clinicians record a consent statement.")
def likeness_evidence(request: AuthenticatedHttpRequest, consent_id: str) -> HttpResponse:
    """Upload the recorded consent statement. A refusal re-renders the consent page with the reason
    and the status the API gives for it (413, 415, 422, 429, ...), not a redirect."""
    evidence_form = EvidenceForm(request.POST, request.FILES)
    status = 400
    if evidence_form.is_valid():
        try:
            likeness_consent_statement_upload(
                clinician=request.user, consent_id=consent_id, file=evidence_form.cleaned_data["file"]
            )
        except ApplicationError as exc:
            evidence_form.add_error(None, exc.message)
            status = exc.status
        else:
            messages.success(
                request,
                "Statement received. It is checked against your enrolled likeness, or verified "
                "by a clinic admin.",
            )
            return redirect("consent:likeness")
    return _likeness_render(request, form=LikenessConsentForm(), evidence_form=evidence_form, status=status)


# --- patient -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@_allowed_only(can_give_patient_consent, "This page is for patients.")
def patient_consents_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    form = PatientConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient_consent_grant(patient=user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Consent recorded. You can withdraw it here at any time.")
            return redirect("consent:patient")
    texts = {
        kind: consent_text_current(clinic_id=user.clinic_id, kind=kind)
        for kind in ("patient_recording", "patient_anonymization", "patient_use")
    }
    return render(
        request,
        "consent/patient.html",
        {"form": form, "consents": patient_consent_list(user=user), "texts": texts},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def patient_withdraw(request: AuthenticatedHttpRequest, consent_id: str) -> HttpResponse:
    try:
        patient_consent_withdraw(patient=request.user, consent_id=consent_id)
        messages.success(request, "Consent withdrawn.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("consent:patient")


# --- clinic admin --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@_allowed_only(can_manage_texts, "Only clinic admins manage consent texts and labels.")
def consent_admin_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Publish texts and labels, verify a statement by hand, record a departure.

    A refused action re-renders the page with the reason next to the form that was used, and the
    status the API gives for the same refusal; nothing is written.
    """
    user = request.user
    post = request.POST
    clinicians = clinicians_of(user=user)
    text_form = ConsentTextForm(post if "publish_text" in post else None)
    label_form = DisclosureLabelForm(post if "publish_label" in post else None)
    verify_form = ManualVerifyForm(post if "verify" in post else None)
    departure_form = DepartureForm(post if "departure" in post else None, clinicians=clinicians)

    def publish_text(d: dict[str, Any]) -> str:
        consent_text_publish(actor=user, **d)
        return "New version of the consent text published."

    def publish_label(d: dict[str, Any]) -> str:
        disclosure_label_publish(actor=user, **d)
        return "New disclosure label published."

    def verify(d: dict[str, Any]) -> str:
        likeness_consent_verify_manual(actor=user, consent_id=d["verify"])
        return "Consent verified by hand and now active (recorded as a manual verification)."

    def departure(d: dict[str, Any]) -> str:
        count = clinician_departure_record(actor=user, clinician_id=d["departure"], reason=d["reason"])
        return f"Departure recorded; {count} consent(s) ended."

    actions: dict[str, tuple[forms.Form, Callable[[dict[str, Any]], str]]] = {
        "publish_text": (text_form, publish_text),
        "publish_label": (label_form, publish_label),
        "verify": (verify_form, verify),
        "departure": (departure_form, departure),
    }
    status = 200
    submitted = next((name for name in actions if name in post), None)
    if request.method == "POST" and submitted:
        form, perform = actions[submitted]
        status = 400
        if form.is_valid():
            try:
                done = perform(form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, done)
                return redirect("consent:admin")
    pending = [
        {"consent": consent, "checks": _statement_check_rows(consent.statement_checks)}
        for consent in likeness_consent_list(user=user).filter(status=LikenessStatus.AWAITING_VERIFICATION)
    ]
    return render(
        request,
        "consent/admin.html",
        {
            "texts": consent_text_list(user=user),
            "labels": disclosure_label_list(user=user),
            "text_form": text_form,
            "label_form": label_form,
            "verify_form": verify_form,
            "departure_form": departure_form,
            "pending": pending,
        },
        status=status,
    )


_CHECK_LABELS = {
    "capture": "How it was recorded",
    "identity": "Face and voice match the enrolled likeness",
    "liveness": "A live, speaking face",
    "words": "The statement and one-time code were said",
    "reuse": "A new recording (not enrollment footage or an earlier statement)",
    "manipulation": "No sign of manipulation or synthetic speech",
    "enrollment": "The enrollment footage shows no sign of manipulation",
}


# The word check's reason codes in words a clinic admin reads (other reasons are already sentences).
_WORD_CHECK_REASONS = {
    "challenge_not_heard": "The one-time code was not heard clearly enough in the recording.",
}


def _statement_check_rows(checks: dict[str, Any]) -> list[dict[str, Any]]:
    """Each automated check of a statement as the admin reads it: verdict, score, threshold and
    the evidence behind it."""
    rows = []
    for name, check in checks.items():
        evidence: list[str] = []
        score, threshold = check.get("score"), check.get("threshold")
        if name == "capture":
            evidence.append("live capture with a one-time code" if check["passed"] else "uploaded file")
        elif name == "identity":
            score, threshold = check.get("face_distance"), check.get("max_face_distance")
            evidence.append(
                f"face distance {check.get('face_distance')} (at most {check.get('max_face_distance')}); "
                f"voice similarity {check.get('voice_similarity')} (at least {check.get('min_voice_similarity')})"
            )
            evidence += check.get("reasons", [])
        elif name == "words":
            if check.get("reason"):
                evidence.append(_WORD_CHECK_REASONS.get(check["reason"], check["reason"]))
            evidence += [
                f"code word heard: “{w['text']}” {w['start']}–{w['end']} s"
                + ("" if w["expected"] else " (not the code)")
                for w in check.get("heard", [])
            ]
            evidence += [
                f"“{w['text']}” {w['start']}–{w['end']} s (cost {w['cost']})" for w in check.get("words", [])
            ]
        elif name == "reuse":
            evidence.append(f"{check.get('references', 0)} earlier recordings compared")
            evidence += [f"matches {m['reference']} by {m['measure']}" for m in check.get("matches", [])]
        elif name in ("manipulation", "enrollment"):
            if name == "enrollment":
                evidence.append(f"from the {check.get('source', 'enrollment analysis')}")
                if check.get("reason"):
                    evidence.append(check["reason"])
            evidence += [
                f"{analyzer}: {a['score']} (flagged from {a['threshold']})"
                + (" FLAGGED" if a["flagged"] else "")
                + (f" — skipped: {a['skipped']}" if a.get("skipped") else "")
                for analyzer, a in check.get("analyzers", {}).items()
            ]
        rows.append(
            {
                "name": name,
                "label": _CHECK_LABELS.get(name, name),
                "passed": bool(check.get("passed")),
                "score": score,
                "threshold": threshold,
                "evidence": evidence,
            }
        )
    return rows


# --- compliance console --------------------------------------------------------------------------


def _person_choices(user: User) -> list[tuple[str, str]]:
    people = list(clinicians_of(user=user)) + list(patients_of(user=user))
    return [("", "Anyone")] + [(str(p.pk), f"{p.printed_name} ({p.get_role_display()})") for p in people]


def _filters(form: LedgerSearchForm) -> LedgerFilters:
    if not form.is_valid():
        return LedgerFilters()
    d = form.cleaned_data

    def aware(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    return LedgerFilters(
        event_type=d["event_type"] or "",
        subject_id=d["subject"] or "",
        object_id=d["object"] or "",
        since=aware(d["since"]),
        until=aware(d["until"]),
    )


#: The activity chart's colours: which family of events a ledger entry belongs to.
_ACTIVITY_SERIES = ("Consents", "Likeness, scripts and videos", "Exports and checks", "Other")
_ACTIVITY_PREFIXES = (
    (0, ("likeness_consent.", "patient_consent.", "consent_text.", "disclosure_label.", "clinician.")),
    (1, ("enrollment.", "script.", "render.", "video.", "anonymization.")),
    (2, ("export.", "provenance.", "scan", "dicom.")),
)
ACTIVITY_DAYS = 30


def _activity_series(event_type: str) -> int:
    for series, prefixes in _ACTIVITY_PREFIXES:
        if event_type.startswith(prefixes):
            return series
    return len(_ACTIVITY_SERIES) - 1


def _activity_chart(user: User, filters: LedgerFilters) -> BarChart:
    """Ledger entries per day over the last month (within the search), by family of event."""
    days = day_buckets(timezone.now().astimezone(UTC).date(), ACTIVITY_DAYS)
    since = datetime.combine(days[0], time.min, tzinfo=UTC)
    counts: dict[Any, list[int]] = {}
    for day, event_type, count in ledger_activity_by_day(user=user, filters=filters, since=since):
        counts.setdefault(day, [0] * len(_ACTIVITY_SERIES))[_activity_series(event_type)] += count
    return time_chart(
        title=f"Ledger entries per day, last {ACTIVITY_DAYS} days",
        days=days,
        counts=counts,
        series=_ACTIVITY_SERIES,
        unit=("ledger entry", "ledger entries"),
    )


#: Colour of each consent state in the charts (see .chart-series-N in the stylesheet).
_STATE_COLOURS = {
    "active": 1,
    "granted": 1,
    "awaiting_verification": 2,
    "draft": 2,
    "revoked": 4,
    "withdrawn": 4,
}


def _state_charts(user: User) -> list[tuple[str, BarChart]]:
    counts = consent_state_counts(user=user)
    charts = []
    for key, title, choices in (
        ("likeness", "Clinicians' likeness consents by state", LikenessStatus.choices),
        ("patient", "Patients' consents by state", PatientConsentStatus.choices),
    ):
        rows = [
            (str(label), counts[key].get(value, 0), _STATE_COLOURS.get(value, 5))
            for value, label in choices
            if counts[key].get(value) or value in ("active", "granted")
        ]
        charts.append(
            (f"chart-{key}-states", category_chart(title=title, rows=rows, unit=("consent", "consents")))
        )
    return charts


@login_required
@require_http_methods(["GET", "POST"])
@_allowed_only(can_view_compliance, "The compliance console is for compliance officers and clinic admins.")
def compliance_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    search = LedgerSearchForm(request.GET or None)
    cast(forms.ChoiceField, search.fields["subject"]).choices = _person_choices(user)
    filters = _filters(search)
    export_form = ExportForm(request.POST or None)
    if request.method == "POST" and export_form.is_valid():
        d = export_form.cleaned_data
        try:
            export = evidence_export(
                actor=user,
                request=ExportRequest(
                    format=d["format"],
                    recipient=d["recipient"],
                    purpose=d["purpose"],
                    filters=filters,
                    fhir_version=d["fhir_version"],
                    include_names=d["include_names"],
                ),
            )
        except ApplicationError as exc:
            export_form.add_error(None, exc.message)
        else:
            response = HttpResponse(export.content, content_type=export.content_type)
            response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
            return response
    report = ledger_verify()
    head = SignedTreeHead.objects.order_by("-tree_size").first()
    entries = ledger_entry_list(user=user, filters=filters)
    likeness = likeness_consent_list(user=user)
    patient = patient_consent_list(user=user)
    if filters.subject_id:
        likeness = likeness.filter(clinician_id=int(filters.subject_id))
        patient = patient.filter(patient_id=int(filters.subject_id))
    return render(
        request,
        "consent/compliance.html",
        {
            "search": search,
            "export_form": export_form,
            "report": report,
            "head": head,
            "head_time": datetime.fromtimestamp(head.timestamp_ms / 1000, tz=UTC) if head else None,
            "entries": _entries_view(entries[:200]),
            "entry_count": entries.count(),
            "likeness": likeness[:100],
            "patient_consents": patient[:100],
            "clinicians": clinicians_of(user=user),
            "query": request.GET.urlencode(),
            "activity_chart": _activity_chart(user, filters),
            "state_charts": _state_charts(user),
        },
        status=400 if export_form.errors else 200,
    )


@login_required
@_allowed_only(can_view_compliance, "Only compliance officers and clinic admins see timelines.")
def clinician_timeline_page(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    user = request.user
    clinician = clinicians_of(user=user).filter(pk=user_id).first()
    if clinician is None:
        return render(request, "core/not_found.html", {"message": "Clinician not found."}, status=404)
    entries = ledger_entry_list(user=user, filters=LedgerFilters(subject_id=str(clinician.pk))).order_by(
        "seq"
    )
    return render(
        request,
        "consent/timeline.html",
        {
            "clinician": clinician,
            "entries": _entries_view(entries[:500]),
            "consents": likeness_consent_list(user=user).filter(clinician=clinician),
        },
    )


@login_required
@_allowed_only(
    can_view_compliance, "Only compliance officers and clinic admins see the accounting of disclosures."
)
def disclosures_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request, "consent/disclosures.html", {"disclosures": disclosure_list(user=request.user)[:500]}
    )
