"""Kernel pages: sign-in with second factor, invitations, role home pages, jobs and uploads."""

from __future__ import annotations

import base64
import logging
from collections import Counter
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from core.errors import ApplicationError
from core.forms import (
    ConfirmForm,
    InvitationAcceptForm,
    InvitationCreateForm,
    NewPasswordForm,
    PasswordResetRequestForm,
    SecondFactorForm,
    SignInForm,
    VideoUploadForm,
)
from core.home import home_panels_render
from core.models import Role
from core.progress import job_state_message
from core.ratelimit import client_address, rate_limit_hit, rate_limit_reset
from core.requests import AuthenticatedHttpRequest
from core.selectors import (
    UPLOADER_ROLES,
    invitation_list,
    job_get,
    job_list,
    member_deactivated_list,
    member_list,
    member_second_factor_ids,
    upload_list,
)
from core.services import (
    invitation_accept,
    invitation_create,
    invitation_find,
    invitation_revoke,
    job_cancel,
    member_deactivate,
    member_second_factor_reset,
    password_reset_completed,
    totp_device_confirm,
    totp_device_get_or_create,
    totp_verify,
    video_proxy_start,
)

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ident = f"{client_address(request)}|{form.cleaned_data['username'].lower()}"
        try:
            rate_limit_hit(
                scope="login",
                ident=ident,
                limit=settings.LOGIN_RATE_LIMIT,
                window_seconds=settings.LOGIN_RATE_WINDOW_SECONDS,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return render(request, "core/sign_in.html", {"form": form}, status=429)
        user = authenticate(
            request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        if user is None:
            form.add_error(None, "Wrong username or password.")
        else:
            rate_limit_reset(scope="login", ident=ident)
            login(request, user)
            if getattr(user, "is_privileged", False):
                return redirect("core:second_factor")
            return redirect(_safe_next(request))
    return render(request, "core/sign_in.html", {"form": form}, status=400 if form.errors else 200)


def _safe_next(request: HttpRequest) -> str:
    target = request.GET.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else reverse("core:home")


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Verify a TOTP code; a privileged user without a confirmed device first sets one up."""
    user = request.user
    if not user.is_privileged or user.is_verified():
        return redirect("core:home")
    device = totp_device_get_or_create(user=user)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit_hit(
                scope="otp",
                ident=str(user.pk),
                limit=settings.LOGIN_RATE_LIMIT,
                window_seconds=settings.LOGIN_RATE_WINDOW_SECONDS,
            )
            code = form.cleaned_data["code"]
            device = (
                totp_verify(user=user, code=code)
                if device.confirmed
                else totp_device_confirm(user=user, code=code)
            )
        except ApplicationError as exc:
            form.add_error("code", exc.message)
        else:
            rate_limit_reset(scope="otp", ident=str(user.pk))
            otp_login(request, device)
            # The session now grants full privileges: give it a new id, so an id learnt while it was
            # half signed in (a shared computer, a leaked log) is worth nothing.
            request.session.cycle_key()
            return redirect("core:home")
    context: dict[str, Any] = {"form": form, "setup": not device.confirmed}
    if not device.confirmed:
        context["qr"] = segno.make(device.config_url, error="m").svg_data_uri(scale=5)
        context["secret"] = _base32(device.bin_key)
    return render(request, "core/second_factor.html", context, status=400 if form.errors else 200)


def _base32(key: bytes) -> str:
    return base64.b32encode(key).decode().rstrip("=")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("core:login")


class PasswordResetRequestView(auth_views.PasswordResetView):
    """Ask for a reset link by email; the answer is the same whether or not the address has an account."""

    form_class = PasswordResetRequestForm
    template_name = "core/password_reset_request.html"
    email_template_name = "core/email/password_reset.txt"
    subject_template_name = "core/email/password_reset_subject.txt"
    success_url = reverse_lazy("core:password_reset_sent")

    def form_valid(self, form: PasswordResetRequestForm) -> HttpResponse:
        email = form.cleaned_data["email"].strip().lower()
        try:
            # Per address, so nobody can fill a mailbox with links, and per client, so nobody can
            # try address after address.
            for scope, ident in (
                ("password_reset", email),
                ("password_reset_client", client_address(self.request)),
            ):
                rate_limit_hit(
                    scope=scope,
                    ident=ident,
                    limit=settings.LOGIN_RATE_LIMIT,
                    window_seconds=settings.LOGIN_RATE_WINDOW_SECONDS,
                )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        # Ids only: the address is personal data and stays out of the logs.
        logger.info(
            "account.password_reset_requested",
            extra={"user_ids": [user.pk for user in form.get_users(email)]},
        )
        return super().form_valid(form)

    def form_invalid(self, form: PasswordResetRequestForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "core/password_reset_sent.html"


class PasswordResetSetView(auth_views.PasswordResetConfirmView):
    """Set a new password from the emailed link; the person then signs in (and, if their role needs
    it, passes the second factor): the link never signs anyone in."""

    form_class = NewPasswordForm
    template_name = "core/password_reset_set.html"
    success_url = reverse_lazy("core:password_reset_done")
    post_reset_login = False

    def form_valid(self, form: NewPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        password_reset_completed(user=form.user)
        return response

    def form_invalid(self, form: NewPasswordForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetDoneView(auth_views.PasswordResetCompleteView):
    template_name = "core/password_reset_done.html"


@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_find(token=token)
    except ApplicationError as exc:
        return render(request, "core/invitation_invalid.html", {"message": exc.message}, status=410)
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(token=token, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("core:second_factor" if user.is_privileged else "core:home")
    return render(
        request,
        "core/invitation_accept.html",
        {"form": form, "invitation": invitation},
        status=400 if form.errors else 200,
    )


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        # Signed-out visitors meet what Candor is, the way in, and the public verify page.
        return render(request, "core/landing.html")
    if not user.clinic_id:
        return render(request, "core/no_clinic.html", status=403)
    jobs = job_list(user=user)[:8]
    context: dict[str, Any] = {"jobs": jobs, "can_upload": user.role in UPLOADER_ROLES}
    if user.role == Role.CLINIC_ADMIN:
        members = member_list(user=user)
        context["role_counts"] = sorted(Counter(m.get_role_display() for m in members).items())
        context["open_invitations"] = (
            invitation_list(user=user).filter(accepted_at__isnull=True, revoked_at__isnull=True).count()
        )
    if user.role == Role.COMPLIANCE_OFFICER:
        context["status_counts"] = sorted(
            Counter(j.get_status_display() for j in job_list(user=user)).items()
        )
    if user.role == Role.PATIENT:
        context["staff"] = member_list(user=user).filter(role=Role.CLINICIAN)
    # Sections owned by the apps (e.g. the videos the studio shared with a patient), see core.home.
    context["panels"] = home_panels_render(request=request, user=user)
    return render(request, f"core/home_{user.role}.html", context)


@login_required
def jobs_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    jobs = list(job_list(user=request.user)[:100])
    return render(
        request,
        "core/jobs.html",
        {
            "jobs": jobs,
            "states": {str(j.id): job_state_message(j) for j in jobs},
            "can_upload": request.user.role in UPLOADER_ROLES,
        },
    )


@login_required
def job_page(request: AuthenticatedHttpRequest, job_id: str) -> HttpResponse:
    try:
        job = job_get(user=request.user, job_id=job_id)
    except ApplicationError as exc:
        return render(request, "core/not_found.html", {"message": exc.message}, status=404)
    return render(
        request,
        "core/job.html",
        {"job": job, "state": job_state_message(job), "can_cancel": request.user.role != Role.PATIENT},
    )


@login_required
@require_http_methods(["GET", "POST"])
def job_cancel_page(request: AuthenticatedHttpRequest, job_id: str) -> HttpResponse:
    """Confirm, then cancel a job. A cancel button elsewhere posts without `confirmed` and lands on
    this confirmation page (no JavaScript needed); the page's own form cancels."""
    try:
        job = job_get(user=request.user, job_id=job_id)
    except ApplicationError as exc:
        return render(request, "core/not_found.html", {"message": exc.message}, status=404)
    # Back to the page the cancel button was on (a render's video page, say), never off-site.
    back = request.POST.get("next") or request.GET.get("next", "")
    if not (back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})):
        back = reverse("core:job", args=[job.id])
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.sent_from_confirmation:
        try:
            job_cancel(actor=request.user, job_id=job.id)
            messages.success(request, "Cancellation requested.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect(back)
    if job.is_finished:
        messages.error(request, f"The job has already {job.status}.")
        return redirect(back)
    label = job.kind_label[:1].lower() + job.kind_label[1:]
    return render(
        request,
        "core/confirm.html",
        {
            "title": f"Cancel this {label}?",
            "lead": f"Requested {job.created_at:%Y-%m-%d %H:%M}; {job.percent:.0f}% done.",
            "consequences": [
                "It stops at its next step; the work done so far is discarded.",
                *([job.cancel_consequence] if job.cancel_consequence else []),
            ],
            "form": form,
            "carry": [("next", back)],
            "button": f"Cancel the {label}",
            "back": back,
            "back_text": "Keep it running",
            "action": reverse("core:job_cancel", args=[job.id]),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.user.role not in UPLOADER_ROLES:
        return render(
            request, "core/not_found.html", {"message": "Your role cannot upload videos."}, status=403
        )
    form = VideoUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = video_proxy_start(actor=request.user, file=form.cleaned_data["file"])
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("core:job", job_id=job.id)
    uploads = upload_list(user=request.user)[:20]
    return render(
        request,
        "core/upload.html",
        {
            "form": form,
            "uploads": uploads,
            "max_mb": settings.UPLOAD_MAX_BYTES // 1_000_000,
            "max_minutes": settings.UPLOAD_MAX_DURATION_SECONDS // 60,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    if user.role not in (Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER):
        return render(
            request, "core/not_found.html", {"message": "Only clinic admins manage the team."}, status=403
        )
    form = InvitationCreateForm(request.POST or None)
    new_link = None
    if request.method == "POST" and "revoke" in request.POST:
        try:
            invitation_revoke(actor=user, invitation_id=request.POST["revoke"])
            messages.success(request, "Invitation withdrawn.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("core:team")
    if request.method == "POST" and form.is_valid():
        try:
            _, token = invitation_create(actor=user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            new_link = request.build_absolute_uri(reverse("core:invitation_accept", args=[token]))
            form = InvitationCreateForm()
    return render(
        request,
        "core/team.html",
        {
            "members": member_list(user=user),
            "deactivated": member_deactivated_list(user=user),
            "with_second_factor": member_second_factor_ids(user=user),
            "invitations": invitation_list(user=user),
            "form": form,
            "new_link": new_link,
            "can_invite": user.role == Role.CLINIC_ADMIN,
            "valid_days": settings.INVITATION_VALID_DAYS,
            "now": timezone.now(),
        },
    )


# Actions a clinic admin takes on a member from the Team page: a confirmation page, then the POST.
_MEMBER_ACTIONS: dict[str, dict[str, Any]] = {
    "second-factor-reset": {
        "service": member_second_factor_reset,
        "title": "Reset the second factor of {name}?",
        "explain": (
            "Their authenticator app stops working for Candor. At their next sign-in they are shown a"
            " new QR code to scan, and confirm it with a code. Do this when they have lost their phone."
        ),
        "button": "Reset second factor",
        "done": "{name} will set up a new authenticator at their next sign-in.",
    },
    "deactivate": {
        "service": member_deactivate,
        "title": "Deactivate the account of {name}?",
        "explain": (
            "They can no longer sign in, and their open sessions and API tokens stop working at once."
            " What they recorded (consents, signatures, videos) stays, with their name on it."
        ),
        "button": "Deactivate account",
        "done": "{name} can no longer sign in.",
    },
}


@login_required
@require_http_methods(["GET", "POST"])
def team_member_action_page(request: AuthenticatedHttpRequest, member_id: int, action: str) -> HttpResponse:
    """Confirm, then reset a member's second factor or deactivate their account (clinic admins)."""
    user = request.user
    spec = _MEMBER_ACTIONS.get(action)
    if spec is None:
        return render(request, "core/not_found.html", {"message": "Page not found."}, status=404)
    if user.role != Role.CLINIC_ADMIN:
        return render(
            request, "core/not_found.html", {"message": "Only clinic admins manage the team."}, status=403
        )
    if request.method == "POST":
        try:
            member = spec["service"](actor=user, member_id=member_id)
        except ApplicationError as exc:
            if exc.status == 404:
                return render(request, "core/not_found.html", {"message": exc.message}, status=404)
            messages.error(request, exc.message)
        else:
            messages.success(request, spec["done"].format(name=member.printed_name))
        return redirect("core:team")
    member = member_list(user=user).filter(pk=member_id).first()
    if member is None:
        return render(request, "core/not_found.html", {"message": "Member not found."}, status=404)
    return render(
        request,
        "core/team_member_confirm.html",
        {
            "member": member,
            "title": spec["title"].format(name=member.printed_name),
            "explain": spec["explain"],
            "button": spec["button"],
            "danger": action == "deactivate",
        },
    )


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the cache answer."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001
        checks["database"] = "unavailable"
    try:
        cache.set("readiness", "1", 5)
        checks["cache"] = "ok" if cache.get("readiness") == "1" else "unavailable"
    except Exception:  # noqa: BLE001
        checks["cache"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)
