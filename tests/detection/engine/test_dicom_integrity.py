"""Active integrity: a record per instance at ingest, and a later copy compared against it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from detection.engine.dicom import read_instance
from detection.engine.dicom.integrity import (
    IntegrityRecord,
    compare_instance,
    compare_study,
    integrity_record,
    pixel_digest,
)


@pytest.fixture(scope="module")
def dicom_dir(shared_media: Path) -> Path:
    folder = shared_media / "medical" / "dicom"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def record(data: bytes) -> IntegrityRecord:
    instance = read_instance(data)
    assert not instance.refused, [f.as_dict() for f in instance.findings]
    return integrity_record(instance)


def edited(path: Path, edit: Callable[[Dataset], None]) -> bytes:
    ds = pydicom.dcmread(path)
    edit(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def test_the_same_file_is_unchanged(dicom_dir: Path) -> None:
    signed = record((dicom_dir / "MR_small.dcm").read_bytes())

    change = compare_instance(signed, record((dicom_dir / "MR_small.dcm").read_bytes()))

    assert change.status == "unchanged" and change.encoding_note == ""


def test_the_padded_copy_has_identical_pixels_and_changed_encoding(dicom_dir: Path) -> None:
    signed = record((dicom_dir / "MR_small.dcm").read_bytes())

    change = compare_instance(signed, record((dicom_dir / "MR_small_padded.dcm").read_bytes()))

    assert change.status == "encoding_changed"
    assert change.changed_attributes == [] and not change.other_attributes_changed
    assert change.changed_frames == []
    assert "Same transfer syntax" in change.encoding_note


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("MR_small_RLE.dcm", "RLE Lossless"),
        ("MR_small_jp2klossless.dcm", "JPEG 2000 Image Compression (Lossless Only)"),
        ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS Lossless Image Compression"),
        ("MR_small_implicit.dcm", "Implicit VR Little Endian"),
        ("MR_small_bigendian.dcm", "Explicit VR Big Endian"),
    ],
)
def test_a_lossless_re_encoding_is_reported_as_such_never_as_tampering(
    dicom_dir: Path, name: str, syntax: str
) -> None:
    signed = record((dicom_dir / "MR_small.dcm").read_bytes())

    change = compare_instance(signed, record((dicom_dir / name).read_bytes()))

    assert change.status == "encoding_changed"
    assert change.encoding_note.endswith(f"→ {syntax}.")


def test_a_changed_clinical_attribute_is_named(dicom_dir: Path) -> None:
    path = dicom_dir / "CT_small.dcm"
    signed = record(path.read_bytes())

    def stretch(ds: Dataset) -> None:
        ds.PixelSpacing = ["0.9", "0.9"]
        ds.RescaleIntercept = "-924"

    change = compare_instance(signed, record(edited(path, stretch)))

    assert change.status == "metadata_changed"
    assert change.changed_attributes == ["PixelSpacing", "RescaleIntercept"]
    assert not change.other_attributes_changed


def test_a_changed_patient_name_is_a_metadata_change_without_naming_the_value(dicom_dir: Path) -> None:
    path = dicom_dir / "CT_small.dcm"
    signed = record(path.read_bytes())

    def rename(ds: Dataset) -> None:
        ds.PatientName = "Someone^Else"

    later = record(edited(path, rename))
    change = compare_instance(signed, later)

    assert change.status == "metadata_changed"
    assert change.changed_attributes == [] and change.other_attributes_changed
    assert "Someone" not in json.dumps(later.as_dict())


def test_changed_pixels_are_localised_to_their_tiles(dicom_dir: Path) -> None:
    path = dicom_dir / "CT_small.dcm"
    signed = record(path.read_bytes())

    def paint(ds: Dataset) -> None:
        pixels = ds.pixel_array.copy()
        pixels[40:46, 70:76] += 200  # inside the tile at rows 32-64, columns 64-96
        ds.PixelData = pixels.tobytes()

    change = compare_instance(signed, record(edited(path, paint)))

    assert change.status == "pixels_changed"
    assert change.changed_frames == [0]
    assert [r.as_dict() for r in change.regions] == [
        {"frame": 0, "top": 32, "left": 64, "bottom": 64, "right": 96, "tiles": 1}
    ]
    assert (change.changed_tiles, change.total_tiles) == (1, 16)


def test_a_changed_frame_of_a_multi_frame_instance_is_named(dicom_dir: Path) -> None:
    path = dicom_dir / "rtdose.dcm"
    signed = record(path.read_bytes())

    def paint(ds: Dataset) -> None:
        pixels = ds.pixel_array.copy()
        pixels[7, 2:4, 2:4] = 0
        ds.PixelData = pixels.tobytes()

    change = compare_instance(signed, record(edited(path, paint)))

    assert change.changed_frames == [7]
    assert change.regions[0].frame == 7


def test_a_study_comparison_names_missing_and_added_instances(dicom_dir: Path) -> None:
    mr = record((dicom_dir / "MR_small.dcm").read_bytes())
    ct = record((dicom_dir / "CT_small.dcm").read_bytes())
    dose = record((dicom_dir / "rtdose.dcm").read_bytes())

    comparison = compare_study([mr, ct], [record((dicom_dir / "MR_small_RLE.dcm").read_bytes()), dose])

    assert comparison.status == "instances_changed"
    assert comparison.missing == [ct.sop_instance_uid]
    assert comparison.added == [dose.sop_instance_uid]
    assert [c.status for c in comparison.instances] == ["encoding_changed"]


def test_the_record_survives_json_and_keeps_no_patient_data(dicom_dir: Path) -> None:
    path = dicom_dir / "CT_small.dcm"
    signed = record(path.read_bytes())
    text = json.dumps(signed.as_dict())
    ds = pydicom.dcmread(path)

    assert IntegrityRecord.from_dict(json.loads(text)) == signed
    # The SOP Instance UID is kept (it names the instance); names and IDs are not.
    for value in (str(ds.PatientName), str(ds.PatientID)):
        assert value and value not in text


def test_the_pixel_digest_ignores_byte_order_but_not_dtype() -> None:
    array = np.arange(12, dtype="<i2").reshape(3, 4)

    assert pixel_digest(array) == pixel_digest(array.astype(">i2"))
    assert pixel_digest(array) != pixel_digest(array.astype("<i4"))
    assert pixel_digest(array) != pixel_digest(array.reshape(4, 3))


def test_a_lossy_re_encoding_is_changed_pixels_and_says_it_is_lossy(dicom_dir: Path) -> None:
    from pydicom.uid import JPEG2000, JPEG2000Lossless

    path = dicom_dir / "CT_small.dcm"
    signed = record(path.read_bytes())

    lossy = compare_instance(
        signed,
        record(edited(path, lambda ds: ds.compress(JPEG2000, j2k_psnr=[50], generate_instance_uid=False))),
    )
    lossless = compare_instance(
        signed, record(edited(path, lambda ds: ds.compress(JPEG2000Lossless, generate_instance_uid=False)))
    )

    assert lossy.status == "pixels_changed" and lossy.lossy_reencoding
    assert lossy.changed_tiles > lossy.total_tiles // 2
    assert lossless.status == "encoding_changed" and not lossless.lossy_reencoding


def test_pixel_tampering_in_the_original_encoding_is_not_called_lossy(dicom_dir: Path) -> None:
    path = dicom_dir / "CT_small.dcm"
    signed = record(path.read_bytes())

    def paint(ds: Dataset) -> None:
        pixels = ds.pixel_array.copy()
        pixels[0:4, 0:4] = 0
        ds.PixelData = pixels.tobytes()

    assert not compare_instance(signed, record(edited(path, paint))).lossy_reencoding


def test_a_copy_with_a_new_sop_instance_uid_is_paired_by_pixels_or_by_place(dicom_dir: Path) -> None:
    from pydicom.uid import JPEG2000, RLELossless

    path = dicom_dir / "CT_small.dcm"
    signed = record(path.read_bytes())

    same_pixels = compare_study([signed], [record(edited(path, lambda ds: ds.compress(RLELossless)))])
    lossy = compare_study([signed], [record(edited(path, lambda ds: ds.compress(JPEG2000, j2k_psnr=[50])))])

    assert (same_pixels.missing, same_pixels.added) == ([], [])
    assert same_pixels.status == "metadata_changed"
    assert same_pixels.instances[0].changed_attributes == ["SOPInstanceUID"]
    assert (lossy.missing, lossy.added) == ([], [])
    assert lossy.status == "pixels_changed" and lossy.instances[0].lossy_reencoding
