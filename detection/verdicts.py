"""How each verdict is shown: a tone for its badge (the wording is the engine's)."""

from __future__ import annotations

from detection.models import VerdictKindChoice

_TONES: dict[str, str] = {
    VerdictKindChoice.AUTHORIZED: "ok",
    VerdictKindChoice.CONSENT_WITHDRAWN: "danger",
    VerdictKindChoice.PROVENANCE_TAMPERED: "danger",
    VerdictKindChoice.SUSPECTED_DEEPFAKE: "danger",
    VerdictKindChoice.CLINICIAN_UNVERIFIED: "warning",
    VerdictKindChoice.NO_CLINICIAN: "neutral",
}


def verdict_style(kind: str) -> str:
    return _TONES.get(kind, "neutral")
