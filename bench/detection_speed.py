"""Speed and memory of one full scan of a 60 s 720p video (SPEC §4 target: ≤ 30 s).

Run from the repository root:

    .venv/bin/python bench/detection_speed.py [--seconds 60] [--keep FILE]

It makes the test video in a temporary folder: the real talking-head clip
../shared/media/talking/retalking/2.mp4 (5 s, 844x844), scaled to 720x720 and centred on a
1280x720 frame, looped until `--seconds` are filled, with its own sound looped (H.264 crf 23 +
AAC, streamed: nothing is held in memory). A 3 s GRID clip is scanned first
to load every model (the cold start is reported separately), then the 60 s video is scanned with
every analyzer, a gallery of 5 enrolled people (faces/named/train photos, LibriSpeech voices) and
the provenance check (watermark key, trust anchors, a fingerprint lookup), as a worker would.

Prints wall time, time per stage (decode, face detection, each analyzer), frames decoded and
sampled, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import platform as std_platform
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
warnings.simplefilter("ignore")

SHARED_MEDIA = ROOT.parent / "shared" / "media"
SOURCE = SHARED_MEDIA / "talking" / "retalking" / "2.mp4"


def make_video(path: Path, seconds: float) -> Path:
    """Loop the source clip into a 1280x720 25 fps H.264 + AAC file (decoded again per loop: flat memory)."""
    import cv2

    from avatars.engine.media import iter_video_frames, read_audio
    from core.media.mp4 import Mp4Writer

    sound = read_audio(SOURCE)
    total = int(seconds * 25)
    written = 0
    with Mp4Writer(path, width=1280, height=720, fps=25) as writer:
        while written < total:
            looped = 0
            for frame in iter_video_frames(SOURCE):
                if written >= total:
                    break
                canvas = np.zeros((720, 1280, 3), np.uint8)
                canvas[:, 280:1000] = cv2.resize(frame, (720, 720), interpolation=cv2.INTER_AREA)
                writer.write_frame(canvas)
                written += 1
                looped += 1
            # Exactly this loop's share of the sound: the clip's track is a little longer than
            # its pictures, and looping it whole would let the sound drift out of sync.
            writer.write_audio(sound[: looped * 48_000 // 25])
    return path


def gallery() -> tuple[object, ...]:
    from detection.engine import EnrolledPerson, face_templates
    from detection.engine.identity import voice_windows
    from detection.engine.media import read_audio

    people = []
    train = SHARED_MEDIA / "faces" / "named" / "train"
    speakers = sorted((SHARED_MEDIA / "speech" / "librispeech").glob("[0-9]*"))
    for folder, speaker in zip(sorted(train.iterdir()), speakers, strict=False):
        voice = voice_windows(read_audio(sorted(speaker.glob("*.flac"))[0])).utterance
        people.append(
            EnrolledPerson(
                folder.name,
                folder.name,
                face_embeddings=face_templates(sorted(folder.iterdir())),
                voice_embeddings=[[float(x) for x in voice]] if voice is not None else [],
            )
        )
    return tuple(people)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, help="also keep the generated video here")
    arguments = parser.parse_args()
    if not SOURCE.is_file():
        print(f"{SOURCE} is missing; the benchmark needs ../shared/media.", file=sys.stderr)
        return 2
    from detection.engine import ProvenanceContext, ScanSpec, scan
    from provenance.engine import keys
    from provenance.engine.fingerprint import FingerprintIndex

    root = keys.generate_root_ca()
    index = FingerprintIndex()
    context = ProvenanceContext(keys.trust_bundle_pem(root), b"candor-detection-speed-key-00001", index.match)
    people = gallery()
    with tempfile.TemporaryDirectory(prefix="candor-speed-") as scratch:
        started = time.perf_counter()
        video = make_video(Path(scratch) / "scan-720p.mp4", arguments.seconds)
        print(
            f"made {video.name}: {arguments.seconds:.0f} s 1280x720 in {time.perf_counter() - started:.0f} s"
        )
        if arguments.keep:
            arguments.keep.write_bytes(video.read_bytes())

        started = time.perf_counter()
        scan(
            ScanSpec(
                path=SHARED_MEDIA / "talking" / "grid" / "swiz3n.mpg", gallery=people, provenance=context
            )
        )
        cold = time.perf_counter() - started

        started = time.perf_counter()
        result = scan(ScanSpec(path=video, gallery=people, provenance=context))
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nmachine: {std_platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"cold start (first scan, a 3 s clip, loads every model): {cold:.1f} s")
    print(
        f"scan of {arguments.seconds:.0f} s 720p: {wall:.1f} s wall ({wall / arguments.seconds:.2f} x real time; target <= 30 s for 60 s)"
    )
    print(f"frames decoded {result.frames_decoded}, sampled {result.frames_sampled}")
    print("time per stage (s):")
    for stage, seconds in sorted(result.timings.items(), key=lambda item: -item[1]):
        print(f"  {stage:22s} {seconds:6.2f}")
    print(f"  {'(other)':22s} {wall - sum(result.timings.values()):6.2f}")
    print(f"peak resident memory of the process: {peak:.0f} MB")
    print(
        "scores: "
        + ", ".join(f"{r.name}={r.score:.2f}{' (skipped)' if r.skipped else ''}" for r in result.results)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
