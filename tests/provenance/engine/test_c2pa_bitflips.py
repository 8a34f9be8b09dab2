"""A damaged C2PA manifest is a verdict, never an exception: every byte of a manifest box flipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.media.mp4 import Mp4Writer
from provenance.engine import keys
from provenance.engine.c2pa_sign import (
    ConsentAssertion,
    ManifestReport,
    ManifestState,
    read_manifest,
    sign_media,
)

# The box type and extended type of a C2PA manifest store in ISO BMFF (C2PA 2.1, §A.4).
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


def _manifest_box(data: bytes) -> tuple[int, int]:
    """(offset, length) of the top-level `uuid` box that holds the C2PA manifest store."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = int.from_bytes(data[offset : offset + 4], "big"), data[offset + 4 : offset + 8]
        if kind == b"uuid" and data[offset + 8 : offset + 24] == C2PA_UUID:
            return offset, size
        assert size >= 8, "malformed test file"
        offset += size
    raise AssertionError("the signed file has no C2PA box")


@pytest.fixture(scope="module")
def signed_mp4(tmp_path_factory: pytest.TempPathFactory, harbor_identity: keys.SigningIdentity) -> Path:
    """The smallest signed output there is: one 16x16 frame, no sound (a manifest of about 3 KB)."""
    folder = tmp_path_factory.mktemp("bitflips")
    plain = folder / "plain.mp4"
    with Mp4Writer(plain, width=16, height=16, fps=1, with_audio=False) as writer:
        writer.write_frame(np.full((16, 16, 3), 90, np.uint8))
    consent = ConsentAssertion(
        clinic_id="clinic-harbor",
        ledger_entry_id="7",
        consent_ids=("consent-1",),
        content_id="0123456789abcdef",
        output_kind="avatar_video",
    )
    return sign_media(plain, folder / "signed.mp4", identity=harbor_identity, consent=consent).path


def test_flipping_any_byte_of_the_manifest_box_gives_a_verdict_never_an_exception(
    signed_mp4: Path, tmp_path: Path, root_ca: keys.CertificateAuthority
) -> None:
    """Issue 9 finding 16: a one-bit flip inside the manifest made read_manifest raise KeyError
    ('Active manifest not found in manifest store'), a 500 on the verify page."""
    anchors = keys.trust_bundle_pem(root_ca)
    original = read_manifest(signed_mp4, trust_anchors_pem=anchors)
    assert original.state is ManifestState.TRUSTED
    data = signed_mp4.read_bytes()
    start, length = _manifest_box(data)
    flipped = tmp_path / "flipped.mp4"
    states: dict[ManifestState, int] = {}
    raised: list[str] = []
    for position in range(start, start + length):
        damaged = bytearray(data)
        damaged[position] ^= 1 << (position % 8)  # one bit, a different one in consecutive bytes
        flipped.write_bytes(damaged)
        try:
            report: ManifestReport = read_manifest(flipped, trust_anchors_pem=anchors)
        except Exception as exc:  # the assertion below names every byte that raised
            raised.append(f"byte {position - start}: {type(exc).__name__}: {exc}")
            continue
        states[report.state] = states.get(report.state, 0) + 1
        if report.state is ManifestState.TRUSTED:
            # Only a flip that the signature does not cover (padding) may still read as trusted,
            # and then the manifest must say exactly what it said before.
            assert (report.consent, report.signer_name, report.source_type) == (
                original.consent,
                original.signer_name,
                original.source_type,
            ), f"byte {position - start} changed a trusted claim"
        else:
            assert report.state in (ManifestState.INVALID, ManifestState.NONE)
    assert not raised, f"{len(raised)} of {length} flips raised, e.g. {raised[:3]}"
    assert sum(states.values()) == length and states.get(ManifestState.INVALID, 0) > length // 2
