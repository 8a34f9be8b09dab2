"""Alerts of an alerting verdict (a scan's, or a DICOM study's): live to the clinic's alert group, and by
e-mail to its compliance officers.

Sent after the verdict's transaction commits; a failure to deliver is logged and never undoes the
verdict (the scan list and the ledger still show it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from core.models import Clinic, User
from detection.models import DicomStudy, Scan
from detection.policy import ALERT_ROLES

logger = logging.getLogger(__name__)


def alert_group(clinic_id: Any) -> str:
    """The Channels group of one clinic's scanner alerts."""
    return f"detection.alerts.{clinic_id}"


def alert_message(scan: Scan) -> dict[str, Any]:
    return {
        "scan": str(scan.id),
        "verdict": scan.verdict_kind,
        "headline": scan.headline,
        "file": scan.original_name,
        "url": reverse("detection:scan-detail", args=[scan.id]),
    }


def dicom_alert_message(study: DicomStudy) -> dict[str, Any]:
    """A DICOM study's alert, in the shape of a scan's (the id under "scan" keeps each alert once)."""
    return {
        "scan": str(study.id),
        "subject": "dicom_study",
        "verdict": study.verdict,
        "headline": study.headline,
        "file": f"DICOM study {str(study.id)[:8]}",
        "url": reverse("detection:dicom-study", args=[study.id]),
    }


def alerts_of(scans: Iterable[Scan], studies: Iterable[DicomStudy]) -> list[dict[str, Any]]:
    """The alert messages of alerting scans and DICOM studies, each with its `finished_at`, oldest first."""
    alerts = [{**alert_message(scan), "finished_at": scan.finished_at} for scan in scans] + [
        {**dicom_alert_message(study), "finished_at": study.finished_at} for study in studies
    ]
    return sorted(alerts, key=lambda alert: alert["finished_at"])


def _alert_deliver(*, clinic: Clinic, message: dict[str, Any], subject: str, body: str) -> None:
    """Push an alert to the clinic's websocket group and e-mail the clinic's compliance officers."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(alert_group(clinic.id), {"type": "scan.alert", "alert": message})
    except Exception:  # the e-mail still goes out when the channel layer is down
        logger.warning("scan alert not pushed", exc_info=True, extra={"scan": message["scan"]})
    recipients = list(
        User.objects.filter(clinic_id=clinic.id, role__in=ALERT_ROLES, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    site_url = getattr(settings, "SITE_URL", "")
    link = f"{site_url.rstrip('/')}{message['url']}" if site_url else message["url"]
    try:
        send_mail(
            subject=f"[Candor] {subject} for {clinic.name}: {message['headline']}",
            message=body.replace("{link}", link),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:  # SMTP down: logged; the live alert and the result page still show it
        logger.warning("scan alert e-mail not sent", exc_info=True, extra={"scan": message["scan"]})


def scan_alert_send(*, scan_id: Any) -> None:
    """Push the alert to the clinic's websocket group and e-mail the clinic's compliance officers."""
    scan = Scan.objects.select_related("clinic").get(id=scan_id)
    body = (
        f"The impersonation scanner found: {scan.headline}.\n\n"
        f"File: {scan.original_name} (SHA-256 {scan.sha256})\n"
        "Result and evidence: {link}\n\n"
        "Open a case from the result page to review it and, if needed, send a takedown notice."
    )
    _alert_deliver(clinic=scan.clinic, message=alert_message(scan), subject="Scan alert", body=body)


def dicom_alert_send(*, study_id: Any) -> None:
    """The alert of a DICOM study's alerting verdict, delivered as a scan's: live and by e-mail. No value
    of the file is in it (the study is named by its id)."""
    study = DicomStudy.objects.select_related("clinic").get(id=study_id)
    message = dicom_alert_message(study)
    body = (
        f"The medical image check found: {study.headline}\n\n"
        f"{message['file']} (SHA-256 {study.sha256})\n"
        "Result and evidence: {link}\n\n"
        "Open a case from the study page to review it."
    )
    _alert_deliver(clinic=study.clinic, message=message, subject="Medical image alert", body=body)
