"""What the enrollment page tells a clinician: the script to read, what footage is accepted, and the
analysis's quality report in plain language.

The numbers come from the analysis engine's own limits (`avatars.engine.enrollment`) and from what
its analysis measured, so the page cannot promise something the engine refuses. The product speaks
English only (its interface, and the consent statement's word check); the script is in English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from avatars.models import Enrollment, EnrollmentKind, EnrollmentStatus

#: Read aloud in about a minute at a calm pace (about 170 words). Between them the sentences hold
#: every English consonant and vowel, the lip-closing sounds (p, b, m), lip-to-teeth sounds (f, v),
#: rounded (oo, oh, w) and spread (ee) lips, 'th', 'sh', 'ch', 'j' and the 'zh' of 'vision', so the
#: footage shows the mouth in every shape a video later needs.
READING_SCRIPT = (
    "Hello, and thank you for watching. I am one of the doctors at this clinic, and today I will "
    "explain a few things that matter for your health.",
    "Please bring a list of every medicine you take, even vitamins and herbal supplements.",
    "We measure your blood pressure, your weight and your pulse at each visit.",
    "Should you feel dizzy, thirsty or unusually tired, call us the same day.",
    "Children usually need their vaccines in the first years of life; ask which ones are due.",
    "A good night's sleep, fresh fruit and a short walk each morning help more than you might think.",
    "Jack's vision improved as soon as he wore his new glasses for reading.",
    "The nurse will show you how to use the inhaler: breathe out, seal your lips, press once, and "
    "breathe in slowly and deeply.",
    "Wash your hands with soap and warm water for twenty seconds, then dry them on a clean towel.",
    "If you have questions, jot them down and bring them to your next appointment; we are happy to help.",
    "Thank you, and take good care of yourself.",
)


@dataclass(frozen=True)
class QualityCheck:
    """One line of the quality report: what was checked, and how it went."""

    label: str
    state: str  # "passed", "failed" or "unchecked"
    detail: str


@dataclass(frozen=True)
class QualityReport:
    accepted: bool
    checks: list[QualityCheck]  # the checks that ran: passed, then the one that failed
    redo: str  # what to record again, or "" when nothing
    unchecked: list[str]  # the checks not reached after a failure


#: The engine's checks in the order it runs them (an analysis stops at the first that fails), by
#: the code its refusal carries: what the line is called and what a pass means.
_CHECKS = (
    ("footage_too_dark", "Light in the room", "Bright enough to see the face."),
    ("no_face", "A face in the picture", "The face was found."),
    ("several_faces", "One face only", "Only one face appears."),
    ("face_missing", "Face visible throughout", "The face stays in the picture."),
    ("face_too_small", "Face size", "Close enough to the camera."),
    ("face_too_dark", "Light on the face", "The face is well lit."),
    ("footage_blurred", "Sharpness", "The picture is sharp."),
    ("head_turned", "Facing the camera", "Looking towards the lens."),
    ("footage_too_short", "Length", "Long enough."),
    ("audio_clipped", "Sound level", "Clear, not distorted."),
)


_LENGTH = "footage_too_short"


def enrollment_min_seconds() -> float:
    """Seconds of clearly visible face the analysis asks for (0 where no minimum is set)."""
    return float(getattr(settings, "AVATAR_ENROLLMENT_MIN_SECONDS", 0) or 0)


def enrollment_requirements() -> list[tuple[str, str]]:
    """What footage is accepted, as (topic, sentence) pairs, from the engine's own limits."""
    from avatars.engine.enrollment import MAX_ENROLLMENT_SECONDS, MIN_EYE_DISTANCE_PX

    minimum = enrollment_min_seconds()
    length = "Read the whole script: about a minute. "
    if minimum:
        length += f"At least {minimum:.0f} seconds must show your face clearly; anything"
    else:
        length += "Anything"
    length += f" after {MAX_ENROLLMENT_SECONDS // 60} minutes is not used."
    return [
        ("Length", length),
        (
            "Framing",
            "Sit facing the camera with your head and shoulders in the picture; your face should fill about "
            f"a third of its height (your eyes at least {MIN_EYE_DISTANCE_PX} pixels apart: 720p or better). "
            "Look into the lens and keep the camera still, on a stand if you can.",
        ),
        ("Lighting", "Light in front of you: a window or lamp behind the camera, never behind you."),
        ("One face", "Only you: no other people, and no photos or screens showing faces behind you."),
        (
            "Sound",
            "A quiet room and your normal speaking voice. If the microphone is very close or set too loud, the "
            "sound distorts and the footage is refused.",
        ),
        (
            "File",
            "A video with sound (MP4, MOV, WebM, AVI or MPEG). A separate voice sample is optional; without "
            "one, the video's sound is your enrolled voice.",
        ),
    ]


def enrollment_quality_report(enrollment: Enrollment) -> QualityReport | None:
    """The analysis of footage in plain language, or None while it runs (or for a photo or the
    stock presenter, which have no footage analysis)."""
    if enrollment.kind != EnrollmentKind.FOOTAGE or enrollment.status == EnrollmentStatus.ANALYZING:
        return None
    result: dict[str, Any] = (enrollment.job.result if enrollment.job else None) or {}
    accepted = enrollment.status != EnrollmentStatus.REJECTED
    if not accepted and not enrollment.advice:
        return None
    failed = "" if accepted else str(result.get("code") or "")
    advice = _named(enrollment.advice, enrollment)
    measures = result.get("measures") or {}
    checks: list[QualityCheck] = []
    unchecked: list[str] = []
    # The length can be refused before any picture check runs (a file shorter than the minimum is
    # not analysed at all) or after them all, so a refusal never claims a pass for what may not have
    # run: after a length refusal nothing else counts as passed, and after any other refusal the
    # length is not claimed either.
    order = [c for c in _CHECKS if c[0] == _LENGTH] + [c for c in _CHECKS if c[0] != _LENGTH]
    for code, label, passed in order if failed == _LENGTH else _CHECKS:
        if checks and checks[-1].state == "failed" or (failed and code == _LENGTH and failed != _LENGTH):
            unchecked.append(label)
        elif code == failed:
            checks.append(QualityCheck(label, "failed", advice))
        else:
            checks.append(QualityCheck(label, "passed", _measured(code, passed, measures)))
    if not accepted and not failed:
        # A refusal whose check is not named (an analysis from before the report): say it once.
        checks, unchecked = [QualityCheck("Analysis", "failed", advice)], []
    return QualityReport(accepted, checks, "" if accepted else advice, unchecked)


def _named(advice: str, enrollment: Enrollment) -> str:
    """The analysis names the worker's copy of the file ('input.mp4'); say the uploaded file's name."""
    upload = enrollment.footage
    if upload is None or not upload.original_name:
        return advice
    return re.sub(r"'input\.\w+'", lambda _: f"'{upload.original_name}'", advice)


def _measured(code: str, detail: str, measures: dict[str, Any]) -> str:
    if code == "footage_too_short" and "usable_seconds" in measures:
        return (
            f"{measures['usable_seconds']:.0f} seconds show your face clearly, "
            f"of {measures['analysed_seconds']:.0f} seconds analysed."
        )
    if code == "face_too_small" and "eye_distance" in measures:
        return (
            f"{detail} Your eyes are about {measures['eye_distance']:.0f} pixels apart in a "
            f"{measures['width']}×{measures['height']} picture."
        )
    return detail


def enrollment_measures(analysis: Any) -> dict[str, Any]:
    """What an accepted analysis measured, kept with its job for the quality report."""
    fps = float(analysis.fps) or 1.0
    return {
        "usable_seconds": round(float(analysis.usable.sum()) / fps, 1),
        "analysed_seconds": round(analysis.frame_count / fps, 1),
        "eye_distance": round(float(analysis.eye_distance), 1),
        "width": int(analysis.width),
        "height": int(analysis.height),
    }
