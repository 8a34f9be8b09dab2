"""User-drawn redaction boxes on the anonymization request: checked (form and service), kept on
error with nothing stored, carried to the job's spec, the ledger, the review page and the
residual-risk report, and actually filled in the output during their time range only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.engine.anonymize.replace import REDACTION_COLOR
from avatars.forms import RedactionBoxFormSet
from avatars.models import Anonymization
from avatars.services.anonymize import (
    MAX_REDACTION_BOXES,
    RedactionRequest,
    anonymization_report_pdf,
    anonymization_report_sections,
    anonymization_request,
    redaction_boxes_check,
)
from consent.models import ConsentKind, LedgerEntry, PatientConsent
from consent.services.patient import patient_consent_grant
from core.errors import ApplicationError
from core.models import JobStatus, Upload
from tests.avatars.conftest import run_job
from tests.support import PASSWORD, signed_in_client


@pytest.fixture
def consented(studio: Any) -> PatientConsent:
    return patient_consent_grant(
        patient=studio.patient,
        kind=ConsentKind.PATIENT_ANONYMIZATION,
        purpose="Teaching residents",
        password=PASSWORD,
    )


def _recording(tiny_video: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile("consultation.mp4", tiny_video.read_bytes(), content_type="video/mp4")


# --- the service's check ---------------------------------------------------------------------------


def _refusal(boxes: list[RedactionRequest], **size: Any) -> str:
    with pytest.raises(ApplicationError) as refused:
        redaction_boxes_check(boxes, **size)
    assert refused.value.status == 400 and refused.value.extra["field"] == "redactions"
    return refused.value.message


def test_boxes_outside_the_picture_backwards_or_too_many_are_refused_by_name() -> None:
    fine = RedactionRequest(0.1, 0.1, 0.2, 0.2)
    assert "outside the picture" in _refusal([fine, RedactionRequest(0.9, 0.1, 0.2, 0.2)])
    assert _refusal([fine, RedactionRequest(0.9, 0.1, 0.2, 0.2)]).startswith("Redaction box 2:")
    assert "ends (1 s) before it starts (2 s)" in _refusal([RedactionRequest(0.1, 0.1, 0.2, 0.2, 2, 1)])
    assert "more than 0" in _refusal([RedactionRequest(0.1, 0.1, 0, 0.2)])
    assert "top-left corner" in _refusal([RedactionRequest(-5, 0, 10, 10, unit="pixels")])
    assert f"At most {MAX_REDACTION_BOXES}" in _refusal([fine] * (MAX_REDACTION_BOXES + 1))
    pixels = RedactionRequest(100, 50, 70, 20, unit="pixels")
    assert redaction_boxes_check([pixels])  # size unknown yet: only the signs are checked
    assert "the 160×96 picture" in _refusal([pixels], width=160, height=96)
    assert "after the recording ends" in _refusal([RedactionRequest(0, 0, 0.5, 0.5, start=3)], duration=2.0)


def test_boxes_in_pixels_and_fractions_become_fractions_of_the_picture() -> None:
    checked = redaction_boxes_check(
        [RedactionRequest(80, 48, 40, 24, 0.5, 1.5, "pixels"), RedactionRequest(0, 0.5, 1, 0.5)],
        width=160,
        height=96,
        duration=2.0,
    )
    assert checked == [
        {"start": 0.5, "end": 1.5, "pixels": [80, 48, 40, 24], "box": [0.5, 0.5, 0.75, 0.75]},
        {"start": 0.0, "end": None, "pixels": [0, 48, 160, 48], "box": [0.0, 0.5, 1.0, 1.0]},
    ]


# --- the form --------------------------------------------------------------------------------------


def _rows(*rows: dict[str, str], total: int | None = None) -> dict[str, str]:
    data = {"boxes-TOTAL_FORMS": str(len(rows) if total is None else total), "boxes-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        data.update({f"boxes-{index}-{key}": value for key, value in {"unit": "fraction", **row}.items()})
    return data


BOX = {"x": "0.5", "y": "0.5", "width": "0.25", "height": "0.25", "start": "0.5", "end": "1.5"}


def test_blank_rows_are_no_boxes_and_half_filled_rows_are_errors() -> None:
    formset = RedactionBoxFormSet(_rows(BOX, {}, {"unit": "pixels"}), prefix="boxes")
    assert formset.is_valid(), formset.errors
    assert formset.boxes() == [RedactionRequest(0.5, 0.5, 0.25, 0.25, 0.5, 1.5, "fraction")]
    half = RedactionBoxFormSet(_rows(BOX, {"x": "0.1"}), prefix="boxes")
    assert not half.is_valid() and set(half.errors[1]) == {"y", "width", "height"}


def test_the_form_names_what_is_wrong_with_a_box() -> None:
    backwards = RedactionBoxFormSet(_rows({**BOX, "end": "0.2"}), prefix="boxes")
    assert not backwards.is_valid() and backwards.errors[0]["end"] == ["The box must end after it starts."]
    outside = RedactionBoxFormSet(_rows({**BOX, "width": "0.6"}), prefix="boxes")
    assert not outside.is_valid() and "outside the picture" in outside.errors[0]["width"][0]
    many = RedactionBoxFormSet(_rows(*[BOX] * (MAX_REDACTION_BOXES + 1)), prefix="boxes")
    assert not many.is_valid()
    assert many.non_form_errors() == [f"At most {MAX_REDACTION_BOXES} redaction boxes per recording."]


def _page_post(studio: Any, tiny_video: Path, *rows: dict[str, str]) -> Any:
    data: dict[str, Any] = {
        "patient": str(studio.patient.pk),
        "mode": "mask",
        "keep": "",
        "recording": _recording(tiny_video),
        **_rows(*rows, {}),
    }
    return signed_in_client(studio.clinician).post("/anonymize/", data)


def test_a_bad_box_on_the_page_is_a_400_with_the_input_kept_and_nothing_stored(
    studio: Any, consented: PatientConsent, tiny_video: Path
) -> None:
    response = _page_post(studio, tiny_video, {**BOX, "x": "0.9", "end": "0.1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "outside the picture" in page and "The box must end after it starts." in page
    assert 'name="boxes-0-x" value="0.9"' in page and 'name="boxes-0-start" value="0.5"' in page
    assert not Upload.objects.exists() and not Anonymization.objects.exists()
    # Only the probed picture shows this one is outside: the service refuses it, naming the size.
    response = _page_post(studio, tiny_video, {**BOX, "unit": "pixels", "x": "150", "width": "20"})
    assert response.status_code == 400
    assert "Redaction box 1: it reaches outside the 160×96 picture" in response.content.decode()
    assert 'name="boxes-0-x" value="150"' in response.content.decode()
    assert not Upload.objects.exists() and not Anonymization.objects.exists()
    assert not default_storage.exists("uploads")


# --- through the job -------------------------------------------------------------------------------


def _frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [
            (float(frame.time or 0.0), frame.to_ndarray(format="rgb24"))
            for frame in container.decode(video=0)
        ]


def test_a_box_reaches_the_job_ledger_review_and_report_and_fills_its_time_range_only(
    studio: Any, consented: PatientConsent, tiny_video: Path
) -> None:
    # tiny_video: 160x96, 2 s. The box sits bottom-right (the label is burned top-left).
    anonymization = anonymization_request(
        actor=studio.clinician,
        patient_id=studio.patient.pk,
        file=_recording(tiny_video),
        mode="mask",
        redactions=[RedactionRequest(96, 48, 48, 32, start=0.5, end=1.2, unit="pixels")],
    )
    box = {"start": 0.5, "end": 1.2, "pixels": [96, 48, 48, 32], "box": [0.6, 0.5, 0.9, 0.83333]}
    assert anonymization.job.params["redactions"] == [box]
    requested = LedgerEntry.objects.get(object_id=str(anonymization.id), event_type="anonymization.requested")
    ledgered = json.loads(requested.entry)
    assert {"pixels": [96, 48, 48, 32], "start_ms": 500, "end_ms": 1200} in ledgered["data"]["redactions"]

    run_job(anonymization.job)
    anonymization.refresh_from_db()
    assert anonymization.job.status == JobStatus.SUCCEEDED, anonymization.job.error_message
    assert anonymization.report["redaction_boxes"] == 1
    assert anonymization.report["redacted_frames"] > 0

    frames = _frames(Path(default_storage.path(anonymization.output_key)))
    inside = [(time, frame[52:76, 100:140].astype(int)) for time, frame in frames]
    black = [time for time, patch in inside if np.abs(patch - REDACTION_COLOR).max() <= 16]
    assert black, "the box was never filled"
    assert all(0.45 <= time <= 1.25 for time in black), black
    assert any(time < 0.4 for time, _ in frames) and any(time > 1.3 for time, _ in frames)
    # Outside its time range the picture there is the recording's moving texture, not the fill.
    for time, patch in inside:
        if time < 0.4 or time > 1.3:
            assert np.abs(patch - REDACTION_COLOR).mean() > 30, time
    # Inside it, every frame is filled, and the rest of the picture is not.
    during = [frame for time, frame in frames if 0.55 <= time <= 1.15]
    assert during and all(np.abs(frame[52:76, 100:140].astype(int)).max() <= 16 for frame in during)
    assert all(np.abs(frame[5:40, 100:150].astype(int)).mean() > 30 for frame in during)

    words = " ".join(
        p for section in anonymization_report_sections(anonymization) for p in section.paragraphs
    )
    assert "1 redaction box drawn by the user" in words
    assert b"%PDF" in anonymization_report_pdf(anonymization)[:8]
    page = signed_in_client(studio.clinician).get(f"/anonymize/{anonymization.id}/").content.decode()
    assert "1 redaction box drawn by the user" in page
    assert "48×32 px at (96, 48)" in page and "from 0.5 s to 1.2 s" in page
