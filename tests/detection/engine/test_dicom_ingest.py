"""DICOM ingest: every known violation in the shared pydicom test files is refused or flagged with the
right reason, good files decode frame by frame, zips are read as studies, and no message quotes a value."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from detection.engine.dicom import DicomInputError, decodable_transfer_syntaxes, read_instance, read_upload


@pytest.fixture(scope="module")
def dicom_dir(shared_media: Path) -> Path:
    folder = shared_media / "medical" / "dicom"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def codes(folder: Path, name: str) -> dict[str, str]:
    instance = read_instance((folder / name).read_bytes())
    return {f.code: f.severity for f in instance.findings}


@pytest.mark.parametrize(
    ("name", "code", "tag"),
    [
        ("MR_truncated.dcm", "truncated", "(7FE0,0010)"),
        ("rtplan_truncated.dcm", "truncated", "(300A,00B0)"),
        ("badVR.dcm", "bad_vr", "(0028,0008)"),
        ("no_meta.dcm", "missing_meta", ""),
        ("ExplVR_LitEndNoMeta.dcm", "missing_meta", ""),
        ("ExplVR_BigEndNoMeta.dcm", "missing_meta", ""),
        ("rtstruct.dcm", "missing_meta", ""),
        ("meta_missing_tsyntax.dcm", "broken_meta", "(0002,0010)"),
        ("JPEG2000-embedded-sequence-delimiter.dcm", "pixel_decode_failed", "(7FE0,0010)"),
        ("JPEG-lossy.dcm", "pixel_decode_failed", "(7FE0,0010)"),
    ],
)
def test_each_known_violation_is_refused_with_its_reason(
    dicom_dir: Path, name: str, code: str, tag: str
) -> None:
    instance = read_instance((dicom_dir / name).read_bytes())

    assert instance.refused
    assert not instance.frames
    found = [f for f in instance.findings if f.code == code and f.severity == "error"]
    assert found, [f.as_dict() for f in instance.findings]
    assert found[0].tag == tag


def test_the_truncation_message_says_where_the_file_stops(dicom_dir: Path) -> None:
    (finding,) = [f for f in read_instance((dicom_dir / "MR_truncated.dcm").read_bytes()).findings]

    assert finding.message == (
        "The file ends inside element (7FE0,0010): it declares 8192 bytes but only 8130 remain."
    )


def test_a_pixel_decode_failure_names_the_transfer_syntax(dicom_dir: Path) -> None:
    instance = read_instance((dicom_dir / "JPEG2000-embedded-sequence-delimiter.dcm").read_bytes())

    (finding,) = [f for f in instance.findings if f.code == "pixel_decode_failed"]
    assert "JPEG 2000 Image Compression" in finding.message


def test_a_good_file_has_no_findings_and_one_decoded_frame(dicom_dir: Path) -> None:
    instance = read_instance((dicom_dir / "CT_small.dcm").read_bytes())

    assert instance.findings == []
    assert not instance.refused
    assert len(instance.frames) == 1 and instance.frames[0].shape == (128, 128)
    assert instance.modality == "CT" and instance.sop_instance_uid


def test_multi_frame_pixels_come_back_one_array_per_frame(dicom_dir: Path) -> None:
    instance = read_instance((dicom_dir / "rtdose.dcm").read_bytes())

    assert len(instance.frames) == 15
    assert {f.shape for f in instance.frames} == {(10, 10)}
    # A reference UID with a leading zero, inside a sequence: flagged, not refused.
    assert {f.code: f.severity for f in instance.findings}["bad_vr"] == "warning"
    assert not instance.refused


def test_big_endian_pixels_come_back_in_native_order_equal_to_little_endian(dicom_dir: Path) -> None:
    little = read_instance((dicom_dir / "MR_small.dcm").read_bytes()).frames[0]
    big = read_instance((dicom_dir / "MR_small_bigendian.dcm").read_bytes()).frames[0]

    assert big.dtype.str == little.dtype.str == "<i2"
    assert np.array_equal(big, little)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_implicit.dcm",
        "MR_small_expb.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_every_lossless_encoding_of_mr_small_decodes_to_the_same_pixels(dicom_dir: Path, name: str) -> None:
    reference = read_instance((dicom_dir / "MR_small.dcm").read_bytes()).frames[0]
    other = read_instance((dicom_dir / name).read_bytes())

    assert not other.refused, [f.as_dict() for f in other.findings]
    assert np.array_equal(other.frames[0], reference)


def test_an_rt_plan_without_pixels_is_accepted_with_a_note(dicom_dir: Path) -> None:
    found = codes(dicom_dir, "rtplan.dcm")

    assert found["no_pixel_data"] == "info"
    assert "error" not in found.values()


def test_a_dataset_that_contradicts_its_transfer_syntax_is_flagged_and_still_decodes(dicom_dir: Path) -> None:
    instance = read_instance((dicom_dir / "SC_rgb_jpeg.dcm").read_bytes())

    assert [f.code for f in instance.findings] == ["encoding_mismatch"]
    assert instance.frames[0].shape == (256, 256, 3)


def test_no_message_quotes_a_value_from_the_file(dicom_dir: Path) -> None:
    for path in sorted(dicom_dir.glob("*.dcm")):
        try:
            upload = read_upload(path.read_bytes())
        except DicomInputError as exc:
            messages = [str(exc)]
        else:
            messages = [f.message for i in upload.instances for f in i.findings]
            values = {
                str(i.dataset.get(k, ""))
                for i in upload.instances
                if i.dataset is not None
                for k in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate")
            } - {""}
            for message in messages:
                assert not [v for v in values if v in message], (path.name, message)
        for message in messages:
            assert "'1A'" not in message and "Doe" not in message


def test_a_zipped_study_reads_every_dicom_member_and_skips_the_rest(dicom_dir: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("study/a.dcm", (dicom_dir / "MR_small.dcm").read_bytes())
        archive.writestr("study/b.dcm", (dicom_dir / "MR_truncated.dcm").read_bytes())
        archive.writestr("study/notes.txt", b"hello")
        archive.writestr("DICOMDIR", b"ignored")

    upload = read_upload(buffer.getvalue())

    assert upload.is_zip
    assert [i.index for i in upload.instances] == [1, 2]
    assert [i.refused for i in upload.instances] == [False, True]
    assert [f.code for f in upload.findings] == ["not_dicom"]
    assert "#3" in upload.findings[0].message and "notes" not in upload.findings[0].message


def test_anything_else_is_refused_as_input() -> None:
    with pytest.raises(DicomInputError):
        read_upload(b"not a dicom file at all" * 20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", b"nothing")
    with pytest.raises(DicomInputError, match="no DICOM"):
        read_upload(buffer.getvalue())


def test_the_decoder_table_says_which_transfer_syntaxes_decode_here() -> None:
    table = decodable_transfer_syntaxes()

    assert table["1.2.840.10008.1.2.1"] and table["1.2.840.10008.1.2.5"]
    assert table["1.2.840.10008.1.2.4.90"] and table["1.2.840.10008.1.2.4.50"]
    assert not table["1.2.840.10008.1.2.4.100"]  # MPEG-2 video: no decoder


def test_one_member_of_a_zipped_study_is_read_alone_by_its_index(dicom_dir: Path) -> None:
    from detection.engine.dicom import read_zip_member

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("b.dcm", (dicom_dir / "CT_small.dcm").read_bytes())
        archive.writestr("a.dcm", (dicom_dir / "MR_small.dcm").read_bytes())
    upload = read_upload(buffer.getvalue())

    for instance in upload.instances:
        alone = read_zip_member(io.BytesIO(buffer.getvalue()), instance.index)
        assert alone.sop_instance_uid == instance.sop_instance_uid
        assert np.array_equal(alone.frames[0], instance.frames[0])
    with pytest.raises(DicomInputError):
        read_zip_member(io.BytesIO(buffer.getvalue()), 3)


def test_reading_bad_files_logs_and_warns_no_value_from_them(dicom_dir: Path) -> None:
    """What reaches the application's logs (a handler on the root logger) and its warnings (which
    Django routes into the logs) quotes nothing from the files."""
    import logging
    import warnings

    from detection.engine.dicom.integrity import integrity_record

    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    keep = Keep()
    root = logging.getLogger()
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for name in ("badVR.dcm", "rtdose.dcm", "no_meta.dcm", "CT_small.dcm"):
                instance = read_instance((dicom_dir / name).read_bytes())
                if not instance.refused:
                    integrity_record(instance)
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    text = "\n".join(keep.lines + [str(w.message) for w in caught])

    assert "1A" not in text  # badVR.dcm's broken Number of Frames
    assert "0123.4567" not in text  # rtdose.dcm's broken reference UID
    assert "CompressedSamples" not in text  # CT_small.dcm's patient name
