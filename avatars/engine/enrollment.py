"""Enrollment analysis: what footage mode needs from the clinician's consented footage.

Every frame's face is found and its 5 landmarks tracked; the mouth-and-jaw region is cut out in
a pose-normalized ("canonical") frame, so any frame's mouth can later be placed onto any other
frame's face; each mouth gets an opening measure and a compact appearance code for the
continuity search. Quality checks run first and say what to re-record. The analysis is saved as
one `.npz` file and reused for every render of that clinician.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.errors import EnrollmentError, MediaInputError
from avatars.engine.media import iter_video_frames, probe_video
from avatars.engine.specs import Progress
from core.media.faces import CANONICAL_POINTS, detect_faces, similarity_to

#: Footage beyond this is not analysed: a few minutes give every mouth shape many times, and the
#: stored mouth patches (about 30-50 kB each) stay below ~250 MB.
MAX_ENROLLMENT_SECONDS = 180
#: The product's requirement: a minute of frames with a clear face (the enrollment page asks the
#: clinician to read for a minute). Below it the mouth search finds too few shapes (GRID's 3 s clips
#: hold each viseme once or twice) and the idle motion must repeat every few seconds. Callers that
#: enroll on purpose from shorter footage (tests, benchmarks on the 3-7 s public clips) pass
#: `min_usable_seconds` explicitly.
MIN_USABLE_SECONDS = 60.0
MIN_EYE_DISTANCE_PX = 40
MIN_FACE_BRIGHTNESS = 55
MIN_FRAME_BRIGHTNESS = 40
#: Variance of the Laplacian of the face resized to 128x128: sharp webcam and MPEG-1 footage score
#: 80-120, a face blurred by a ~2 px defocus scores under 20.
MIN_SHARPNESS = 20.0
MAX_TURN = 0.22
MIN_FACE_SHARE = 0.8
MAX_SEVERAL_FACES_SHARE = 0.1
#: Share of samples at full scale above which the sound counts as distorted; lossy-coded speech that
#: was recorded hot (the GRID corpus: up to 0.44%) stays below it, steady clipping does not.
MAX_CLIPPED_SHARE = 0.01
APPEARANCE_DIMENSIONS = 12

#: Mouth-and-jaw region in face units (below the nose, down past the chin of an open mouth, so the
#: composite can replace the whole chin instead of leaving the base frame's chin beside the new one).
PATCH_LEFT, PATCH_RIGHT, PATCH_TOP, PATCH_BOTTOM = -0.62, 0.62, 0.55, 1.7
#: The part of the patch the opening and appearance measures look at (face units, from the top of
#: the patch to this depth): mouth and chin, not the neck below.
MEASURE_BOTTOM = 1.45


@dataclass(frozen=True)
class EnrollmentAnalysis:
    """Stored result of analysing one enrollment video (see module docstring)."""

    width: int
    height: int
    fps: float
    eye_distance: float
    landmarks: NDArray[np.float64]
    usable: NDArray[np.bool_]
    patches: NDArray[np.uint8]
    openings: NDArray[np.float64]
    appearance: NDArray[np.float64]
    loop_end: int

    @property
    def frame_count(self) -> int:
        """Frames analysed (a prefix of the footage, at most `MAX_ENROLLMENT_SECONDS`)."""
        return int(len(self.landmarks))

    def patch_to_frame(self, index: int) -> NDArray[np.float64]:
        """Similarity (2x3) from canonical patch pixels to frame `index`'s pixels."""
        return _invert(patch_transform(self.landmarks[index], self.eye_distance))

    def save(self, path: Path) -> None:
        """Write the analysis to one compressed `.npz` file."""
        np.savez_compressed(
            path,
            meta=np.array([self.width, self.height, self.fps, self.eye_distance, self.loop_end]),
            landmarks=self.landmarks,
            usable=self.usable,
            patches=self.patches,
            openings=self.openings,
            appearance=self.appearance,
        )

    @classmethod
    def load(cls, path: Path) -> EnrollmentAnalysis:
        """Read an analysis written by `save`."""
        try:
            with np.load(path) as data:
                width, height, fps, eye_distance, loop_end = data["meta"].tolist()
                return cls(
                    width=int(width),
                    height=int(height),
                    fps=float(fps),
                    eye_distance=float(eye_distance),
                    landmarks=data["landmarks"],
                    usable=data["usable"],
                    patches=data["patches"],
                    openings=data["openings"],
                    appearance=data["appearance"],
                    loop_end=int(loop_end),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise MediaInputError(
                "The stored enrollment analysis is unreadable; analyse the footage again."
            ) from exc


def patch_size(eye_distance: float) -> tuple[int, int]:
    """Width and height in pixels of the canonical mouth patch for a face scale."""
    return (
        int(round((PATCH_RIGHT - PATCH_LEFT) * eye_distance)),
        int(round((PATCH_BOTTOM - PATCH_TOP) * eye_distance)),
    )


def patch_transform(points: NDArray[np.float64], eye_distance: float) -> NDArray[np.float64]:
    """Similarity (2x3) from frame pixels to the canonical mouth patch for these landmarks."""
    target = (CANONICAL_POINTS - [PATCH_LEFT, PATCH_TOP]) * eye_distance
    return similarity_to(points, target)


def _invert(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse: NDArray[np.float64] = np.linalg.inv(full)[:2]
    return inverse


def face_sharpness(gray: NDArray[np.uint8], box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian of the face box resized to 128x128 (higher is sharper)."""
    import cv2

    left, top, right, bottom = box
    face = gray[max(0, top) : max(0, bottom), max(0, left) : max(0, right)]
    if face.size < 16:
        return 0.0
    return float(cv2.Laplacian(cv2.resize(face, (128, 128)), cv2.CV_64F).var())


def face_brightness(gray: NDArray[np.uint8], box: tuple[int, int, int, int]) -> float:
    """Mean grey level inside the face box."""
    left, top, right, bottom = box
    face = gray[max(0, top) : max(0, bottom), max(0, left) : max(0, right)]
    return float(face.mean()) if face.size else 0.0


def _smooth(track: NDArray[np.float64], found: NDArray[np.bool_]) -> NDArray[np.float64]:
    # Fill frames without a detection by interpolation, then smooth over ±2 frames: landmark noise
    # would otherwise make the pasted mouth tremble against the face.
    frames = np.arange(len(track))
    filled = track.copy()
    for point in range(track.shape[1]):
        for axis in range(2):
            filled[:, point, axis] = np.interp(frames, frames[found], track[found, point, axis])
    kernel = np.array([1.0, 2.0, 3.0, 2.0, 1.0]) / 9.0
    padded = np.pad(filled, ((2, 2), (0, 0), (0, 0)), mode="edge")
    smoothed = np.zeros_like(filled)
    for offset in range(5):
        smoothed += kernel[offset] * padded[offset : offset + len(track)]
    return smoothed


def _measured(patch: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The mouth-and-chin part of a patch (down to `MEASURE_BOTTOM`), whatever the patch depth."""
    rows = int(round(patch.shape[1] * (MEASURE_BOTTOM - PATCH_TOP) / (PATCH_RIGHT - PATCH_LEFT)))
    return patch[: max(1, min(rows, patch.shape[0]))]


def _mouth_features(patch: NDArray[np.uint8]) -> tuple[float, float]:
    # Darkness and contrast of the central mouth area: an open mouth shows the dark cavity and
    # bright teeth. On the GRID clips either tracks the 68-point lip gap at r = 0.7-0.97.
    gray = _measured(patch).astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    height, width = gray.shape
    centre = gray[int(0.2 * height) : int(0.75 * height), int(0.3 * width) : int(0.7 * width)]
    return -float(centre.mean()), float(centre.std())


def _standardized(values: NDArray[np.float64]) -> NDArray[np.float64]:
    spread = float(values.std())
    result: NDArray[np.float64] = (values - values.mean()) / spread if spread > 0 else values * 0.0
    return result


def _openings(patches: NDArray[np.uint8], speech_energy: NDArray[np.float64] | None) -> NDArray[np.float64]:
    features = np.array([_mouth_features(patch) for patch in patches])
    darkness, contrast = _standardized(features[:, 0]), _standardized(features[:, 1])
    # With dark skin or a dark beard the open mouth can be *brighter* than the closed one (teeth and
    # lips against dark skin); the clinician's own speech tells which way round it is.
    if (
        speech_energy is not None
        and len(speech_energy) == len(darkness)
        and speech_energy.std() > 0
        and float(np.corrcoef(darkness, speech_energy)[0, 1]) < 0
    ):
        darkness = -darkness
    return darkness + contrast


def _check_quality(
    name: str,
    frame_brightness: list[float],
    faces_per_frame: list[int],
    eye_distances: list[float],
    face_levels: list[float],
    sharpness: list[float],
    turns: list[float],
) -> None:
    total = len(faces_per_frame)
    found = sum(1 for count in faces_per_frame if count > 0)
    if np.median(frame_brightness) < MIN_FRAME_BRIGHTNESS:
        raise EnrollmentError(
            f"'{name}' is too dark to see the face clearly. Record again facing a window or a lamp, "
            "with the light in front of you rather than behind.",
            code="footage_too_dark",
        )
    if found == 0:
        raise EnrollmentError(
            f"No face was found in '{name}'. Record yourself facing the camera, with your whole face in the picture.",
            code="no_face",
        )
    several = sum(1 for count in faces_per_frame if count > 1)
    if several / total > MAX_SEVERAL_FACES_SHARE:
        raise EnrollmentError(
            f"More than one face appears in '{name}' ({several} of {total} frames). Record alone, with no "
            "other people, photos or screens showing faces behind you.",
            code="several_faces",
        )
    if found / total < MIN_FACE_SHARE:
        raise EnrollmentError(
            f"Your face is visible in only {100 * found // total}% of '{name}'. Stay in the picture, facing "
            "the camera, for the whole recording.",
            code="face_missing",
        )
    if np.median(eye_distances) < MIN_EYE_DISTANCE_PX:
        raise EnrollmentError(
            f"Your face is too small in '{name}'. Sit closer to the camera so your face fills about a third of "
            "the picture height, and record at 720p or better.",
            code="face_too_small",
        )
    if np.median(face_levels) < MIN_FACE_BRIGHTNESS:
        raise EnrollmentError(
            f"Your face is too dark in '{name}'. Add light in front of you (a window or lamp behind the camera).",
            code="face_too_dark",
        )
    if np.median(sharpness) < MIN_SHARPNESS:
        raise EnrollmentError(
            f"'{name}' is blurred. Clean the lens, hold the camera still (or use a stand) and check that it "
            "focuses on your face.",
            code="footage_blurred",
        )
    if np.median(np.abs(turns)) > MAX_TURN:
        raise EnrollmentError(
            f"Your head is turned away from the camera in '{name}'. Look straight into the lens while reading.",
            code="head_turned",
        )


def _speech_energy(path: Path, has_audio: bool, fps: float, frame_count: int) -> NDArray[np.float64] | None:
    if not has_audio:
        return None
    from avatars.engine.media import read_audio
    from avatars.engine.speech import SAMPLE_RATE
    from avatars.engine.visemes import frame_energy

    samples = read_audio(path)
    if len(samples) and float((np.abs(samples) > 0.98).mean()) > MAX_CLIPPED_SHARE:
        raise EnrollmentError(
            f"The sound in '{path.name}' is distorted (too loud for the microphone). Record again with the "
            "microphone a little further away or its level turned down.",
            code="audio_clipped",
        )
    return frame_energy(samples, SAMPLE_RATE, fps, frame_count)


def _too_short(name: str, seconds: float, required: float, *, usable: bool) -> EnrollmentError:
    what = (
        f"only {seconds:.1f} s of it show your face clearly" if usable else f"it is only {seconds:.1f} s long"
    )
    return EnrollmentError(
        f"'{name}' is too short to enroll: {what}, and at least {required:.0f} s are needed. Footage mode "
        "builds your video from your own recorded frames, so it needs enough of them to find every mouth "
        "shape and natural head movement without visible repetition. Record again reading the whole "
        "script aloud (about a minute), facing the camera in steady light, and keep your face in the "
        "picture throughout.",
        code="footage_too_short",
    )


def analyze_enrollment(
    path: Path, *, progress: Progress | None = None, min_usable_seconds: float = MIN_USABLE_SECONDS
) -> EnrollmentAnalysis:
    """Analyse consented enrollment footage; raise `EnrollmentError` saying what to re-record.

    Footage with fewer than `min_usable_seconds` of frames showing a clear face is refused (the
    product's requirement, `MIN_USABLE_SECONDS`); a file shorter than that is refused before any
    frame is analysed.
    """
    import cv2

    info = probe_video(path)
    declared = info.duration if info.duration else (info.frame_count / info.fps if info.frame_count else None)
    # A tenth of a second's grace: containers round the length they declare (60 s may read 59.96 s).
    if declared is not None and declared + 0.1 < min_usable_seconds:
        raise _too_short(path.name, declared, min_usable_seconds, usable=False)
    limit = int(MAX_ENROLLMENT_SECONDS * info.fps)
    expected = min(limit, info.frame_count) if info.frame_count else limit
    landmarks: list[NDArray[np.float64]] = []
    found: list[bool] = []
    frame_brightness: list[float] = []
    faces_per_frame: list[int] = []
    eye_distances: list[float] = []
    face_levels: list[float] = []
    sharpness: list[float] = []
    turns: list[float] = []
    for index, frame in enumerate(iter_video_frames(path)):
        if index >= limit:
            break
        gray = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        frame_brightness.append(float(gray.mean()))
        faces = detect_faces(frame)
        faces_per_frame.append(len(faces))
        if faces:
            face = faces[0]
            landmarks.append(face.points)
            eye_distances.append(face.eye_distance)
            face_levels.append(face_brightness(gray, face.box))
            sharpness.append(face_sharpness(gray, face.box))
            turns.append(face.turn)
        else:
            landmarks.append(np.full((5, 2), np.nan))
        found.append(bool(faces))
        if progress is not None and index % 25 == 0:
            progress(min(0.8, 0.8 * index / max(expected, 1)), "analysis")
    if not faces_per_frame:
        raise MediaInputError(f"No frames could be decoded from '{path.name}'.", code="file_corrupt")
    _check_quality(path.name, frame_brightness, faces_per_frame, eye_distances, face_levels, sharpness, turns)
    usable_seconds = sum(found) / info.fps
    if usable_seconds + 0.1 < min_usable_seconds:
        raise _too_short(path.name, usable_seconds, min_usable_seconds, usable=True)
    energy = _speech_energy(path, info.has_audio, info.fps, len(faces_per_frame))

    found_mask = np.array(found)
    track = _smooth(np.stack(landmarks), found_mask)
    eye_distance = float(np.clip(np.median(eye_distances), 48, 200))
    size = patch_size(eye_distance)
    patches = np.zeros((len(track), size[1], size[0], 3), dtype=np.uint8)
    for index, frame in enumerate(iter_video_frames(path)):
        if index >= len(track):
            break
        patches[index] = cv2.warpAffine(
            frame,
            patch_transform(track[index], eye_distance),
            size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        if progress is not None and index % 25 == 0:
            progress(0.8 + 0.2 * index / len(track), "analysis")
    openings = _openings(patches, energy)
    return EnrollmentAnalysis(
        width=info.width,
        height=info.height,
        fps=info.fps,
        eye_distance=eye_distance,
        landmarks=track,
        usable=found_mask,
        patches=patches,
        openings=openings,
        appearance=_appearance_codes(patches),
        loop_end=_loop_end(track),
    )


def _appearance_codes(patches: NDArray[np.uint8]) -> NDArray[np.float64]:
    import cv2

    # A PCA of small grey mouth images: distances between codes say how alike two mouths look,
    # which is what the continuity cost of the frame search needs.
    small = np.stack(
        [cv2.resize(cv2.cvtColor(_measured(p), cv2.COLOR_RGB2GRAY), (24, 18)).reshape(-1) for p in patches]
    ).astype(np.float64)
    centred = small - small.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    codes: NDArray[np.float64] = centred @ components[:APPEARANCE_DIMENSIONS].T
    return codes


def _loop_end(track: NDArray[np.float64]) -> int:
    # The idle loop returns to its start where the head pose is closest to the first frames, so
    # the cross-fade at the seam joins two nearly identical poses.
    count = len(track)
    if count < 8:
        return count
    start = track[: min(4, count)].mean(axis=0)
    candidates = range(max(count // 2, 4), count)
    distances = [float(np.linalg.norm(track[i] - start)) for i in candidates]
    return int(candidates[int(np.argmin(distances))]) + 1 if distances else count
