"""Scanning generated media: what runs for each kind of file, progress, refusals and provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from detection_media import textured_frames, write_video, write_wav

from detection.engine import (
    Analyzer,
    DetectionError,
    DetectionInputError,
    EnrolledPerson,
    ProvenanceContext,
    ProvenanceState,
    ScanCancelled,
    ScanSpec,
    provenance_state_from,
    scan,
)
from provenance.engine import keys
from provenance.engine import watermark as wm
from provenance.engine.c2pa_sign import ConsentAssertion, sign_media
from provenance.engine.fingerprint import FingerprintMatch, VideoFingerprint

WATERMARK_KEY = b"candor-detection-test-key-000001"
SOMEONE = EnrolledPerson(
    "c-1", "Dr. Rivera", face_embeddings=[[0.05] * 128], voice_embeddings=[[1 / 16] * 256]
)


@pytest.fixture(scope="module")
def faceless_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("scan") / "abstract.mp4", textured_frames(seconds=2.0))


def test_a_video_without_faces_is_scanned_with_progress_and_no_face_found(faceless_video: Path) -> None:
    reports: list[tuple[float, str]] = []

    result = scan(
        ScanSpec(path=faceless_video, gallery=(SOMEONE,)), progress=lambda f, s: reports.append((f, s))
    )

    assert result.kind == "video" and result.frames_decoded == 50 and result.frames_sampled == 4
    face = result.result(Analyzer.FACE_IDENTITY)
    assert face is not None and face.skipped == "No face was found." and not face.flagged
    manipulation = result.result(Analyzer.VISUAL_MANIPULATION)
    assert manipulation is not None and manipulation.skipped
    fractions = [f for f, _ in reports]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert "frames" in {s for _, s in reports}


def test_a_progress_callback_can_cancel_a_scan(faceless_video: Path) -> None:
    def cancel(fraction: float, stage: str) -> None:
        if stage == "frames" and fraction > 0.3:
            raise ScanCancelled("Cancelled by the user.")

    with pytest.raises(ScanCancelled):
        scan(
            ScanSpec(path=faceless_video, analyzers=frozenset({Analyzer.VISUAL_MANIPULATION})),
            progress=cancel,
        )


def test_a_file_that_is_not_media_is_refused_with_a_message(tmp_path: Path) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"this is a text file pretending to be a video" * 4)

    with pytest.raises(DetectionInputError) as error:
        scan(ScanSpec(path=bogus))

    assert error.value.code == "media_type_unknown" and "clip.mp4" in error.value.message


def test_an_unknown_analyzer_is_refused(faceless_video: Path) -> None:
    with pytest.raises(DetectionError, match="Unknown analyzers: mind_reading"):
        scan(ScanSpec(path=faceless_video, analyzers=frozenset({"mind_reading"})))


def test_an_audio_file_gets_only_the_audio_analyzers_and_tts_is_flagged_as_synthetic(tmp_path: Path) -> None:
    from avatars.engine.speech import synthesize

    speech = synthesize(
        "Confirm your date of birth and insurance number by replying to this message.", language="en-us"
    )
    clip = write_wav(tmp_path / "voicemail.wav", speech.samples)

    result = scan(ScanSpec(path=clip, gallery=(SOMEONE,)))

    assert result.kind == "audio"
    assert {r.name for r in result.results} == {
        Analyzer.PROVENANCE,
        Analyzer.VOICE_IDENTITY,
        Analyzer.SYNTHETIC_SPEECH,
    }
    synthetic = result.result(Analyzer.SYNTHETIC_SPEECH)
    assert synthetic is not None and synthetic.flagged and synthetic.timeline
    voice = result.result(Analyzer.VOICE_IDENTITY)
    assert voice is not None and not voice.flagged


@pytest.fixture(scope="module")
def platform_keys() -> tuple[keys.CertificateAuthority, keys.SigningIdentity]:
    root = keys.generate_root_ca()
    return root, keys.issue_clinic_identity(
        root, clinic_id="clinic-harbor", clinic_name="Harbor Family Clinic"
    )


@pytest.fixture(scope="module")
def signed_render(
    tmp_path_factory: pytest.TempPathFactory,
    platform_keys: tuple[keys.CertificateAuthority, keys.SigningIdentity],
) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("signed")
    render = write_video(folder / "render.mp4", textured_frames(seconds=2.0, seed=4))
    content_id = wm.new_content_id()
    marked = wm.embed_video(render, folder / "marked.mp4", key=WATERMARK_KEY, content_id=content_id).path
    consent = ConsentAssertion(
        clinic_id="clinic-harbor",
        ledger_entry_id="ledger-1",
        consent_ids=("consent-7",),
        content_id=wm.content_id_hex(content_id),
    )
    signed = sign_media(marked, folder / "published.mp4", identity=platform_keys[1], consent=consent).path
    return signed, wm.content_id_hex(content_id)


def _context(root: keys.CertificateAuthority, lookup: object = None) -> ProvenanceContext:
    return ProvenanceContext(
        trust_anchors_pem=keys.trust_bundle_pem(root), watermark_key=WATERMARK_KEY, fingerprint_lookup=lookup
    )  # type: ignore[arg-type]


def test_a_signed_platform_render_is_recognised_with_its_consent_reference(
    signed_render: tuple[Path, str], platform_keys: tuple[keys.CertificateAuthority, keys.SigningIdentity]
) -> None:
    path, content_id = signed_render

    result = scan(
        ScanSpec(path=path, analyzers=frozenset({Analyzer.PROVENANCE}), provenance=_context(platform_keys[0]))
    )

    provenance = result.result(Analyzer.PROVENANCE)
    assert provenance is not None and provenance.score == 1.0
    assert provenance.details["finding"] == "signed"
    assert provenance.details["content_id"] == content_id
    assert provenance.details["consent_ids"] == ["consent-7"]
    assert provenance_state_from(provenance, consent_active=True) is ProvenanceState.CONSENT_ACTIVE


def test_a_signed_render_with_changed_bytes_is_tampered(
    signed_render: tuple[Path, str],
    platform_keys: tuple[keys.CertificateAuthority, keys.SigningIdentity],
    tmp_path: Path,
) -> None:
    data = bytearray(signed_render[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    altered = tmp_path / "altered.mp4"
    altered.write_bytes(bytes(data))

    result = scan(
        ScanSpec(
            path=altered, analyzers=frozenset({Analyzer.PROVENANCE}), provenance=_context(platform_keys[0])
        )
    )

    provenance = result.result(Analyzer.PROVENANCE)
    assert provenance is not None and provenance.details["finding"] == "altered"
    assert provenance_state_from(provenance, consent_active=True) is ProvenanceState.TAMPERED


def test_an_unmarked_video_has_no_provenance_and_the_fingerprint_lookup_is_asked(
    faceless_video: Path, platform_keys: tuple[keys.CertificateAuthority, keys.SigningIdentity]
) -> None:
    asked: list[VideoFingerprint] = []

    def lookup(query: VideoFingerprint) -> FingerprintMatch | None:
        asked.append(query)
        return None

    result = scan(
        ScanSpec(
            path=faceless_video,
            analyzers=frozenset({Analyzer.PROVENANCE}),
            provenance=_context(platform_keys[0], lookup),
        )
    )

    provenance = result.result(Analyzer.PROVENANCE)
    assert provenance is not None and provenance.details["finding"] == "none" and provenance.score == 0.0
    assert len(asked) == 1 and asked[0].samples > 0


def test_a_fingerprint_match_from_the_lookup_counts_as_platform_provenance(
    faceless_video: Path, platform_keys: tuple[keys.CertificateAuthority, keys.SigningIdentity]
) -> None:
    def lookup(query: VideoFingerprint) -> FingerprintMatch | None:
        return FingerprintMatch(
            "video-42",
            votes=query.samples,
            query_samples=query.samples,
            offset_seconds=0.0,
            mean_distance=3.0,
        )

    result = scan(
        ScanSpec(
            path=faceless_video,
            analyzers=frozenset({Analyzer.PROVENANCE}),
            provenance=_context(platform_keys[0], lookup),
        )
    )

    provenance = result.result(Analyzer.PROVENANCE)
    assert provenance is not None and provenance.details["finding"] == "fingerprint"
    assert provenance.details["fingerprint_video_id"] == "video-42" and provenance.score == 1.0


def test_a_missing_provenance_context_is_reported_as_not_measured(faceless_video: Path) -> None:
    result = scan(ScanSpec(path=faceless_video, analyzers=frozenset({Analyzer.PROVENANCE})))

    provenance = result.result(Analyzer.PROVENANCE)
    assert provenance is not None and provenance.skipped and not provenance.flagged
    assert np.isclose(provenance.score, 0.0)


def test_an_empty_file_is_refused_with_a_message(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")

    with pytest.raises(DetectionInputError, match="missing or empty"):
        scan(ScanSpec(path=empty))


def test_a_truncated_video_is_scanned_as_far_as_it_goes_or_refused_but_never_crashes(
    faceless_video: Path, tmp_path: Path
) -> None:
    data = faceless_video.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) * 6 // 10])

    try:
        result = scan(ScanSpec(path=truncated))
    except DetectionError as error:
        assert error.message
    else:
        assert result.frames_decoded < 50
