"""Reads of DICOM studies, scoped to the acting user's clinic and the scanner roles; the viewer's slices."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.errors import not_found
from core.models import User
from detection.models import DicomPurpose, DicomStudy, DicomVerdict
from detection.policy import may_scan


def dicom_study_list(*, user: User) -> QuerySet[DicomStudy]:
    if not may_scan(user):
        return DicomStudy.objects.none()
    return DicomStudy.objects.filter(clinic_id=user.member_clinic_id).select_related("job", "uploaded_by")


def dicom_study_get(*, user: User, study_id: Any) -> DicomStudy:
    try:
        return dicom_study_list(user=user).prefetch_related("instances").get(id=study_id)
    except (DicomStudy.DoesNotExist, ValueError, TypeError):
        raise not_found("DICOM study") from None


def dicom_signed_studies(*, user: User) -> QuerySet[DicomStudy]:
    """Studies a later copy can be checked against."""
    return dicom_study_list(user=user).filter(purpose=DicomPurpose.INGEST, verdict=DicomVerdict.SIGNED)


def dicom_slice_count(study: DicomStudy) -> int:
    return sum(i.frames for i in study.instances.all() if not i.refused)


def dicom_methods() -> list[dict[str, Any]]:
    """The passive detectors as the pages show them: label, threshold, measured accuracy and limits."""
    from detection.engine.dicom.passive import METHODS

    return [{"name": m.name, **m.as_dict()} for m in METHODS]


def dicom_suspect_slices(study: DicomStudy) -> list[dict[str, Any]]:
    """An examined study's suspect slices: number, each method's score against its threshold, the
    flagged methods, and whether a heatmap was stored."""
    methods = {m["name"]: m for m in dicom_methods()}
    rows = []
    for item in study.passive.get("slices", []):
        if not item["flagged"]:
            continue
        rows.append(
            {
                "slice": item["slice"],
                "scores": [
                    {**method, "score": item["scores"][name], "flagged": name in item["flagged"]}
                    for name, method in methods.items()
                    if name in item["scores"]
                ],
                "flagged": [methods[name]["label"] for name in item["flagged"] if name in methods],
                "heatmap": bool(item.get("heatmap")),
            }
        )
    return rows


def dicom_heatmap_key(study: DicomStudy, number: int) -> str:
    """The stored heatmap picture of a suspect slice of an examined study."""
    for item in study.passive.get("slices", []):
        if item["slice"] == number and item.get("heatmap"):
            return str(item["heatmap"])
    raise not_found("Heatmap")


def _slice(study: DicomStudy, number: int) -> tuple[Any, int]:
    """The decoded instance holding slice `number` and the frame's index in it; only that instance is read."""
    from detection.services.dicom import study_instance_read

    remaining = number
    for row in study.instances.filter(refused=False).order_by("position"):
        if 0 <= remaining < row.frames:
            instance = study_instance_read(study, row.upload_index)
            if instance.refused or remaining >= len(instance.frames):
                break
            return instance, remaining
        remaining -= row.frames
    raise not_found("Slice")


def _evidence(study: DicomStudy, number: int) -> tuple[Any, Any]:
    from detection.engine.dicom.passive import slice_evidence

    instance, frame_number = _slice(study, number)
    frame = instance.frames[frame_number]
    previous = None
    if number > 0:
        before, before_number = _slice(study, number - 1)
        previous = before.frames[before_number]
    return slice_evidence(frame, previous, number)


def dicom_slice_evidence(*, study: DicomStudy, number: int) -> dict[str, Any]:
    """Passive evidence of one slice (copy-move within it and from the previous slice, noise
    inconsistency): each method's score against its threshold, with its measured accuracy and limits."""
    evidence, _heat = _evidence(study, number)
    methods = []
    for method in dicom_methods():
        if method["name"] in evidence.scores:
            methods.append(
                {
                    **method,
                    "score": evidence.scores[method["name"]],
                    "shift": evidence.shifts.get(method["name"]),
                    "flagged": method["name"] in evidence.flagged,
                }
            )
    by_name = {m["name"]: m for m in methods}
    return {
        "methods": methods,
        "copy_move": by_name["copy_move"],
        "previous": by_name.get("copy_move_previous"),
        "noise": by_name["noise"],
        "flagged": bool(evidence.flagged),
    }


def dicom_slice_png(
    *,
    study: DicomStudy,
    number: int,
    center: float | None,
    width: float | None,
    overlay: bool,
    evidence: bool = False,
) -> tuple[bytes, dict[str, Any]]:
    """Slice `number` (0-based, over every frame of every accepted instance in viewing order) as PNG,
    windowed at center/width (the file's own window when not given), with changed regions outlined
    when `overlay` and the study is a check, and with `evidence` the heatmap of the passive methods
    flagged on it; and what the page shows about the slice."""
    from detection.engine.dicom.render import Window, default_window, render_png

    instance, frame_number = _slice(study, number)
    frame = instance.frames[frame_number]
    window = (
        Window(center, width)
        if center is not None and width is not None and width > 0
        else default_window(frame, instance.dataset)
    )
    regions: list[tuple[int, int, int, int]] = []
    if overlay:
        for change in study.comparison.get("instances", []):
            if change["sop_instance_uid"] == instance.sop_instance_uid:
                regions = [
                    (r["top"], r["left"], r["bottom"], r["right"])
                    for r in change["regions"]
                    if r["frame"] == frame_number
                ]
    heat = _evidence(study, number)[1] if evidence else None
    png = render_png(frame, instance.dataset, window if frame.ndim == 2 else None, regions, heat)
    return png, {
        "center": round(window.center, 2),
        "width": round(window.width, 2),
        "regions": len(regions),
    }
