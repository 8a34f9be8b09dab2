"""C2PA signing and read-back of MP4 and JPEG outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from provenance_media import textured_frames, write_mp4

from provenance.engine import keys
from provenance.engine.c2pa_sign import (
    ConsentAssertion,
    ManifestState,
    SourceType,
    read_manifest,
    sign_media,
)

DISCLOSURE = "Synthetic video of Dr. A, made with her consent. Questions: call the clinic."


def _consent(clinic_id: str) -> ConsentAssertion:
    return ConsentAssertion(
        clinic_id=clinic_id,
        ledger_entry_id="ledger-000123",
        consent_ids=("consent-7",),
        consent_hashes=("sha256:" + "ab" * 32,),
        disclosure_text=DISCLOSURE,
        content_id="0123456789abcdef",
        output_kind="avatar_video",
    )


@pytest.fixture(scope="module")
def plain_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mp4(tmp_path_factory.mktemp("c2pa") / "render.mp4", textured_frames(seconds=1.0))


@pytest.fixture(scope="module")
def plain_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("c2pa") / "poster.jpg"
    Image.fromarray(next(textured_frames(seconds=0.04))).save(path, quality=90)
    return path


@pytest.mark.parametrize("kind", ["plain_mp4", "plain_jpeg"])
def test_signed_output_reads_back_trusted_with_source_type_and_consent(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    root_ca: keys.CertificateAuthority,
    harbor_identity: keys.SigningIdentity,
) -> None:
    source: Path = request.getfixturevalue(kind)
    signed = tmp_path / f"signed{source.suffix}"
    sign_media(source, signed, identity=harbor_identity, consent=_consent("clinic-harbor"))

    report = read_manifest(signed, trust_anchors_pem=keys.trust_bundle_pem(root_ca))

    assert report.state is ManifestState.TRUSTED
    assert report.is_platform_signed
    assert report.signer_name == "Harbor Family Clinic"
    assert report.source_type == SourceType.TRAINED_ALGORITHMIC_MEDIA.value
    assert report.action == "c2pa.created"
    assert report.consent == _consent("clinic-harbor")


def test_without_the_platform_root_a_signed_file_is_only_valid(
    tmp_path: Path, plain_mp4: Path, harbor_identity: keys.SigningIdentity
) -> None:
    signed = sign_media(
        plain_mp4, tmp_path / "s.mp4", identity=harbor_identity, consent=_consent("clinic-harbor")
    ).path
    stranger = keys.generate_root_ca(common_name="Someone Else Root")

    assert (
        read_manifest(signed, trust_anchors_pem=keys.trust_bundle_pem(stranger)).state is ManifestState.VALID
    )


@pytest.mark.parametrize("kind", ["plain_mp4", "plain_jpeg"])
def test_one_flipped_byte_in_the_media_reads_invalid(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    root_ca: keys.CertificateAuthority,
    harbor_identity: keys.SigningIdentity,
) -> None:
    source: Path = request.getfixturevalue(kind)
    signed = sign_media(
        source, tmp_path / f"s{source.suffix}", identity=harbor_identity, consent=_consent("clinic-harbor")
    ).path
    data = bytearray(signed.read_bytes())
    data[-200] ^= 0x01  # the last bytes are media payload (mdat / JPEG scan), covered by the hash
    signed.write_bytes(bytes(data))

    report = read_manifest(signed, trust_anchors_pem=keys.trust_bundle_pem(root_ca))

    assert report.state is ManifestState.INVALID
    assert not report.is_platform_signed


def test_another_clinics_output_names_that_clinic(
    tmp_path: Path, plain_mp4: Path, root_ca: keys.CertificateAuthority, summit_identity: keys.SigningIdentity
) -> None:
    signed = sign_media(
        plain_mp4, tmp_path / "s.mp4", identity=summit_identity, consent=_consent("clinic-summit")
    ).path

    report = read_manifest(signed, trust_anchors_pem=keys.trust_bundle_pem(root_ca))

    assert report.state is ManifestState.TRUSTED
    assert report.signer_name == "Summit Health"
    assert report.clinic_id == "clinic-summit"


def test_partly_regenerated_footage_is_signed_as_an_edit_with_the_composite_type(
    tmp_path: Path, plain_mp4: Path, root_ca: keys.CertificateAuthority, harbor_identity: keys.SigningIdentity
) -> None:
    signed = sign_media(
        plain_mp4,
        tmp_path / "anon.mp4",
        identity=harbor_identity,
        consent=_consent("clinic-harbor"),
        source_type=SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    ).path

    report = read_manifest(signed, trust_anchors_pem=keys.trust_bundle_pem(root_ca))

    assert report.state is ManifestState.TRUSTED
    assert report.action == "c2pa.edited"
    assert report.source_type == SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA.value


def test_a_rotated_clinic_certificate_keeps_older_outputs_trusted(
    tmp_path: Path, plain_mp4: Path, root_ca: keys.CertificateAuthority, harbor_identity: keys.SigningIdentity
) -> None:
    old = sign_media(
        plain_mp4, tmp_path / "old.mp4", identity=harbor_identity, consent=_consent("clinic-harbor")
    ).path
    rotated = keys.issue_clinic_identity(
        root_ca, clinic_id="clinic-harbor", clinic_name="Harbor Family Clinic"
    )
    new = sign_media(
        plain_mp4, tmp_path / "new.mp4", identity=rotated, consent=_consent("clinic-harbor")
    ).path
    anchors = keys.trust_bundle_pem(root_ca)

    assert read_manifest(old, trust_anchors_pem=anchors).state is ManifestState.TRUSTED
    assert read_manifest(new, trust_anchors_pem=anchors).state is ManifestState.TRUSTED


def test_an_unsigned_file_has_no_manifest(plain_mp4: Path, root_ca: keys.CertificateAuthority) -> None:
    assert (
        read_manifest(plain_mp4, trust_anchors_pem=keys.trust_bundle_pem(root_ca)).state is ManifestState.NONE
    )


def test_an_unsupported_file_has_no_manifest(tmp_path: Path, root_ca: keys.CertificateAuthority) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")

    assert read_manifest(junk, trust_anchors_pem=keys.trust_bundle_pem(root_ca)).state is ManifestState.NONE
