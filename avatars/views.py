"""Studio pages (enrollment, scripts, renders, review, publication) and the patient viewer."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from avatars import policy
from avatars.forms import EnrollmentForm, PortraitForm, PublishForm, ReviewForm, ScriptForm
from avatars.models import EnrollmentKind, EnrollmentStatus, Script, ScriptStatus, Video, VideoStatus
from avatars.selectors import (
    enrollment_list,
    presenter_scopes,
    script_get,
    script_list,
    video_get,
    video_list,
    videos_of_likeness,
)
from avatars.services import (
    enrollment_footage_start,
    enrollment_portrait_create,
    enrollment_sign_off,
    enrollment_stock_get_or_create,
    link_publication_find,
    render_refusal,
    render_request,
    script_approve,
    script_save,
    video_acknowledge_view,
    video_publish,
    video_review,
)
from avatars.services.enrollment_guide import READING_SCRIPT, enrollment_requirements
from consent.selectors import clinicians_consenting
from core.errors import ApplicationError
from core.http import stored_file_response
from core.models import Role, User
from core.progress import job_state_message
from core.requests import AuthenticatedHttpRequest


def _forbidden(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "core/not_found.html", {"message": message}, status=status)


def _enrollment_choices(user: User) -> list[tuple[str, str]]:
    choices = []
    for e in enrollment_list(user=user).filter(status=EnrollmentStatus.READY):
        if e.kind == EnrollmentKind.STOCK or e.clinician is None:
            label = "Stock presenter (depicts no real person)"  # its kind says the same: once is enough
        else:
            label = f"{e.clinician.printed_name} — {e.get_kind_display()}"
        choices.append((str(e.id), label))
    return choices


@login_required
@require_http_methods(["GET", "POST"])
def studio_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    if not policy.can_use_studio(user):
        return _forbidden(request, policy.STUDIO_REFUSAL)
    enrollment_stock_get_or_create(actor=user)
    if request.method == "POST" and "signoff" in request.POST:
        try:
            enrollment_sign_off(actor=user, enrollment_id=request.POST["signoff"])
            messages.success(request, "Thank you: the material can now be used within your consent.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("avatars:studio")
    is_portrait = "photo" in request.FILES
    refusal_status = 0
    enrollment_form = (
        EnrollmentForm() if is_portrait else EnrollmentForm(request.POST or None, request.FILES or None)
    )
    portrait_form = PortraitForm(
        request.POST if is_portrait else None, request.FILES if is_portrait else None
    )
    clinicians = User.objects.filter(clinic_id=user.member_clinic_id, role=Role.CLINICIAN).order_by(
        "username"
    )
    for form in (enrollment_form, portrait_form):
        if policy.can_enroll_for_others(user):
            cast(forms.ChoiceField, form.fields["clinician"]).choices = [
                (str(c.pk), c.printed_name) for c in clinicians
            ]
            form.address_someone_else()  # the admin is not the person on camera
        else:
            del form.fields["clinician"]  # clinicians enroll only themselves
    form = portrait_form if is_portrait else enrollment_form
    if request.method == "POST" and form.is_valid():
        subject = user
        if policy.can_enroll_for_others(user):
            subject = clinicians.filter(pk=form.cleaned_data["clinician"]).first() or user
        try:
            if is_portrait:
                enrollment_portrait_create(actor=user, clinician=subject, photo=form.cleaned_data["photo"])
                messages.success(request, "Portrait accepted.")
            else:
                enrollment_footage_start(
                    actor=user,
                    clinician=subject,
                    footage=form.cleaned_data["footage"],
                    voice=form.cleaned_data.get("voice"),
                )
                messages.success(request, "Footage received; it is being analysed.")
            if subject.pk != user.pk:
                messages.info(request, f"{subject.printed_name} must sign it off before it can be used.")
            return redirect("avatars:studio")
        except ApplicationError as exc:
            form.add_error("photo" if is_portrait else "footage", exc.message)
            refusal_status = exc.status  # a rate limit stays a 429, a role refusal a 403
    script_form = ScriptForm()
    cast(forms.ChoiceField, script_form.fields["enrollment"]).choices = _enrollment_choices(user)
    return render(
        request,
        "avatars/studio.html",
        {
            "enrollments": enrollment_list(user=user),
            # Whose likeness may be used now: the others' material is marked, not offered silently.
            "consenting": clinicians_consenting(clinic_id=user.clinic_id),
            "scripts": script_list(user=user)[:50],
            "videos": video_list(user=user)[:50],
            "enrollment_form": enrollment_form,
            "script_form": script_form,
            "portrait_form": portrait_form,
            "reading_script": READING_SCRIPT,
            "requirements": enrollment_requirements(),
            "enroll_for_others": policy.can_enroll_for_others(user),
            "my_videos": videos_of_likeness(clinician=user)
            if policy.sees_own_likeness_videos(user)
            else None,
        },
        status=refusal_status or (400 if enrollment_form.errors or portrait_form.errors else 200),
    )


@login_required
@require_http_methods(["GET", "POST"])
def script_page(request: AuthenticatedHttpRequest, script_id: str | None = None) -> HttpResponse:
    user = request.user
    if not policy.can_use_studio(user):
        return _forbidden(request, policy.STUDIO_REFUSAL)
    try:
        script = script_get(user=user, script_id=script_id) if script_id else None
    except ApplicationError as exc:
        return _forbidden(request, exc.message, 404)
    initial = {}
    if script is not None:
        initial = {
            "enrollment": str(script.enrollment_id),
            "title": script.title,
            "language": script.language,
            "topic": script.topic,
            "audience": script.audience,
            "channel": script.channel,
            "text": script.text,
            "narration_source": script.narration_source,
        }
    # Approve and Render post only their button: the edit form then shows the saved script again,
    # not an empty form full of "This field is required." (issue 15 item 8).
    saving = request.method == "POST" and not ({"approve", "render"} & set(request.POST))
    form = ScriptForm(request.POST if saving else None, request.FILES if saving else None, initial=initial)
    form.offer_uses(presenters=_enrollment_choices(user), scopes=presenter_scopes(user=user), saved=initial)
    status = 200
    if request.method == "POST":
        try:
            if "approve" in request.POST and script is not None:
                script_approve(actor=user, script_id=script.id)
                messages.success(request, "Script approved.")
                return redirect("avatars:script", script_id=script.id)
            if "render" in request.POST and script is not None:
                video = render_request(actor=user, script_id=script.id)
                return redirect("avatars:video", video_id=video.id)
            if saving and form.is_valid():
                data = dict(form.cleaned_data)
                saved = script_save(
                    actor=user,
                    script_id=script.id if script else None,
                    enrollment_id=data.pop("enrollment"),
                    narration=data.pop("narration"),
                    **data,
                )
                messages.success(request, _saved_message(saved, before=script, user=user))
                return redirect("avatars:script", script_id=saved.id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            status = exc.status  # a refusal (a bad narration file among them) is a 4xx, not a 200
    return render(
        request,
        "avatars/script.html",
        {
            "script": script,
            "form": form,
            "use_options": form.use_options(),
            "render_refusal": render_refusal(script=script)
            if script and script.status == "approved"
            else None,
        },
        status=status if status != 200 else (400 if form.errors else 200),
    )


def _saved_message(saved: Script, *, before: Script | None, user: User) -> str:
    if saved.status != ScriptStatus.DRAFT:
        return "Script saved."
    again = " again" if before is not None and before.status == ScriptStatus.APPROVED else ""
    if saved.clinician_id == user.pk:
        return f"Script saved. Read it through and approve it{again} below; then it can be rendered."
    return f"Script saved. {saved.clinician.printed_name} must approve it{again} before it can be rendered."


@login_required
@require_http_methods(["GET", "POST"])
def video_page(request: AuthenticatedHttpRequest, video_id: str) -> HttpResponse:
    """Staff: progress, review, publication. Patients: the viewer."""
    user = request.user
    try:
        video = video_get(user=user, video_id=video_id)
    except ApplicationError as exc:
        return _forbidden(request, exc.message, 404)
    if policy.watches_as_patient(user):
        return _viewer(request, video, patient=user)
    review_form = ReviewForm(request.POST if "decision" in request.POST else None)
    publish_form = PublishForm(request.POST if "publish" in request.POST else None)
    cast(forms.ChoiceField, publish_form.fields["patients"]).choices = [
        (str(p.pk), p.printed_name)
        for p in User.objects.filter(clinic_id=user.member_clinic_id, role=Role.PATIENT)
    ]
    link = None
    try:
        if "decision" in request.POST and review_form.is_valid():
            video_review(
                actor=user,
                video_id=video.id,
                approve=review_form.cleaned_data["decision"] == "approve",
                note=review_form.cleaned_data["note"],
            )
            return redirect("avatars:video", video_id=video.id)
        if "publish" in request.POST and publish_form.is_valid():
            _, token = video_publish(
                actor=user,
                video_id=video.id,
                patient_ids=[int(p) for p in publish_form.cleaned_data["patients"]],
                link_days=publish_form.cleaned_data["link_days"],
            )
            messages.success(request, "Published.")
            if token:
                link = request.build_absolute_uri(f"/v/{token}/")
            video.refresh_from_db()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return render(
        request,
        "avatars/video.html",
        {
            "video": video,
            "state": job_state_message(video.job),
            "review_form": review_form,
            "publish_form": publish_form,
            "link": link,
            "can_review": policy.can_review_video(user, video),
            "publications": video.publications.select_related("patient"),
        },
    )


def _viewer(request: HttpRequest, video: Video, *, patient: User | None, token: str = "") -> HttpResponse:
    withdrawn = video.status == VideoStatus.WITHDRAWN or (
        patient is not None
        and not video.publications.filter(patient=patient, withdrawn_at__isnull=True).exists()
    )
    if not withdrawn and patient is not None:
        video_acknowledge_view(patient=patient, video=video)
    consent = video.likeness_consent
    media_base = f"/v/{token}/media/" if token else f"/videos/{video.id}/media/"
    return render(
        request,
        "avatars/viewer.html",
        {
            "video": video,
            "withdrawn": withdrawn,
            "consent": consent,
            "clinic": video.clinic,
            "media_base": media_base,
            "provenance": _provenance_summary(video) if not withdrawn else None,
        },
        status=410 if withdrawn else 200,
    )


def _provenance_summary(video: Video) -> dict[str, Any]:
    """Read the stored file's manifest back with the platform's trust anchors."""
    from provenance.services import stored_output_manifest

    report = stored_output_manifest(video.video_key)
    return {"state": report.state.value, "signer": report.signer_name, "source_type": report.source_type}


_MEDIA = {"video.mp4": "video_key", "poster.jpg": "poster_key", "captions.vtt": "captions_key"}


@login_required
def video_media(request: AuthenticatedHttpRequest, video_id: str, name: str) -> HttpResponseBase:
    try:
        video = video_get(user=request.user, video_id=video_id)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=404)
    return _media(
        request, video, name, patient=request.user if policy.watches_as_patient(request.user) else None
    )


def _media(request: HttpRequest, video: Video, name: str, *, patient: User | None) -> HttpResponseBase:
    if name not in _MEDIA or not getattr(video, _MEDIA[name]):
        return HttpResponse("Not found.", status=404)
    live_for_patient = (
        patient is None or video.publications.filter(patient=patient, withdrawn_at__isnull=True).exists()
    )
    if video.status == VideoStatus.WITHDRAWN or not live_for_patient:
        return HttpResponse("This video was withdrawn.", status=410)
    return stored_file_response(request, getattr(video, _MEDIA[name]))


def link_viewer(request: HttpRequest, token: str) -> HttpResponse:
    try:
        publication = link_publication_find(token=token)
    except ApplicationError as exc:
        return _forbidden(request, exc.message, 404)
    return _viewer(request, publication.video, patient=None, token=token)


def link_media(request: HttpRequest, token: str, name: str) -> HttpResponseBase:
    try:
        publication = link_publication_find(token=token)
    except ApplicationError:
        return HttpResponse("Not found.", status=404)
    if publication.withdrawn_at:
        return HttpResponse("This video was withdrawn.", status=410)
    return _media(request, publication.video, name, patient=None)
