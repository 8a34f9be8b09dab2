"""Medical images (DICOM): ingest with structural checks, active integrity records, rendering.

Framework-free: bytes in, dataclasses and arrays out.
"""

from detection.engine.dicom.reader import (
    DicomInputError,
    DicomInstance,
    DicomUpload,
    Finding,
    UploadProbe,
    decodable_transfer_syntaxes,
    probe_upload,
    read_instance,
    read_upload,
    read_zip_member,
    slice_order,
)

__all__ = [
    "DicomInputError",
    "DicomInstance",
    "DicomUpload",
    "Finding",
    "UploadProbe",
    "decodable_transfer_syntaxes",
    "probe_upload",
    "read_instance",
    "read_upload",
    "read_zip_member",
    "slice_order",
]
