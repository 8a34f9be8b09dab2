"""An independent walk over a DICOM file's bytes: the meta header and every element's declared length.

pydicom reads leniently: a value cut short by the end of the file comes back shorter, without an
error. This walk checks that every declared length (and every undefined-length sequence or
encapsulated pixel data) ends inside the file, so a truncated copy is refused with the tag where it
stops. It reports tags and byte offsets only, never values.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

#: Explicit-VR VRs whose length is a 4-byte field after two reserved bytes.
LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQUENCE_END = 0xFFFEE0DD
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
MAX_DEPTH = 32


@dataclass(frozen=True)
class MetaHeader:
    """What the walk learned from the file meta information (group 0002)."""

    present: bool
    transfer_syntax: str  # "" when the meta header is missing or names none
    dataset_offset: int  # where the data set starts
    group_length_ok: bool


@dataclass(frozen=True)
class Truncation:
    """Where the file stops before a declared length ends."""

    tag: int
    offset: int
    needed: int
    available: int

    @property
    def tag_text(self) -> str:
        return f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"


class _Truncated(Exception):
    def __init__(self, found: Truncation) -> None:
        super().__init__("truncated")
        self.found = found


class _Malformed(Exception):
    pass


def meta_header(data: bytes) -> MetaHeader:
    """Parse the preamble and the explicit-VR little-endian group 0002."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return MetaHeader(present=False, transfer_syntax="", dataset_offset=0, group_length_ok=False)
    pos = 132
    transfer_syntax = ""
    group_length: int | None = None
    group_start = pos
    while pos + 8 <= len(data):
        group, element = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6]
        if vr in LONG_VRS:
            if pos + 12 > len(data):
                break
            (length,) = struct.unpack_from("<I", data, pos + 8)
            value_at = pos + 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            value_at = pos + 8
        if length == UNDEFINED or value_at + length > len(data):
            break
        value = data[value_at : value_at + length]
        if element == 0x0000 and length == 4:
            (group_length,) = struct.unpack("<I", value)
            group_start = value_at + 4
        elif element == 0x0010:
            transfer_syntax = value.rstrip(b"\x00 ").decode("ascii", errors="replace")
        pos = value_at + length
    group_length_ok = group_length is None or group_start + group_length == pos
    return MetaHeader(
        present=True, transfer_syntax=transfer_syntax, dataset_offset=pos, group_length_ok=group_length_ok
    )


def find_truncation(data: bytes, meta: MetaHeader) -> Truncation | None:
    """The first element whose declared extent runs past the end of the data set, or None."""
    body = data[meta.dataset_offset :]
    syntax = meta.transfer_syntax or IMPLICIT_LE
    if syntax == DEFLATED:
        try:
            body = zlib.decompressobj(-zlib.MAX_WBITS).decompress(body)
        except zlib.error:
            return Truncation(tag=0, offset=meta.dataset_offset, needed=1, available=0)
    implicit = encoded_implicit(body, declared_implicit=syntax == IMPLICIT_LE)
    little = syntax != EXPLICIT_BE
    try:
        _walk(body, 0, len(body), implicit=implicit, little=little, depth=0, until=None)
    except _Truncated as exc:
        return exc.found
    except _Malformed:
        return None  # not a length problem; pydicom's own reading reports it
    return None


def encoded_implicit(body: bytes, *, declared_implicit: bool) -> bool:
    """Whether the data set is really implicit VR: some writers contradict their transfer syntax.

    Explicit VR puts two upper-case letters after the first tag; anything else is implicit.
    """
    if len(body) < 6:
        return declared_implicit
    vr = body[4:6]
    return not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90)


def _walk(
    data: bytes, pos: int, end: int, *, implicit: bool, little: bool, depth: int, until: int | None
) -> int:
    """Walk elements from `pos` up to `end` (or the delimiter `until`); return where it stopped."""
    if depth > MAX_DEPTH:
        raise _Malformed
    order = "<" if little else ">"
    while pos < end:
        if pos + 8 > end:
            raise _Truncated(Truncation(tag=0, offset=pos, needed=8, available=end - pos))
        group, element = struct.unpack_from(order + "HH", data, pos)
        tag = group << 16 | element
        if tag in (ITEM_END, SEQUENCE_END):
            if until == tag:
                return pos + 8
            raise _Malformed
        vr = b""
        if implicit or group == 0xFFFE:
            (length,) = struct.unpack_from(order + "I", data, pos + 4)
            value_at = pos + 8
        else:
            vr = data[pos + 4 : pos + 6]
            if vr in LONG_VRS:
                if pos + 12 > end:
                    raise _Truncated(Truncation(tag=tag, offset=pos, needed=12, available=end - pos))
                (length,) = struct.unpack_from(order + "I", data, pos + 8)
                value_at = pos + 12
            else:
                (length,) = struct.unpack_from(order + "H", data, pos + 6)
                value_at = pos + 8
        if length == UNDEFINED:
            # A sequence, encapsulated pixel data or UN of undefined length: items until the end mark.
            inner_implicit = implicit or vr == b"UN"
            pos = _items(
                data, value_at, end, implicit=inner_implicit, little=little, depth=depth + 1, tag=tag
            )
            continue
        if value_at + length > end:
            raise _Truncated(Truncation(tag=tag, offset=pos, needed=length, available=max(0, end - value_at)))
        if vr == b"SQ":
            _items(
                data, value_at, value_at + length, implicit=implicit, little=little, depth=depth + 1, tag=tag
            )
        pos = value_at + length
    if until is not None:
        raise _Truncated(Truncation(tag=until, offset=pos, needed=8, available=0))
    return pos


def _items(data: bytes, pos: int, end: int, *, implicit: bool, little: bool, depth: int, tag: int) -> int:
    """Walk the items of a sequence or encapsulated pixel data; return the offset after them."""
    order = "<" if little else ">"
    defined_end = end
    while True:
        if pos >= defined_end:
            return pos
        if pos + 8 > end:
            raise _Truncated(Truncation(tag=tag, offset=pos, needed=8, available=end - pos))
        group, element, length = struct.unpack_from(order + "HHI", data, pos)
        item_tag = group << 16 | element
        if item_tag == SEQUENCE_END:
            return pos + 8
        if item_tag != ITEM:
            raise _Malformed
        value_at = pos + 8
        if length == UNDEFINED:
            pos = _walk(data, value_at, end, implicit=implicit, little=little, depth=depth, until=ITEM_END)
            continue
        if value_at + length > end:
            raise _Truncated(Truncation(tag=tag, offset=pos, needed=length, available=max(0, end - value_at)))
        if tag != 0x7FE00010:  # pixel data fragments are opaque
            _walk(
                data, value_at, value_at + length, implicit=implicit, little=little, depth=depth, until=None
            )
        pos = value_at + length
