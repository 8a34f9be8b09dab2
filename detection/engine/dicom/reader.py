"""DICOM ingest: structural checks with clear reasons, and the decoded pixels of every frame.

`read_instance` never raises on a bad file: it returns the instance with its findings, and an
instance with an error finding is refused. `read_upload` takes a single file or a zipped study.
Findings and messages name tags, VRs, transfer syntaxes and positions only: never a value, so no
patient name, ID or date can leak into a log, a job or a message.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from detection.engine.dicom import structure
from detection.engine.errors import DetectionInputError

log = logging.getLogger(__name__)
# pydicom logs its warnings (misc.warn_and_log) with values quoted from the file, a patient's name or
# date among them: keep its logger out of the application's logs entirely.
_pydicom_log = logging.getLogger("pydicom")
_pydicom_log.propagate = False
if not any(isinstance(h, logging.NullHandler) for h in _pydicom_log.handlers):
    _pydicom_log.addHandler(logging.NullHandler())

F = TypeVar("F", bound=Callable[..., Any])


def quiet(function: F) -> F:
    """Run `function` with Python warnings ignored: pydicom's warnings quote values from the file, and
    Django routes warnings into the logs (logging.captureWarnings)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)

    return cast(F, wrapper)


Severity = Literal["error", "warning", "info"]

#: Value representations whose syntax is strict and which carry geometry, numbers or identity.
STRICT_TEXT_VRS = frozenset({"IS", "DS", "UI"})
BINARY_SIZES = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8}
#: Limits on a zipped study (a zip bomb is refused before it is inflated).
ZIP_MAX_MEMBERS = 2000
ZIP_MAX_MEMBER_BYTES = 256 * 1024 * 1024
ZIP_MAX_TOTAL_BYTES = 1024 * 1024 * 1024
#: A zip that unpacks to more than this many times its own size (past ZIP_RATIO_FLOOR bytes) is refused
#: as a likely zip bomb: real studies compress a few times, not hundreds.
ZIP_MAX_RATIO = 200
ZIP_RATIO_FLOOR = 64 * 1024 * 1024
PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


class DicomInputError(DetectionInputError):
    """The upload is neither a DICOM file nor a zip of DICOM files (or the zip is unsafe)."""

    code = "dicom_invalid"

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        #: For an upload refused before storing: "not_dicom", "too_large" or "damaged".
        self.reason = reason


@dataclass(frozen=True)
class Finding:
    """One structural problem (or note) about an instance, worded without any value from the file."""

    code: str
    severity: Severity
    message: str
    tag: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "tag": self.tag}


@dataclass
class DicomInstance:
    """One DICOM file of an upload: what it is, what is wrong with it, and its decoded frames."""

    index: int  # position in the upload (zip members in name order), used instead of a file name
    file_sha256: str
    findings: list[Finding] = field(default_factory=list)
    dataset: Dataset | None = None
    transfer_syntax: str = ""
    frames: list[npt.NDArray[Any]] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def sop_instance_uid(self) -> str:
        return _text(self.dataset, "SOPInstanceUID")

    @property
    def series_instance_uid(self) -> str:
        return _text(self.dataset, "SeriesInstanceUID")

    @property
    def modality(self) -> str:
        return _text(self.dataset, "Modality")

    @property
    def transfer_syntax_name(self) -> str:
        return transfer_syntax_name(self.transfer_syntax)

    @property
    def has_pixels(self) -> bool:
        return bool(self.frames)


@dataclass
class DicomUpload:
    """Every instance of an upload (one for a single file) and the problems of the container."""

    instances: list[DicomInstance]
    findings: list[Finding] = field(default_factory=list)
    is_zip: bool = False

    @property
    def accepted(self) -> list[DicomInstance]:
        return [i for i in self.instances if not i.refused]


def _text(ds: Dataset | None, keyword: str) -> str:
    if ds is None:
        return ""
    try:
        value = ds.get(keyword)
    except Exception:  # a broken value reads as absent
        return ""
    return "" if value is None else str(value).strip()


def transfer_syntax_name(uid: str) -> str:
    if not uid:
        return "none stated"
    name = UID(uid).name
    return name if name != uid else f"unknown transfer syntax {uid}"


def decodable_transfer_syntaxes() -> dict[str, bool]:
    """Every transfer syntax pydicom knows, and whether its pixel data decodes in this installation."""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import AllTransferSyntaxes

    table: dict[str, bool] = {}
    for uid in AllTransferSyntaxes:
        try:
            table[str(uid)] = bool(get_decoder(uid).is_available)
        except NotImplementedError:
            table[str(uid)] = False
    return table


@quiet
def read_instance(data: bytes, *, index: int = 0, decode: bool = True) -> DicomInstance:
    """Check one DICOM file and decode its frames; problems become findings, never exceptions."""
    instance = DicomInstance(index=index, file_sha256=hashlib.sha256(data).hexdigest())
    findings = instance.findings
    meta = structure.meta_header(data)
    if not meta.present:
        ds = _read(data, force=True)
        if not _headerless_dicom(data, ds):
            findings.append(Finding("not_dicom", "error", "The file is not a DICOM file."))
            return instance
        findings.append(
            Finding(
                "missing_meta",
                "error",
                "The file has no DICOM file meta information header (no 'DICM' marker after the 128-byte "
                "preamble), so its transfer syntax and origin cannot be trusted.",
            )
        )
        instance.dataset = ds
        return instance
    if not meta.transfer_syntax:
        findings.append(
            Finding(
                "broken_meta",
                "error",
                "The file meta information header names no transfer syntax (0002,0010).",
                "(0002,0010)",
            )
        )
    if not meta.group_length_ok:
        findings.append(
            Finding(
                "broken_meta",
                "error",
                "The file meta information group length (0002,0000) does not match the header.",
                "(0002,0000)",
            )
        )
    instance.transfer_syntax = meta.transfer_syntax
    truncation = structure.find_truncation(data, meta)
    if truncation is not None:
        findings.append(
            Finding(
                "truncated",
                "error",
                f"The file ends inside element {truncation.tag_text}: it declares {truncation.needed} bytes "
                f"but only {truncation.available} remain.",
                truncation.tag_text,
            )
        )
    body = data[meta.dataset_offset : meta.dataset_offset + 64]
    if meta.transfer_syntax and meta.transfer_syntax != structure.DEFLATED and body:
        implicit = structure.encoded_implicit(
            body, declared_implicit=meta.transfer_syntax == structure.IMPLICIT_LE
        )
        if implicit != (meta.transfer_syntax == structure.IMPLICIT_LE):
            findings.append(
                Finding(
                    "encoding_mismatch",
                    "warning",
                    "The data set is encoded with "
                    + ("implicit" if implicit else "explicit")
                    + f" VR, contrary to its transfer syntax ({transfer_syntax_name(meta.transfer_syntax)}).",
                )
            )
    ds = _read(data, force=False)
    if ds is None:
        findings.append(Finding("unreadable", "error", "The DICOM data set cannot be parsed."))
        return instance
    instance.dataset = ds
    raw = _read(data, force=False, parse=False)  # elements still raw, as written
    if raw is not None:
        findings.extend(_vr_findings(raw))
    if not _text(ds, "SOPInstanceUID"):
        findings.append(
            Finding(
                "missing_uid", "error", "The instance has no SOP Instance UID (0008,0018).", "(0008,0018)"
            )
        )
    media_uid = _text(getattr(ds, "file_meta", None), "MediaStorageSOPInstanceUID")
    if media_uid and _text(ds, "SOPInstanceUID") and media_uid != _text(ds, "SOPInstanceUID"):
        findings.append(
            Finding(
                "meta_mismatch",
                "warning",
                "The meta header's Media Storage SOP Instance UID differs from the SOP Instance UID.",
                "(0002,0003)",
            )
        )
    if not any(tag in ds for tag in PIXEL_DATA_TAGS):
        findings.append(Finding("no_pixel_data", "info", "The instance carries no image (no Pixel Data)."))
        return instance
    if decode and not instance.refused:
        _decode(instance, ds)
    return instance


def _headerless_dicom(data: bytes, ds: Dataset | None) -> bool:
    """Whether bytes without a meta header still look like a DICOM data set (group 0008 up front)."""
    if any(
        marker in data[:8]
        for marker in (b"\x08\x00\x05\x00", b"\x08\x00\x08\x00", b"\x00\x08\x00\x05", b"\x00\x08\x00\x08")
    ):
        return True
    if ds is None:
        return False
    tags = ds.keys()
    return any(tag.group in (0x0008, 0x0010, 0x0020, 0x0028) for tag in tags)


def _read(data: bytes, *, force: bool, parse: bool = True) -> Dataset | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings may quote values
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=force)
            if parse:
                for _ in ds.iterall():  # convert everything now, so a broken element shows here
                    pass
        except (InvalidDicomError, Exception):
            return None
    return ds


def _vr_findings(ds: Dataset, depth: int = 0) -> Iterator[Finding]:
    """Values that break their VR's syntax (integer and decimal strings, UIDs, binary lengths)."""
    if depth > structure.MAX_DEPTH:
        return
    for tag in list(ds.keys()):
        element = ds.get_item(tag)
        vr = element.VR
        if vr is None or vr == "UN":
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                continue
        if vr == "SQ":
            try:
                items = ds[tag].value or []
            except Exception:
                yield _bad_vr(tag, "SQ", depth)
                continue
            for item in items:
                yield from _vr_findings(item, depth + 1)
            continue
        if not isinstance(element, RawDataElement) or not isinstance(element.value, bytes):
            continue
        raw = element.value
        if vr in BINARY_SIZES:
            if len(raw) % BINARY_SIZES[vr]:
                yield _bad_vr(tag, vr, depth)
        elif vr in STRICT_TEXT_VRS:
            text = raw.decode("latin-1").strip("\x00 ")
            for part in text.split("\\"):
                if part.strip() and not _valid(vr, part.strip()):
                    yield _bad_vr(tag, vr, depth)
                    break


def _valid(vr: str, value: str) -> bool:
    from pydicom import config
    from pydicom.valuerep import validate_value

    try:
        validate_value(vr, value, config.RAISE)
    except ValueError:
        return False
    return True


def _bad_vr(tag: Any, vr: str, depth: int) -> Finding:
    """A top-level element (geometry, numbers, identity of the image) refuses the instance; one inside
    a sequence (a reference, a plan detail) is flagged."""
    text = f"({tag.group:04X},{tag.element:04X})"
    where = "" if depth == 0 else " inside a sequence"
    return Finding(
        "bad_vr",
        "error" if depth == 0 else "warning",
        f"Element {text}{where} holds a value that is not valid for its VR {vr}.",
        text,
    )


def _decode(instance: DicomInstance, ds: Dataset) -> None:
    syntax = instance.transfer_syntax
    available = decodable_transfer_syntaxes().get(syntax, False) if syntax else False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = ds.pixel_array
    except Exception as exc:
        # The exception's text is not passed on: it may quote values from the file.
        log.info("dicom pixel decode failed: %s (%s)", type(exc).__name__, transfer_syntax_name(syntax))
        if available:
            message = (
                f"The pixel data does not decode as {transfer_syntax_name(syntax)}, although that "
                "transfer syntax is supported here: the pixel data is damaged or does not match its "
                "description (rows, columns, bits)."
            )
            instance.findings.append(Finding("pixel_decode_failed", "error", message, "(7FE0,0010)"))
        else:
            message = (
                f"The pixel data's transfer syntax ({transfer_syntax_name(syntax)}) has no decoder in this "
                "installation."
            )
            instance.findings.append(Finding("unsupported_transfer_syntax", "error", message, "(7FE0,0010)"))
        return
    instance.frames = split_frames(array, ds)


def split_frames(array: npt.NDArray[Any], ds: Dataset) -> list[npt.NDArray[Any]]:
    """One array per frame, in native little-endian order (so the byte order of the file is gone)."""
    try:
        count = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        count = 1
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    single_ndim = 3 if samples > 1 else 2
    little = array.dtype.newbyteorder("<")
    array = np.ascontiguousarray(array.astype(little, copy=False))
    if array.ndim == single_ndim + 1 or count > 1:
        return [np.ascontiguousarray(frame) for frame in array]
    return [array]


@quiet
def read_upload(data: bytes, *, decode: bool = True) -> DicomUpload:
    """A single DICOM file or a zip of them (a study); raises DicomInputError for anything else."""
    if zipfile.is_zipfile(io.BytesIO(data)) and data[:2] == b"PK":
        return _read_zip(data, decode=decode)
    instance = read_instance(data, index=0, decode=decode)
    if any(f.code == "not_dicom" for f in instance.findings):
        raise DicomInputError("The file is neither a DICOM file nor a zip of DICOM files.")
    return DicomUpload(instances=[instance])


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members read as instances, in the order their `index` counts (from 1)."""
    return sorted(
        (m for m in archive.infolist() if not m.is_dir() and not _ignored(m.filename)),
        key=lambda m: m.filename,
    )


@quiet
def read_zip_member(source: BinaryIO, index: int, *, decode: bool = True) -> DicomInstance:
    """One instance of a zipped study by its `index` (as read_upload numbered it), without reading the
    others: what a viewer needs to show one slice of a large study."""
    try:
        archive = zipfile.ZipFile(source)
        members = _members(archive)
        if not 1 <= index <= len(members):
            raise DicomInputError("The zipped study has no such file.")
        member = members[index - 1]
        if member.file_size > ZIP_MAX_MEMBER_BYTES:
            raise DicomInputError("The zipped study is too large once unpacked.")
        payload = archive.read(member)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
        raise DicomInputError("The zip file cannot be read.") from exc
    return read_instance(payload, index=index, decode=decode)


def _read_zip(data: bytes, *, decode: bool) -> DicomUpload:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = _members(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DicomInputError("The zip file cannot be read.") from exc
    if not members:
        raise DicomInputError("The zip file holds no files.")
    if len(members) > ZIP_MAX_MEMBERS:
        raise DicomInputError(f"A zipped study may hold at most {ZIP_MAX_MEMBERS} files.")
    if sum(m.file_size for m in members) > ZIP_MAX_TOTAL_BYTES or any(
        m.file_size > ZIP_MAX_MEMBER_BYTES for m in members
    ):
        raise DicomInputError("The zipped study is too large once unpacked.")
    upload = DicomUpload(instances=[], is_zip=True)
    for position, member in enumerate(members, start=1):
        try:
            payload = archive.read(member)
        except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError):
            upload.findings.append(
                Finding("zip_member_unreadable", "error", f"File #{position} in the zip cannot be unpacked.")
            )
            continue
        if len(payload) > ZIP_MAX_MEMBER_BYTES:
            raise DicomInputError("The zipped study is too large once unpacked.")
        instance = read_instance(payload, index=position, decode=decode)
        if any(f.code == "not_dicom" for f in instance.findings):
            upload.findings.append(
                Finding("not_dicom", "warning", f"File #{position} in the zip is not DICOM and was skipped.")
            )
            continue
        upload.instances.append(instance)
    if not upload.instances:
        raise DicomInputError("The zip file holds no DICOM files.")
    return upload


@dataclass(frozen=True)
class UploadProbe:
    """What an upload is, found before anything is stored: a single file or a zip of `members` files."""

    is_zip: bool
    members: int


_DICOM_STARTS = (b"\x08\x00\x05\x00", b"\x08\x00\x08\x00", b"\x00\x08\x00\x05", b"\x00\x08\x00\x08")


def _looks_dicom(data: bytes) -> bool:
    """A Part 10 file (the 'DICM' marker), a headerless data set, or anything the reader takes as DICOM
    (it is then refused per instance with its reasons at ingest, not at upload)."""
    if data[128:132] == b"DICM" or any(data.startswith(m) for m in _DICOM_STARTS):
        return True
    instance = read_instance(data, decode=False)
    return not any(f.code == "not_dicom" for f in instance.findings)


@quiet
def probe_upload(path: str | Path) -> UploadProbe:
    """Judge an uploaded file before it is stored: a single DICOM file, or a zip whose every file is
    DICOM, unpacks within the limits and passes its checksum. Raises DicomInputError with the reason
    (naming members by number, never by name: a study's file names may carry a patient's name)."""
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PK\x03\x04" or (head[:2] == b"PK" and zipfile.is_zipfile(path)):
        return _probe_zip(path)
    if path.stat().st_size > ZIP_MAX_MEMBER_BYTES:
        raise DicomInputError(
            f"A single DICOM file may be at most {ZIP_MAX_MEMBER_BYTES // (1024 * 1024)} MiB.",
            reason="too_large",
        )
    if not _looks_dicom(path.read_bytes()):
        raise DicomInputError(
            "The file is neither a DICOM file nor a zip of DICOM files.", reason="not_dicom"
        )
    return UploadProbe(is_zip=False, members=1)


def _probe_zip(path: Path) -> UploadProbe:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DicomInputError(
            "The zip file cannot be read (it is damaged or not a zip).", reason="damaged"
        ) from exc
    with archive:
        members = _members(archive)
        if not members:
            raise DicomInputError("The zip file holds no files.", reason="not_dicom")
        if len(members) > ZIP_MAX_MEMBERS:
            raise DicomInputError(
                f"The zip holds {len(members)} files; a zipped study may hold at most {ZIP_MAX_MEMBERS}.",
                reason="too_large",
            )
        total = sum(m.file_size for m in members)
        biggest = max(m.file_size for m in members)
        if biggest > ZIP_MAX_MEMBER_BYTES or total > ZIP_MAX_TOTAL_BYTES:
            raise DicomInputError(
                f"The zipped study is too large once unpacked ({total / 1e6:.0f} MB; at most "
                f"{ZIP_MAX_TOTAL_BYTES // (1024 * 1024)} MiB in all and "
                f"{ZIP_MAX_MEMBER_BYTES // (1024 * 1024)} MiB per file).",
                reason="too_large",
            )
        packed = max(1, path.stat().st_size)
        if total > ZIP_RATIO_FLOOR and total > ZIP_MAX_RATIO * packed:
            raise DicomInputError(
                f"The zip unpacks to {total / packed:.0f} times its own size (at most {ZIP_MAX_RATIO}): "
                "refused as a likely zip bomb.",
                reason="too_large",
            )
        for position, member in enumerate(members, start=1):
            if member.flag_bits & 0x1:
                raise DicomInputError(
                    f"File #{position} in the zip is encrypted; unpack it and upload again.",
                    reason="damaged",
                )
            try:
                # zipfile stops at the declared size and checks the CRC, so a lying header cannot
                # inflate past the limits checked above.
                payload = archive.read(member)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
                raise DicomInputError(
                    f"File #{position} in the zip cannot be unpacked (damaged, or compressed in a way not "
                    "supported here).",
                    reason="damaged",
                ) from exc
            if not _looks_dicom(payload):
                raise DicomInputError(
                    f"File #{position} of {len(members)} in the zip is not a DICOM file; a zipped study "
                    "may hold only DICOM files (and a DICOMDIR).",
                    reason="not_dicom",
                )
    return UploadProbe(is_zip=True, members=len(members))


def _ignored(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith(".") or base.upper() == "DICOMDIR"


@quiet
def slice_order(instances: list[DicomInstance]) -> list[DicomInstance]:
    """Instances in viewing order: by series, then position along the slice normal, then number."""

    def key(instance: DicomInstance) -> tuple[str, float, float, int]:
        ds = instance.dataset
        position = 0.0
        number = 0.0
        try:
            if ds is not None and "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
                row = np.array([float(v) for v in ds.ImageOrientationPatient[:3]])
                col = np.array([float(v) for v in ds.ImageOrientationPatient[3:6]])
                position = float(np.dot(np.cross(row, col), [float(v) for v in ds.ImagePositionPatient]))
            if ds is not None and "InstanceNumber" in ds and ds.InstanceNumber is not None:
                number = float(ds.InstanceNumber)
        except (TypeError, ValueError, IndexError):
            pass
        return (instance.series_instance_uid, position, number, instance.index)

    return sorted(instances, key=key)
