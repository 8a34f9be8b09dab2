"""Key rotation drills: the ledger's head-signing key and the platform's C2PA root are replaced, and
what was signed before stays verifiable through the retired keys the settings keep (README,
"Running in production")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from consent import merkle
from consent.ledger import ledger_append, ledger_sign_head, ledger_verify
from provenance.services import OutputProvenance, output_manifest, output_sign


@pytest.mark.django_db
def test_heads_signed_before_a_ledger_key_rotation_still_verify_with_the_retired_key(
    clinic_a: Any, settings: Any
) -> None:
    old_key, new_key = merkle.generate_signing_key(), merkle.generate_signing_key()
    settings.LEDGER_SIGNING_KEY_PEM = merkle.private_key_to_pem(old_key).decode()
    ledger_append(event_type="drill.before", clinic_id=clinic_a.clinic.id, subject=clinic_a.clinician.pk)
    assert ledger_sign_head() is not None

    # Rotation: the new key signs from now on; the old one's public half is kept as retired.
    settings.LEDGER_SIGNING_KEY_PEM = merkle.private_key_to_pem(new_key).decode()
    ledger_append(event_type="drill.after", clinic_id=clinic_a.clinic.id, subject=clinic_a.clinician.pk)
    assert ledger_sign_head() is not None
    settings.LEDGER_RETIRED_PUBLIC_KEYS_PEM = []
    assert not ledger_verify().ok, "the old head must not verify without its key"
    settings.LEDGER_RETIRED_PUBLIC_KEYS_PEM = [merkle.public_key_to_pem(old_key.public_key()).decode()]
    assert ledger_verify().ok


@pytest.mark.django_db
def test_outputs_signed_under_a_retired_platform_root_stay_trusted_when_it_is_kept(
    settings: Any, tmp_path: Path
) -> None:
    source = tmp_path / "still.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(source)
    provenance = OutputProvenance(
        clinic_id="00000000-0000-0000-0000-00000000c11c",
        clinic_name="Clinic drill",
        ledger_entry_id="1",
        consent_ids=(),
        consent_hashes=(),
        disclosure_text="AI-generated.",
        output_kind="poster",
    )
    settings.PROVENANCE_KEY_DIR = tmp_path / "keys-2025"
    signed = output_sign(source=source, dest=tmp_path / "signed.jpg", provenance=provenance, title="drill")
    old_root = (tmp_path / "keys-2025" / "root" / "root.crt").read_text()
    assert output_manifest(signed).state.value == "Trusted"

    # Rotation: a new key folder (a new root and new clinic certificates); the old root is retired.
    settings.PROVENANCE_KEY_DIR = tmp_path / "keys-2026"
    settings.PROVENANCE_EXTRA_TRUST_PEM = []
    assert output_manifest(signed).state.value == "Valid", "signed by someone the new root does not know"
    settings.PROVENANCE_EXTRA_TRUST_PEM = [old_root]
    assert output_manifest(signed).state.value == "Trusted"
    fresh = output_sign(source=source, dest=tmp_path / "fresh.jpg", provenance=provenance, title="drill")
    assert output_manifest(fresh).state.value == "Trusted"
