"""The three provenance layers together: a stripped, re-encoded copy is still recognised."""

from __future__ import annotations

from pathlib import Path

import pytest
from provenance_media import SHARED_MEDIA, textured_frames, write_mp4

from provenance.engine import fingerprint as fp
from provenance.engine import keys
from provenance.engine import watermark as wm
from provenance.engine.c2pa_sign import ConsentAssertion, ManifestState, read_manifest, sign_media
from provenance.engine.media_io import transcode
from provenance.engine.verify import Finding, inspect_media

KEY = b"candor-test-watermark-key-000002"
VIDEO_SUFFIXES = {".mp4", ".mpg", ".mov", ".avi"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory, harbor_identity: keys.SigningIdentity
) -> tuple[Path, int, fp.FingerprintIndex]:
    folder = tmp_path_factory.mktemp("pipeline")
    render = write_mp4(folder / "render.mp4", textured_frames(seconds=5.0, width=480, height=272, seed=7))
    content_id = wm.new_content_id()
    marked = wm.embed_video(render, folder / "marked.mp4", key=KEY, content_id=content_id).path
    consent = ConsentAssertion(
        clinic_id="clinic-harbor",
        ledger_entry_id="ledger-9",
        consent_ids=("consent-1",),
        disclosure_text="Synthetic presenter, made with consent.",
        content_id=wm.content_id_hex(content_id),
    )
    signed = sign_media(marked, folder / "published.mp4", identity=harbor_identity, consent=consent).path
    index = fp.FingerprintIndex()
    index.add(wm.content_id_hex(content_id), fp.fingerprint_video(signed))
    for seed in range(3):  # other platform videos, so a match has to pick the right one
        other = write_mp4(folder / f"other{seed}.mp4", textured_frames(seconds=5.0, seed=40 + seed))
        index.add(f"other-{seed}", fp.fingerprint_video(other))
    return signed, content_id, index


def test_the_published_file_is_trusted_and_names_its_watermark(
    published: tuple[Path, int, fp.FingerprintIndex], root_ca: keys.CertificateAuthority
) -> None:
    signed, content_id, _ = published

    report = read_manifest(signed, trust_anchors_pem=keys.trust_bundle_pem(root_ca))

    assert report.state is ManifestState.TRUSTED
    assert report.consent is not None and report.consent.content_id == wm.content_id_hex(content_id)


def test_a_stripped_reencoded_copy_is_recognised_by_watermark_and_fingerprint(
    published: tuple[Path, int, fp.FingerprintIndex], root_ca: keys.CertificateAuthority, tmp_path: Path
) -> None:
    signed, content_id, index = published
    copy = transcode(signed, tmp_path / "reupload.mp4", crf=28, scale=0.5, crop=0.1)

    assert read_manifest(copy, trust_anchors_pem=keys.trust_bundle_pem(root_ca)).state is ManifestState.NONE
    assert wm.detect_video(copy, key=KEY).content_id == content_id
    match = index.match(fp.fingerprint_video(copy, for_query=True))
    assert match is not None and match.video_id == wm.content_id_hex(content_id)


def test_inspection_calls_the_published_file_signed(
    published: tuple[Path, int, fp.FingerprintIndex], root_ca: keys.CertificateAuthority
) -> None:
    signed, content_id, index = published

    findings = inspect_media(
        signed, trust_anchors_pem=keys.trust_bundle_pem(root_ca), watermark_key=KEY, index=index
    )

    assert findings.finding is Finding.SIGNED
    assert findings.content_id_hex == wm.content_id_hex(content_id)
    assert findings.watermark is not None and findings.watermark.content_id == content_id


def test_inspection_calls_a_file_with_one_flipped_byte_altered(
    published: tuple[Path, int, fp.FingerprintIndex], root_ca: keys.CertificateAuthority, tmp_path: Path
) -> None:
    signed, _, index = published
    data = bytearray(signed.read_bytes())
    data[-500] ^= 0x10
    altered = tmp_path / "altered.mp4"
    altered.write_bytes(bytes(data))

    findings = inspect_media(
        altered, trust_anchors_pem=keys.trust_bundle_pem(root_ca), watermark_key=KEY, index=index
    )

    assert findings.finding is Finding.ALTERED


def test_inspection_recognises_a_stripped_copy_by_its_watermark(
    published: tuple[Path, int, fp.FingerprintIndex], root_ca: keys.CertificateAuthority, tmp_path: Path
) -> None:
    signed, content_id, index = published
    copy = transcode(signed, tmp_path / "copy.mp4", crf=30, scale=0.5)

    findings = inspect_media(
        copy, trust_anchors_pem=keys.trust_bundle_pem(root_ca), watermark_key=KEY, index=index
    )

    assert findings.finding is Finding.WATERMARK
    assert findings.content_id_hex == wm.content_id_hex(content_id)


def test_inspection_falls_back_to_the_fingerprint_without_the_watermark_key(
    published: tuple[Path, int, fp.FingerprintIndex], root_ca: keys.CertificateAuthority, tmp_path: Path
) -> None:
    signed, content_id, index = published
    copy = transcode(signed, tmp_path / "copy.mp4", crf=30, crop=0.1)

    findings = inspect_media(
        copy, trust_anchors_pem=keys.trust_bundle_pem(root_ca), watermark_key=b"a-retired-key", index=index
    )

    assert findings.finding is Finding.FINGERPRINT
    assert findings.fingerprint is not None and findings.fingerprint.video_id == wm.content_id_hex(content_id)


def _shared_files(suffixes: set[str]) -> list[Path]:
    if not SHARED_MEDIA.is_dir():
        return []
    return sorted(p for p in SHARED_MEDIA.rglob("*") if p.suffix.lower() in suffixes and "mask" not in p.name)


needs_media = pytest.mark.skipif(
    not SHARED_MEDIA.is_dir(), reason=f"real test media not found at {SHARED_MEDIA}"
)


@pytest.mark.media
@needs_media
@pytest.mark.parametrize("video", _shared_files(VIDEO_SUFFIXES), ids=lambda p: p.name)
def test_real_videos_carry_no_platform_provenance(
    video: Path, published: tuple[Path, int, fp.FingerprintIndex], root_ca: keys.CertificateAuthority
) -> None:
    _, _, index = published

    assert wm.detect_video(video, key=KEY, max_seconds=5.0).content_id is None
    assert index.match(fp.fingerprint_video(video, for_query=True)) is None
    if video.suffix.lower() == ".mp4":
        assert (
            read_manifest(video, trust_anchors_pem=keys.trust_bundle_pem(root_ca)).state is ManifestState.NONE
        )


@pytest.mark.media
@needs_media
@pytest.mark.parametrize("image", _shared_files(IMAGE_SUFFIXES), ids=lambda p: p.name)
def test_real_images_carry_no_platform_provenance(image: Path, root_ca: keys.CertificateAuthority) -> None:
    findings = inspect_media(image, trust_anchors_pem=keys.trust_bundle_pem(root_ca), watermark_key=KEY)

    assert findings.finding is Finding.NONE
