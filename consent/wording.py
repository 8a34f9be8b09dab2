"""Ledger events and consent codes as sentences for the people they are about.

The ledger keeps exact codes (``likeness_consent.used``, ``revoked_by_clinician``) for auditors; a
clinician reading their own history gets a sentence, and the record itself stays one click away
under "technical details".
"""

from __future__ import annotations

from typing import Any

#: Why a consent ended, as a sentence (the codes are `consent.services.likeness`'s reasons).
REASON_SENTENCES = {
    "revoked_by_clinician": "The clinician revoked it.",
    "clinician_departed": "Ended because the clinician left the clinic.",
    "clinician_deceased": "Ended because the clinician died.",
    "validity_period_ended": "Its period of validity ended.",
}

#: What happened, told to the person it is about ("you"), by event type.
_YOU = {
    "likeness_consent.signed": "You signed a likeness consent.",
    "likeness_consent.evidence_attached": "Your recorded consent statement was received.",
    "likeness_consent.evidence_checked": "Your consent statement was checked automatically.",
    "likeness_consent.activated": "Your likeness consent became active.",
    "likeness_consent.superseded": "An earlier likeness consent was replaced by your new one.",
    "likeness_consent.revoked": "Your likeness consent was revoked.",
    "likeness_consent.expired": "Your likeness consent expired.",
    "likeness_consent.used": "A video was made with your likeness.",
    "enrollment.footage_uploaded": "Enrollment footage of you was uploaded.",
    "enrollment.portrait_uploaded": "A portrait photo of you was uploaded.",
    "enrollment.signed_off": "You approved the use of your enrollment material.",
    "enrollment.ready": "Your enrollment footage was analysed and is ready to use.",
    "enrollment.awaiting_signoff": "Your enrollment footage was analysed; it waits for your approval.",
    "enrollment.rejected": "Your enrollment footage was analysed and must be recorded again.",
    "enrollment.deleted": "Your enrollment material was deleted.",
    "script.saved": "A script that you present was saved.",
    "script.approved": "You approved a script.",
    "render.requested": "A video with your likeness was requested.",
    "render.signing": "A video with your likeness was being signed.",
    "render.finished": "A video with your likeness was finished and waits for review.",
    "render.failed": "A video with your likeness could not be made.",
    "render.cancelled": "A video with your likeness was cancelled.",
    "video.approved": "A video with your likeness was approved.",
    "video.rejected": "A video with your likeness was rejected in review.",
    "video.withdrawn": "A video with your likeness was withdrawn.",
}


_LANGUAGE_NAMES = {
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
}


def use_label(field: str, code: str) -> str:
    """How a scope code reads on the page: 'waiting-room' is 'Waiting room', 'en' is 'English'."""
    if field == "language":
        return _LANGUAGE_NAMES.get(code, code)
    return code.replace("-", " ").replace("_", " ").capitalize()


def use_labels(field: str, codes: list[str]) -> str:
    """A consent's list of codes as words, for a page ('en, es' reads 'English, Spanish')."""
    return ", ".join(use_label(field, code) for code in codes)


#: What left the clinic, by a disclosure's `what` code; exports also say how many consents they hold.
_DISCLOSED: dict[str, tuple[str, tuple[str, str] | None]] = {
    "publication": ("A video, published for viewing", None),
    "anonymization.publication": ("An anonymized consultation video, for teaching", None),
    "export.pdf": ("Evidence report (PDF)", ("consent", "consents")),
    "export.csv": ("Evidence export (CSV spreadsheet)", ("consent", "consents")),
    "export.json": ("Evidence export (JSON)", ("consent", "consents")),
    "export.fhir": ("Evidence export (FHIR consent records)", ("consent", "consents")),
}


def disclosure_sentence(what: str, count: int) -> str:
    """A disclosure in words: 'Evidence report (PDF) covering 3 consents'."""
    title, noun = _DISCLOSED.get(
        what, (what.replace(".", " ").replace("_", " ").capitalize(), ("record", "records"))
    )
    if noun is None:
        return title
    return f"{title} covering {count} {noun[0] if count == 1 else noun[1]}"


def reason_sentence(reason: str) -> str:
    """Why a consent ended, in a sentence; an unknown code still reads as words."""
    if not reason:
        return ""
    return REASON_SENTENCES.get(reason) or reason.replace("_", " ").capitalize() + "."


def event_sentence(event_type: str) -> str:
    """What a ledger event means to the person it is about."""
    if event_type in _YOU:
        return _YOU[event_type]
    family, _, what = event_type.partition(".")
    return f"{family.replace('_', ' ').capitalize()}: {what.replace('_', ' ').replace('.', ' ')}."


def history_rows(
    entries: list[dict[str, Any]], *, viewer_id: int, names: dict[str, str]
) -> list[dict[str, Any]]:
    """A person's ledger history as sentences: when, what, and who did it when it was not them."""
    rows = []
    for entry in entries:
        actor = str(entry.get("actor_id") or "")
        by = names.get(actor, "") if actor and actor != str(viewer_id) else ""
        rows.append(
            {
                "when": entry["created_at"],
                "sentence": event_sentence(entry["event_type"]),
                "by": by,
                "event_type": entry["event_type"],
            }
        )
    return rows
