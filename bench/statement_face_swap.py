"""A face swap of the enrolled person made here from ../shared/media, through the statement checks.

The enrolled person is the first 3 s of a retalking clip. The attack takes a fresh recording of
the same person (the clip's remaining seconds: a voice the platform never received), pastes that
face, frame by frame, onto another retalking clip's person (landmark similarity warp + Poisson
blending, the classic face-swap pipeline) and lays the real voice under. Reported: which checks
stop it (identity, liveness, re-use against the enrollment, the scanner's manipulation analyzers).
The words check is left out: no recording here says the product's statement.

    PYTHONPATH=platform:. .venv/bin/python bench/statement_face_swap.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.engine.speech import SAMPLE_RATE, resample

MANIPULATION = frozenset(
    {"visual_manipulation", "lip_sync", "identity_drift", "blending_flicker", "synthetic_speech"}
)
ENROLLED_SECONDS = 3.0


def swap_face(source: NDArray[np.uint8], target: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """`target` with the face of `source` pasted over its own face (unchanged without both faces)."""
    import cv2

    from core.media.faces import detect_faces

    donors, hosts = detect_faces(source), detect_faces(target)
    if not donors or not hosts:
        return target
    donor, host = donors[0], hosts[0]
    matrix = _similarity(donor.points, host.points)
    height, width = target.shape[:2]
    warped = cv2.warpAffine(
        source, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    left, top, right, bottom = host.box
    centre = (int((left + right) / 2), int((top + bottom) / 2 + 0.05 * (bottom - top)))
    axes = (max(int(0.42 * (right - left)), 2), max(int(0.55 * (bottom - top)), 2))
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    ys, xs = np.nonzero(mask)
    inner = (int((xs.min() + xs.max()) / 2), int((ys.min() + ys.max()) / 2))
    return np.asarray(cv2.seamlessClone(warped, target, mask, inner, cv2.NORMAL_CLONE), dtype=np.uint8)


def _similarity(points: NDArray[np.float64], target: NDArray[np.float64]) -> NDArray[np.float64]:
    from core.media.faces import similarity_to

    return similarity_to(points, target)


def make_swap(
    donor_clip: Path, host_clip: Path, out: Path, *, start_seconds: float = ENROLLED_SECONDS
) -> Path:
    """The donor clip's face from `start_seconds` on the host clip's person, with the donor's voice."""
    from avatars.engine.media import read_audio
    from core.media.mp4 import AUDIO_RATE, Mp4Writer, even_size
    from provenance.engine.media_io import iter_frames, video_info

    info = video_info(host_clip)
    width, height = even_size(info.width, info.height)
    donors = list(iter_frames(donor_clip, start_seconds=start_seconds))
    hosts = list(iter_frames(host_clip))
    with Mp4Writer(out, width=width, height=height, fps=float(info.fps)) as writer:
        for index, donor in enumerate(donors):
            host = hosts[index % len(hosts)][:height, :width]
            donor_resized = np.asarray(donor)
            if donor_resized.shape[:2] != host.shape[:2]:
                import cv2

                donor_resized = cv2.resize(donor_resized, (host.shape[1], host.shape[0]))
            writer.write_frame(swap_face(donor_resized, host))
        voice = read_audio(donor_clip)[int(start_seconds * SAMPLE_RATE) :]
        writer.write_audio(resample(voice, SAMPLE_RATE, AUDIO_RATE))
    return out


def main() -> None:
    from avatars.engine.statement import StatementCheckSpec, check_consent_statement
    from avatars.engine.statement_reuse import ReuseReference, check_reuse
    from detection.engine import ScanSpec, scan
    from provenance.engine.media_io import transcode

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media"
    )
    clips = sorted((parser.parse_args().media / "talking" / "retalking").glob("*.mp4"))
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        for number, donor in enumerate(clips):
            host = clips[(number + 1) % len(clips)]
            enrollment = transcode(donor, scratch / f"enrollment-{number}.mp4", max_seconds=ENROLLED_SECONDS)
            swapped = make_swap(donor, host, scratch / f"swap-{number}.mp4")
            identity = check_consent_statement(StatementCheckSpec(statement=swapped, enrollment=enrollment))
            caught = []
            if not (identity.face_passed and identity.voice_passed):
                caught.append("identity")
            if not identity.liveness_passed:
                caught.append("liveness")
            if not check_reuse(swapped, [ReuseReference("enrollment", enrollment)]).passed:
                caught.append("reuse")
            result = scan(ScanSpec(path=swapped, analyzers=MANIPULATION))
            caught += [r.name for r in result.results if r.flagged]
            report[f"{donor.name} face on {host.name}"] = {
                "caught_by": caught,
                "face_distance": identity.face_distance,
                "voice_similarity": identity.voice_similarity,
                "lip_sync": identity.lip_sync,
                "manipulation_scores": {r.name: round(r.score, 3) for r in result.results},
            }
    report["far_without_words"] = sum(not v["caught_by"] for v in report.values()) / len(clips)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
