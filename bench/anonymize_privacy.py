"""Privacy of patient anonymization on real media: faces left, identity distances, voice EER, STOI.

    .venv/bin/python bench/anonymize_privacy.py [--media ../shared/media] [--parts faces keep voice]
        [--modes synthetic mask blur] [--inputs abqwwspghj.mp4 ...]

Reads `../shared/media` (internal evaluation only; nothing is copied into the project).

faces: every talking clip (GRID, retalking), every face photo (as a 10-frame video) and the two
    DFDC actor videos are anonymized in each mode; dlib's HOG detector (a different model from the
    engine's BlazeFace) then looks at every output frame, upsampling small pictures. A frame leaks
    when dlib finds a face there that is still the person: dlib distance < 0.6 to the input face at
    that place (in mask and blur modes any face dlib finds counts). Per replaced face, the distance
    between the input face and the output at the very same landmarks is reported (target > 0.6).
keep: a clinician enrolled from other pictures is kept while the other person is replaced:
    photos of two people with one of them enrolled from `faces/named/train`, and each retalking
    clip enrolled from its first second; the kept face's distance to the enrolment must stay
    < 0.45 in every output frame where dlib finds it.
voice: LibriSpeech, 10 speakers x 10 utterances, each utterance anonymized as its own video (fresh
    secret parameters). Speaker verification with resemblyzer embeddings, enrolment = mean of
    utterances 1-5, trials = utterances 6-10 against every speaker (50 target, 450 non-target):
    EER on original speech; ignorant attacker (enrols originals, tests anonymized); lazy-informed
    attacker (enrols anonymized speech: each enrolment utterance with its own parameters, and
    all five with one set); target >= 30% each. Intelligibility: STOI of anonymized against
    original (pystoi). Clinician-voice attribution: speaker A enrolled, A and B alternating.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

MODES = ("synthetic", "mask", "blur")
SAME_PERSON = 0.6


def _rgb_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _image_video(image: Path, target: Path, frames: int = 10) -> Path:
    """A photo as a short video (even size, lossless)."""
    import av

    from avatars.engine.media import read_image

    rgb = read_image(image)
    rgb = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]
    container = av.open(str(target), mode="w", format="matroska")
    stream = container.add_stream("ffv1", rate=25)
    stream.width, stream.height = rgb.shape[1], rgb.shape[0]
    stream.pix_fmt = "bgr0"
    for _ in range(frames):
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return target


def _frame_stream(path: Path) -> Iterator[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _judge(
    original: Path, output: Path, mode: str, seen: dict[int, tuple[int, list[Any]]] | None = None
) -> dict[str, Any]:
    """Compare input and output frame by frame with dlib (streaming: a 1080p clip's frames are
    never all held at once). `seen` keeps what dlib found in the input's frames, so the input is
    looked at once for all modes."""
    from avatars.engine.anonymize import identity
    from core.media.faces import detect_faces

    seen = {} if seen is None else seen
    leaks, found_after, faces_before, aligned, frames = 0, 0, 0, [], 0
    for index, (rgb, out) in enumerate(zip(_frame_stream(original), _frame_stream(output), strict=False)):
        frames += 1
        if index not in seen:
            rgb = rgb[: out.shape[0], : out.shape[1]]
            originals = detect_faces(rgb, thorough=True)
            seen[index] = (
                len(originals),
                [identity.sample_near(rgb, tuple(map(float, f.box))) for f in originals],
            )
        count, samples = seen[index]
        faces_before += count
        for sample in samples:
            if sample is not None:
                aligned.append(float(np.linalg.norm(identity.embed_at(out, sample) - sample.embedding)))
        left = detect_faces(out, thorough=True)
        found_after += len(left)
        leaked = False
        for face in left:
            if mode != "synthetic":
                leaked = True
                continue
            embedding = identity.embed(out, face)
            if any(s is not None and np.linalg.norm(embedding - s.embedding) < SAME_PERSON for s in samples):
                leaked = True
        leaks += leaked
    return {
        "frames": frames,
        "input_faces": faces_before,
        "faces_found_after": found_after,
        "leak_frames": leaks,
        "min_aligned_distance": min(aligned) if aligned else None,
    }


def part_faces(media: Path, work: Path, modes: list[str], only: list[str] | None = None) -> None:
    from avatars.engine.anonymize import AnonymizeSpec, anonymize

    clips = sorted(glob.glob(str(media / "talking/grid/*.mpg"))) + sorted(
        glob.glob(str(media / "talking/retalking/*.mp4"))
    )
    photos = [
        p
        for p in sorted(
            glob.glob(str(media / "faces/named/test/*.jpg")) + glob.glob(str(media / "faces/other/*"))
        )
        if p.lower().endswith((".jpg", ".png"))
    ]
    videos = sorted(glob.glob(str(media / "forgery/dfdc/videos/*.mp4")))
    if only:
        wanted = set(only)
        clips = [c for c in clips if Path(c).name in wanted or Path(c).stem in wanted]
        photos = [p for p in photos if Path(p).name in wanted or Path(p).stem in wanted]
        videos = [v for v in videos if Path(v).name in wanted or Path(v).stem in wanted]
        if not clips + photos + videos:
            raise SystemExit(f"none of {only} is among the faces inputs")
    inputs = [(Path(c), "talking") for c in clips]
    inputs += [(_image_video(Path(p), work / (Path(p).stem + ".mkv")), "photo") for p in photos]
    inputs += [(Path(v), "dfdc") for v in videos]
    print("\n## Faces\n")
    print(
        "| input | kind | mode | frames | faces dlib finds in the input | faces dlib finds in the output | frames where the person is left | min distance input→output at the same landmarks | tracks | fps |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, list[Any]] = {mode: [0, 0, []] for mode in modes}
    for path, kind in inputs:
        seen: dict[int, tuple[int, list[Any]]] = {}
        for mode in modes:
            output = work / f"{path.stem}-{mode}.mp4"
            started = time.monotonic()
            result = anonymize(AnonymizeSpec(input=path, output=output, mode=mode, seed=7))  # type: ignore[arg-type]
            fps = result.frames / (time.monotonic() - started)
            judged = _judge(path, output, mode, seen)
            totals[mode][0] += judged["leak_frames"]
            totals[mode][1] += judged["frames"]
            if judged["min_aligned_distance"] is not None:
                totals[mode][2].append(judged["min_aligned_distance"])
            distance = judged["min_aligned_distance"]
            print(
                f"| {path.name} | {kind} | {mode} | {judged['frames']} | {judged['input_faces']} | "
                f"{judged['faces_found_after']} | **{judged['leak_frames']}** | "
                f"{'–' if distance is None else f'{distance:.2f}'} | {len(result.tracks)} | {fps:.1f} |"
                f" <!-- load {os.getloadavg()[0]:.1f} -->",
                flush=True,
            )
            output.unlink()
    for mode, (leaks, frames, distances) in totals.items():
        print(
            f"\n{mode}: {leaks} leaking frames of {frames}; smallest input→output distance "
            f"{min(distances) if distances else float('nan'):.3f} (target > 0.6)"
        )


def part_keep(media: Path, work: Path) -> None:
    from avatars.engine.anonymize import AnonymizeSpec, anonymize, identity
    from avatars.engine.media import read_image
    from core.media.faces import detect_faces

    def enrol(pictures: list[np.ndarray]) -> np.ndarray:
        embeddings = []
        for rgb in pictures:
            faces = detect_faces(rgb, thorough=True)
            if faces:
                embeddings.append(identity.embed(rgb, faces[0]))
        return np.mean(embeddings, axis=0)

    print("\n## Kept clinician\n")
    print(
        "| input | enrolled | kept frames | replaced frames | kept face's distance to enrolment, max over output frames | other faces left as the person |"
    )
    print("|---|---|---|---|---|---|")
    cases: list[tuple[Path, str, np.ndarray]] = []
    named = media / "faces/named"
    for photo, person in (("kit_with_rose.jpg", "kit_harington"), ("obama_and_biden.jpg", "obama")):
        if (named / "test" / photo).exists():
            pictures = [read_image(Path(p)) for p in sorted(glob.glob(str(named / "train" / person / "*")))]
            cases.append(
                (
                    _image_video(named / "test" / photo, work / photo.replace(".jpg", ".mkv")),
                    person,
                    enrol(pictures),
                )
            )
    for clip in sorted(glob.glob(str(media / "talking/retalking/*.mp4"))):
        frames = _rgb_frames(Path(clip))
        cases.append((Path(clip), f"{Path(clip).stem}, first second", enrol(frames[:25:5])))
    for path, who, template in cases:
        output = work / f"{path.stem}-keep.mp4"
        result = anonymize(
            AnonymizeSpec(input=path, output=output, mode="synthetic", keep_faces=(template,), seed=3)
        )
        worst, others = 0.0, 0
        for rgb, out in zip(_rgb_frames(path), _rgb_frames(output), strict=False):
            rgb = rgb[: out.shape[0], : out.shape[1]]
            inputs = [identity.embed(rgb, f) for f in detect_faces(rgb, thorough=True)]
            for face in detect_faces(out, thorough=True):
                embedding = identity.embed(out, face)
                distance = float(np.linalg.norm(embedding - template))
                if distance < 0.5:
                    worst = max(worst, distance)
                elif any(np.linalg.norm(embedding - e) < SAME_PERSON for e in inputs):
                    others += 1
        kept = sum(t.kept_frames for t in result.tracks)
        replaced = sum(t.replaced_frames for t in result.tracks)
        print(f"| {path.name} | {who} | {kept} | {replaced} | {worst:.3f} | {others} |", flush=True)


def _eer(targets: np.ndarray, others: np.ndarray) -> float:
    best = 1.0
    for threshold in np.sort(np.concatenate([targets, others])):
        best = min(best, max(float(np.mean(targets < threshold)), float(np.mean(others >= threshold))))
    return best


def part_voice(media: Path, seed: int, *, attribution: bool = True) -> None:
    import soundfile as sf
    from pystoi import stoi

    from avatars.engine.anonymize import voice

    root = media / "speech/librispeech"
    speakers = sorted(p.name for p in root.iterdir() if p.is_dir())
    audio = {
        s: [sf.read(f, dtype="float32")[0] for f in sorted(glob.glob(str(root / s / "*.flac")))[:10]]
        for s in speakers
    }
    rng = np.random.default_rng(seed)

    def anonymized(samples: np.ndarray, change: voice.VoiceChange) -> np.ndarray:
        out = np.zeros_like(samples)
        voice.anonymize_voice(samples, out, change=change, keep_voice=None, keep_threshold=1.0)
        return out

    started = time.monotonic()
    embeddings: dict[tuple[str, int, str], np.ndarray] = {}
    intelligibility = []
    for speaker in speakers:
        one_set = voice.draw_change(rng)
        for index, samples in enumerate(audio[speaker]):
            embeddings[(speaker, index, "original")] = voice._embed(samples)
            changed = anonymized(samples, voice.draw_change(rng))
            embeddings[(speaker, index, "anonymized")] = voice._embed(changed)
            if index >= 5:
                intelligibility.append(stoi(samples, changed, voice.RATE, extended=False))
            else:
                embeddings[(speaker, index, "lazy")] = voice._embed(
                    anonymized(samples, voice.draw_change(rng))
                )
                embeddings[(speaker, index, "lazy-one")] = voice._embed(anonymized(samples, one_set))

    def eer(enrol: str, test: str) -> float:
        targets, others = [], []
        for model_speaker in speakers:
            model = np.mean([embeddings[(model_speaker, i, enrol)] for i in range(5)], axis=0)
            model /= np.linalg.norm(model)
            for speaker in speakers:
                for i in range(5, 10):
                    (targets if speaker == model_speaker else others).append(
                        float(embeddings[(speaker, i, test)] @ model)
                    )
        return _eer(np.array(targets), np.array(others))

    print("\n## Voice (LibriSpeech, 10 speakers x 10 utterances, resemblyzer)\n")
    print(
        f"McAdams coefficient range {voice.ALPHA_RANGE}, vocal-tract target range {voice.TRACT_RANGE}, seed {seed}\n"
    )
    print("| attacker | enrols | tests | EER |\n|---|---|---|---|")
    print(f"| none (original speech) | original | original | {eer('original', 'original'):.1%} |")
    print(f"| ignorant | original | anonymized | {eer('original', 'anonymized'):.1%} |")
    print(
        f"| lazy-informed, per utterance | anonymized, own parameters each | anonymized | {eer('lazy', 'anonymized'):.1%} |"
    )
    print(
        f"| lazy-informed, one set | anonymized, one parameter set per speaker | anonymized | {eer('lazy-one', 'anonymized'):.1%} |"
    )
    print(
        f"\nSTOI anonymized vs original (50 utterances): mean {np.mean(intelligibility):.3f}, min {np.min(intelligibility):.3f}"
    )
    print(f"({time.monotonic() - started:.0f} s)")

    if not attribution:
        return
    # Clinician voice kept: speaker A enrolled from 5 utterances, then A and B utterances alternate.
    print("\n| clinician (kept) | patient | clinician speech kept | patient speech kept |\n|---|---|---|---|")
    for a, b in ((speakers[0], speakers[1]), (speakers[2], speakers[5]), (speakers[3], speakers[4])):
        enrolled = voice._embed(np.concatenate(audio[a][:5]))
        pieces, owner = [], []
        for i in range(5, 10):
            for who, samples in ((a, audio[a][i]), (b, audio[b][i])):
                pieces.append(samples)
                owner.append(np.full(len(samples), who == a))
        mixed = np.concatenate(pieces).astype(np.float32)
        is_a = np.concatenate(owner)
        out = np.zeros_like(mixed)
        voice.anonymize_voice(
            mixed, out, change=voice.draw_change(rng), keep_voice=enrolled, keep_threshold=0.75
        )
        same = np.abs(out - mixed) < 1e-4
        speech = np.abs(mixed) > 0.01
        print(f"| {a} | {b} | {np.mean(same[is_a & speech]):.1%} | {np.mean(same[~is_a & speech]):.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--parts", nargs="+", default=["faces", "keep", "voice"])
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--inputs", nargs="+", metavar="NAME", help="faces: only these inputs (file name or stem)"
    )
    parser.add_argument("--skip-attribution", action="store_true", help="voice: EER and STOI only")
    args = parser.parse_args()
    if not args.media.exists():
        raise SystemExit(f"{args.media} is absent: this benchmark needs the shared test media")
    print(f"load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="anonymize-privacy-") as scratch:
        work = Path(scratch)
        if "voice" in args.parts:
            part_voice(args.media, args.seed, attribution=not args.skip_attribution)
        if "keep" in args.parts:
            part_keep(args.media, work)
        if "faces" in args.parts:
            part_faces(args.media, work, args.modes, args.inputs)


if __name__ == "__main__":
    main()
