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


#: The copy-move detector's measured accuracy and limits (bench/dicom_copy_move.py, /work/notes/bench-dicom.md).
COPY_MOVE_ACCURACY = (
    "Measured on copy-move edits made here from held-out shared slices (128 px crops): ROC AUC 0.904, "
    "TPR 0.766 at 1% FPR."
)
COPY_MOVE_LIMITS = (
    "Finds regions copied unchanged or lightly re-noised within one slice; misses rotated or scaled "
    "copies, copies of flat regions, and posterized images; repeated structures can raise the score."
)


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


def dicom_slice_evidence(*, study: DicomStudy, number: int) -> dict[str, Any]:
    """Passive copy-move evidence of one slice: score, shift, and the method's measured accuracy."""
    from detection.engine.dicom.copy_move import copy_move

    instance, frame_number = _slice(study, number)
    frame = instance.frames[frame_number]
    result = copy_move(frame)
    evidence: dict[str, Any] = {
        "score": result.score,
        "shift": result.shift,
        "accuracy": COPY_MOVE_ACCURACY,
        "limits": COPY_MOVE_LIMITS,
        "previous": None,
    }
    if number > 0:
        from detection.engine.dicom.copy_move import copy_move_between

        before, before_number = _slice(study, number - 1)
        previous = before.frames[before_number]
        if previous.shape == frame.shape:
            cross = copy_move_between(previous, frame)
            evidence["previous"] = {"score": cross.score, "shift": cross.shift}
    return evidence


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
    when `overlay` and the study is a check; and what the page shows about the slice."""
    from detection.engine.dicom.copy_move import copy_move
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
    heat = copy_move(frame).heatmap if evidence else None
    png = render_png(frame, instance.dataset, window if frame.ndim == 2 else None, regions, heat)
    return png, {
        "center": round(window.center, 2),
        "width": round(window.width, 2),
        "regions": len(regions),
    }
