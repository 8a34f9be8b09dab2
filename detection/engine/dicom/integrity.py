"""Active integrity of DICOM instances: a record made at ingest, and what changed in a later copy.

The record holds no patient data: the SOP Instance UID, SHA-256 digests of the decoded pixels (of
dtype, shape and bytes, in native little-endian order, so the file's encoding does not matter), one
digest per clinically relevant attribute (never the value) and per-tile digests that localise a pixel
change. Comparing a later copy's record against the signed one says: unchanged, encoding changed only
(every pixel and attribute the same, the file bytes not), metadata changed (which attributes), or
pixels changed (which frames, which regions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from scipy import ndimage

from detection.engine.dicom.reader import DicomInstance, quiet

#: The attributes a reader's diagnosis depends on: identity of the image, geometry, value mapping and
#: display. Names, IDs and dates of the patient are deliberately absent.
CLINICAL_ATTRIBUTES: tuple[str, ...] = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "Modality",
    "BodyPartExamined",
    "Laterality",
    "ImageType",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "SliceLocation",
    "InstanceNumber",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
    "LossyImageCompression",
    "KVP",
    "ContrastBolusAgent",
)
TILE = 32
#: Transfer syntaxes that may change pixel values (lossy JPEG, JPEG 2000, JPEG-LS near-lossless, HTJ2K).
LOSSY_TRANSFER_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.93",
        "1.2.840.10008.1.2.4.203",
    }
)
RECORD_VERSION = 1

Status = Literal["unchanged", "encoding_changed", "metadata_changed", "pixels_changed"]
#: Worst first: a study's status is its worst instance's.
SEVERITY: tuple[str, ...] = (
    "pixels_changed",
    "instances_changed",
    "metadata_changed",
    "encoding_changed",
    "unchanged",
)


@dataclass(frozen=True)
class IntegrityRecord:
    """What is signed for one instance at ingest."""

    sop_instance_uid: str
    file_sha256: str
    transfer_syntax: str
    pixel_sha256: str  # "" for an instance without pixels
    frame_sha256: tuple[str, ...]
    frame_shape: tuple[int, ...]
    attributes_sha256: str
    attribute_digests: dict[str, str]
    other_sha256: str = ""  # every other element together (names, dates...): changes show, values don't
    tile: int = TILE
    tiles: tuple[tuple[str, ...], ...] = ()  # per frame, row-major

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "sop_instance_uid": self.sop_instance_uid,
            "file_sha256": self.file_sha256,
            "transfer_syntax": self.transfer_syntax,
            "pixel_sha256": self.pixel_sha256,
            "frame_sha256": list(self.frame_sha256),
            "frame_shape": list(self.frame_shape),
            "attributes_sha256": self.attributes_sha256,
            "attribute_digests": dict(self.attribute_digests),
            "other_sha256": self.other_sha256,
            "tile": self.tile,
            "tiles": [list(t) for t in self.tiles],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntegrityRecord:
        return cls(
            sop_instance_uid=str(data["sop_instance_uid"]),
            file_sha256=str(data["file_sha256"]),
            transfer_syntax=str(data["transfer_syntax"]),
            pixel_sha256=str(data["pixel_sha256"]),
            frame_sha256=tuple(data["frame_sha256"]),
            frame_shape=tuple(int(v) for v in data["frame_shape"]),
            attributes_sha256=str(data["attributes_sha256"]),
            attribute_digests={str(k): str(v) for k, v in data["attribute_digests"].items()},
            other_sha256=str(data.get("other_sha256", "")),
            tile=int(data["tile"]),
            tiles=tuple(tuple(t) for t in data["tiles"]),
        )


@dataclass(frozen=True)
class Region:
    """A changed area of one frame, in pixel coordinates (rows [top, bottom), columns [left, right))."""

    frame: int
    top: int
    left: int
    bottom: int
    right: int
    tiles: int

    def as_dict(self) -> dict[str, int]:
        return {
            "frame": self.frame,
            "top": self.top,
            "left": self.left,
            "bottom": self.bottom,
            "right": self.right,
            "tiles": self.tiles,
        }


@dataclass
class InstanceChange:
    sop_instance_uid: str
    status: Status
    changed_attributes: list[str] = field(default_factory=list)
    other_attributes_changed: bool = False
    changed_frames: list[int] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    changed_tiles: int = 0
    total_tiles: int = 0
    encoding_note: str = ""
    #: Pixels changed and the copy is in a lossy transfer syntax the signed file was not in: small
    #: changes everywhere are what lossy compression does; they still are changed pixels.
    lossy_reencoding: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "sop_instance_uid": self.sop_instance_uid,
            "lossy_reencoding": self.lossy_reencoding,
            "status": self.status,
            "changed_attributes": list(self.changed_attributes),
            "other_attributes_changed": self.other_attributes_changed,
            "changed_frames": list(self.changed_frames),
            "regions": [r.as_dict() for r in self.regions],
            "changed_tiles": self.changed_tiles,
            "total_tiles": self.total_tiles,
            "encoding_note": self.encoding_note,
        }


@dataclass
class StudyComparison:
    status: str  # one of SEVERITY
    instances: list[InstanceChange]
    missing: list[str]  # signed, absent from the later copy
    added: list[str]  # in the later copy, never signed

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "instances": [i.as_dict() for i in self.instances],
            "missing": list(self.missing),
            "added": list(self.added),
        }


def pixel_digest(array: npt.NDArray[Any]) -> str:
    """SHA-256 of an array's dtype, shape and bytes in native little-endian order."""
    array = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
    digest = hashlib.sha256(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def tile_digests(frame: npt.NDArray[Any], tile: int = TILE) -> tuple[str, ...]:
    """A short digest per tile×tile block (row-major; edge tiles are smaller)."""
    frame = np.ascontiguousarray(frame.astype(frame.dtype.newbyteorder("<"), copy=False))
    rows, cols = frame.shape[:2]
    return tuple(
        hashlib.sha256(np.ascontiguousarray(frame[r : r + tile, c : c + tile]).tobytes()).hexdigest()[:16]
        for r in range(0, rows, tile)
        for c in range(0, cols, tile)
    )


def _canonical(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (MultiValue, list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    text = str(value).strip()
    try:  # decimal strings written differently ("0.5" and "0.50000") are the same number
        return repr(float(text)) if text and any(ch.isdigit() for ch in text) and "." in text else text
    except ValueError:
        return text


def attribute_digests(ds: Dataset) -> dict[str, str]:
    """One digest per clinically relevant attribute (the value itself is not kept)."""
    digests = {}
    for keyword in CLINICAL_ATTRIBUTES:
        try:
            value = ds.get(keyword)
        except Exception:
            value = "<unreadable>"
        text = json.dumps(_canonical(value), sort_keys=True)
        digests[keyword] = hashlib.sha256(f"{keyword}={text}".encode()).hexdigest()[:32]
    return digests


#: Encoding details, not content: the meta group, group lengths, padding and the pixel data itself.
_SKIPPED_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009, 0xFFFCFFFC, 0x00280006})


def other_digest(ds: Dataset) -> str:
    """One digest of every element that is not a clinical attribute (their values stay unknown)."""
    digest = hashlib.sha256()
    _feed(ds, digest, top=True)
    return digest.hexdigest()


def _feed(ds: Dataset, digest: Any, *, top: bool) -> None:
    clinical = set(CLINICAL_ATTRIBUTES) if top else set()
    for element in ds:
        tag = int(element.tag)
        if element.tag.group == 0x0002 or element.tag.element == 0x0000 or tag in _SKIPPED_TAGS:
            continue
        if element.keyword in clinical:
            continue
        digest.update(f"{tag:08X}|".encode())
        if element.VR == "SQ":
            for item in element.value or []:
                digest.update(b"item|")
                _feed(item, digest, top=False)
            continue
        try:
            digest.update(json.dumps(_canonical(element.value), sort_keys=True, default=str).encode())
        except Exception:
            digest.update(b"<unreadable>")


@quiet
def integrity_record(instance: DicomInstance, tile: int = TILE) -> IntegrityRecord:
    """The record of an accepted instance (its frames decoded)."""
    if instance.dataset is None or instance.refused:
        raise ValueError("Only an accepted instance has an integrity record.")
    frames = instance.frames
    frame_hashes = tuple(pixel_digest(f) for f in frames)
    pixel = ""
    if frames:
        combined = hashlib.sha256(f"frames={len(frames)}|".encode())
        for h in frame_hashes:
            combined.update(h.encode())
        pixel = combined.hexdigest()
    digests = attribute_digests(instance.dataset)
    return IntegrityRecord(
        sop_instance_uid=instance.sop_instance_uid,
        file_sha256=instance.file_sha256,
        transfer_syntax=instance.transfer_syntax,
        pixel_sha256=pixel,
        frame_sha256=frame_hashes,
        frame_shape=tuple(int(v) for v in frames[0].shape) if frames else (),
        attributes_sha256=hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest(),
        attribute_digests=digests,
        other_sha256=other_digest(instance.dataset),
        tile=tile,
        tiles=tuple(tile_digests(f, tile) for f in frames),
    )


def compare_instance(signed: IntegrityRecord, later: IntegrityRecord) -> InstanceChange:
    """What changed between the signed record of an instance and a later copy's."""
    change = InstanceChange(sop_instance_uid=signed.sop_instance_uid, status="unchanged")
    change.changed_attributes = sorted(
        k
        for k in set(signed.attribute_digests) | set(later.attribute_digests)
        if signed.attribute_digests.get(k) != later.attribute_digests.get(k)
    )
    change.other_attributes_changed = signed.other_sha256 != later.other_sha256
    change.total_tiles = sum(len(t) for t in signed.tiles)
    if signed.pixel_sha256 != later.pixel_sha256:
        _pixel_changes(signed, later, change)
        change.status = "pixels_changed"
        change.lossy_reencoding = (
            later.transfer_syntax in LOSSY_TRANSFER_SYNTAXES
            and later.transfer_syntax != signed.transfer_syntax
        )
    elif change.changed_attributes or change.other_attributes_changed:
        change.status = "metadata_changed"
    elif signed.file_sha256 != later.file_sha256:
        change.status = "encoding_changed"
    if signed.file_sha256 != later.file_sha256:
        change.encoding_note = _encoding_note(signed.transfer_syntax, later.transfer_syntax)
    return change


def _encoding_note(before: str, after: str) -> str:
    from detection.engine.dicom.reader import transfer_syntax_name

    if before == after:
        return f"Same transfer syntax ({transfer_syntax_name(before)}), different file bytes."
    return f"Transfer syntax {transfer_syntax_name(before)} → {transfer_syntax_name(after)}."


def _pixel_changes(signed: IntegrityRecord, later: IntegrityRecord, change: InstanceChange) -> None:
    count = max(len(signed.frame_sha256), len(later.frame_sha256))
    rows, cols = (signed.frame_shape[:2] + (0, 0))[:2] if signed.frame_shape else (0, 0)
    same_grid = signed.frame_shape == later.frame_shape and signed.tile == later.tile
    tiles_across = -(-cols // signed.tile) if cols else 0
    for index in range(count):
        before = signed.frame_sha256[index] if index < len(signed.frame_sha256) else ""
        after = later.frame_sha256[index] if index < len(later.frame_sha256) else ""
        if before == after:
            continue
        change.changed_frames.append(index)
        if not same_grid or not before or not after or not tiles_across:
            # A frame added, removed or resized: the whole frame counts as changed.
            change.regions.append(Region(index, 0, 0, rows, cols, len(signed.tiles[index]) if before else 0))
            change.changed_tiles += len(signed.tiles[index]) if before else 0
            continue
        differing = [a != b for a, b in zip(signed.tiles[index], later.tiles[index], strict=True)]
        grid = np.array(differing, dtype=bool).reshape(-1, tiles_across)
        change.changed_tiles += int(grid.sum())
        change.regions.extend(_regions(grid, index, signed.tile, rows, cols))


def _regions(grid: npt.NDArray[np.bool_], frame: int, tile: int, rows: int, cols: int) -> Iterable[Region]:
    labels, count = ndimage.label(grid, structure=np.ones((3, 3), dtype=int))
    for label in range(1, count + 1):
        ys, xs = np.nonzero(labels == label)
        yield Region(
            frame=frame,
            top=int(ys.min()) * tile,
            left=int(xs.min()) * tile,
            bottom=min(rows, (int(ys.max()) + 1) * tile),
            right=min(cols, (int(xs.max()) + 1) * tile),
            tiles=len(ys),
        )


#: Attributes that place an instance in its study, for pairing one whose SOP Instance UID changed.
PLACE_ATTRIBUTES = ("SeriesInstanceUID", "InstanceNumber", "ImagePositionPatient")


def _pixel_key(record: IntegrityRecord) -> tuple[str, ...] | None:
    return (record.pixel_sha256,) if record.pixel_sha256 else None


def _place_key(record: IntegrityRecord) -> tuple[str, ...] | None:
    """The digests of series, instance number and position; None when any of them is absent."""
    values = tuple(record.attribute_digests.get(k, "") for k in PLACE_ATTRIBUTES)
    if any(not v or v == _absent_digest(k) for k, v in zip(PLACE_ATTRIBUTES, values, strict=True)):
        return None
    return values


def _absent_digest(keyword: str) -> str:
    # How attribute_digests writes an attribute the instance does not have.
    return hashlib.sha256(f"{keyword}={json.dumps(None)}".encode()).hexdigest()[:32]


def compare_study(signed: Sequence[IntegrityRecord], later: Sequence[IntegrityRecord]) -> StudyComparison:
    """Instance by instance (matched on SOP Instance UID), and the study's worst status."""
    before = {r.sop_instance_uid: r for r in signed}
    after = {r.sop_instance_uid: r for r in later}
    changes = [compare_instance(before[uid], after[uid]) for uid in before if uid in after]
    missing = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    # A copy given a new SOP Instance UID (as transcoders often do) is still the same instance when its
    # pixels are identical, or when series, instance number and position all match.
    for key in (_pixel_key, _place_key):
        keyed: dict[tuple[str, ...], list[str]] = {}
        for uid in added:
            k = key(after[uid])
            if k is not None:
                keyed.setdefault(k, []).append(uid)
        for uid in list(missing):
            k = key(before[uid])
            candidates = keyed.get(k, []) if k is not None else []
            if len(candidates) == 1 and candidates[0] in added:
                changes.append(compare_instance(before[uid], after[candidates[0]]))
                missing.remove(uid)
                added.remove(candidates[0])
    statuses: set[str] = {c.status for c in changes}
    if missing or added:
        statuses.add("instances_changed")
    status = next((s for s in SEVERITY if s in statuses), "unchanged")
    return StudyComparison(status=status, instances=changes, missing=missing, added=added)
