"""The hostile-upload corpus: files that every upload endpoint must refuse with a clear 4xx.

Each file is small (the largest is under half a megabyte) and made here from scratch, byte for
byte the same on every run: damaged and truncated MP4, WebM, PNG, JPEG and WAV, random bytes, files
that pretend to be another type, polyglots, pictures that declare huge sizes, a decompression bomb,
hours-long videos with and without a duration in their header, audio-only files, broken checksums,
web content, and names made to attack a file system or a page (path traversal, NUL, right-to-left
override, emoji, a 300-character name).

None of them is acceptable anywhere: a file that some endpoint could rightly accept (a valid
image at the verify page, a valid WAV as a voice sample) is not hostile and is not here.

    python tests/hostile/make_corpus.py OUTDIR    # writes the files and manifest.json
"""

from __future__ import annotations

import io
import json
import random
import struct
import sys
import zipfile
import zlib
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

#: Seed of every random byte in the corpus, so two runs write identical files.
SEED = 9
#: Muxers otherwise write a random segment id and the current date (Matroska) or their version.
BITEXACT = {"fflags": "+bitexact"}


@dataclass(frozen=True)
class HostileFile:
    """One corpus file: what it is, the name an attacker sends with it, and where it was written."""

    slug: str  # unique and safe on any file system: the name on disk
    upload_name: str  # the name sent in the upload (may hold traversal, NUL, RTL...)
    description: str
    path: Path

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


# --- building blocks -----------------------------------------------------------------------------


def _rgb(width: int, height: int, shade: int = 0) -> np.ndarray:
    """A deterministic picture with some texture (flat frames compress to almost nothing)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack(
        [(xs * 7 + shade) % 256, (ys * 5 + shade) % 256, ((xs + ys) * 3 + shade) % 256], axis=-1
    ).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes, *, crc_ok: bool = True) -> bytes:
    crc = zlib.crc32(kind + data) ^ (0 if crc_ok else 0xFFFFFFFF)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png(
    width: int,
    height: int,
    *,
    ihdr_crc_ok: bool = True,
    bit_depth: int = 8,
    colour_type: int = 2,
    raw: bytes | None = None,
    end: bool = True,
) -> bytes:
    """A PNG written chunk by chunk, so any field (sizes, checksums) can be made to lie."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    if raw is None:
        rows = _rgb(width, height)
        raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))
    body = _png_chunk(b"IHDR", ihdr, crc_ok=ihdr_crc_ok) + _png_chunk(b"IDAT", zlib.compress(raw, 9))
    return PNG_SIGNATURE + body + (_png_chunk(b"IEND", b"") if end else b"")


def jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(_rgb(width, height)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def wav(seconds: float, *, rate: int = 8000, data_size: int | None = None) -> bytes:
    """8-bit mono PCM; the header may declare another data size than the file holds."""
    count = int(seconds * rate)
    samples = (128 + 60 * np.sin(np.arange(count) * 2 * np.pi * 440 / rate)).astype(np.uint8).tobytes()
    declared = count if data_size is None else data_size
    header = b"RIFF" + struct.pack("<I", min(36 + declared, 0xFFFF_FFFF)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate, 1, 8)
    return header + b"data" + struct.pack("<I", declared) + samples


def _encoded(
    folder: Path,
    name: str,
    *,
    container_format: str,
    video_codec: str | None,
    size: tuple[int, int] = (32, 32),
    frames: int = 6,
    fps: int = 5,
    audio_codec: str | None = None,
    audio_seconds: float = 1.0,
    faststart: bool = False,
) -> bytes:
    """Encode a short clip with real encoders (deterministic: one thread, fixed input)."""
    import av

    path = folder / f".{name}.tmp"
    width, height = size
    options = {**BITEXACT, "movflags": "+faststart"} if faststart else BITEXACT
    with av.open(str(path), "w", format=container_format, options=options) as container:
        video = None
        if video_codec is not None:
            video = container.add_stream(video_codec, rate=fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.thread_count = 1
        audio = None
        if audio_codec is not None:
            audio = container.add_stream(audio_codec, rate=48_000)
            audio.layout = "mono"
        if video is not None:
            for index in range(frames):
                frame = av.VideoFrame.from_ndarray(_rgb(width, height, index * 9), format="rgb24")
                frame.pts = index
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode(None):
                container.mux(packet)
        if audio is not None:
            samples = (0.2 * np.sin(np.arange(int(audio_seconds * 48_000)) * 0.05)).astype(np.float32)
            for start in range(0, len(samples), 960):
                chunk = av.AudioFrame.from_ndarray(
                    samples[start : start + 960].reshape(1, -1), format="flt", layout="mono"
                )
                chunk.sample_rate = 48_000
                chunk.pts = start
                for packet in audio.encode(chunk):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    data = path.read_bytes()
    path.unlink()
    return data


def _vp8_frames() -> tuple[bytes, bytes]:
    """One 16×16 VP8 key frame and one inter frame, to be repeated as often as a file needs."""
    import av

    buffer = io.BytesIO()
    packets: list[bytes] = []
    with av.open(buffer, "w", format="webm", options=BITEXACT) as container:
        stream = container.add_stream("libvpx", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.thread_count = 1
        for index in range(2):
            frame = av.VideoFrame.from_ndarray(_rgb(16, 16), format="rgb24")
            frame.pts = index
            packets += [bytes(packet) for packet in stream.encode(frame)]
        packets += [bytes(packet) for packet in stream.encode(None)]
    return packets[0], packets[1]


def long_webm(
    seconds: float,
    *,
    step: float = 1.0,
    duration: str = "kept",
    doc_type: str = "webm",
) -> bytes:
    """A 16×16 VP8 video that lasts `seconds`, one frame every `step` seconds.

    The frames are copies of two encoded ones, so four hours take a few hundred kilobytes and a
    fraction of a second. `duration`: "kept" (the header says how long it is), "removed" (the
    Segment Duration is blanked into a Void element, as a live stream has none) or "short" (the
    header claims ten seconds).
    """
    import av

    key, inter = _vp8_frames()
    buffer = io.BytesIO()
    time_base = Fraction(1, 1000)
    muxer = "webm" if doc_type == "webm" else "matroska"
    with av.open(buffer, "w", format=muxer, options=BITEXACT) as container:
        stream = container.add_stream("libvpx", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.time_base = time_base
        for index in range(int(seconds / step)):
            packet = av.Packet(key if index == 0 else inter)
            packet.stream = stream
            packet.pts = packet.dts = int(index * step * 1000)
            packet.duration = int(step * 1000)
            packet.time_base = time_base
            packet.is_keyframe = index == 0
            container.mux(packet)
    data = buffer.getvalue()
    if duration == "kept":
        return data
    # Segment Info › Duration: ID 0x4489, size 8, a double in milliseconds.
    at = data.find(b"\x44\x89\x88")
    if at < 0:
        raise RuntimeError("the muxer wrote no Segment Duration to remove")
    if duration == "removed":
        replacement = b"\xec\x89" + bytes(9)  # a Void element of the same 11 bytes
    else:
        replacement = b"\x44\x89\x88" + struct.pack(">d", 10_000.0)
    return data[:at] + replacement + data[at + 11 :]


def long_mp4(folder: Path, seconds: float, *, step: float) -> bytes:
    """An H.264 MP4 of `seconds` with one frame every `step` seconds (its header says how long)."""
    import av

    path = folder / ".long.mp4.tmp"
    with av.open(str(path), "w", format="mp4", options=BITEXACT) as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.thread_count = 1
        stream.codec_context.time_base = Fraction(1, 1000)
        for index in range(int(seconds / step)):
            frame = av.VideoFrame.from_ndarray(_rgb(16, 16), format="rgb24")
            frame.pts = int(index * step * 1000)
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = path.read_bytes()
    path.unlink()
    return data


def _patch_box_field(data: bytes, box: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite bytes at `offset` into the payload of the first `box` (an MP4 atom)."""
    at = data.find(box)
    if at < 0:
        raise RuntimeError(f"no {box!r} box")
    start = at + 4 + offset
    return data[:start] + value + data[start + len(value) :]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            # A fixed timestamp keeps the archive byte-identical between runs.
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()


def _jpeg_sized(data: bytes, width: int, height: int) -> bytes:
    """Rewrite a baseline JPEG's frame header (SOF0) to declare another size."""
    at = data.find(b"\xff\xc0")
    if at < 0:
        raise RuntimeError("no baseline frame header")
    # SOF0: marker, length (2), precision (1), height (2), width (2).
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def _vp8_sized(data: bytes, width: int, height: int) -> bytes:
    """Make a WebM's VP8 key frame and track header declare another size."""
    key, _ = _vp8_frames()
    at = data.find(key)
    if at < 0:
        raise RuntimeError("no VP8 key frame")
    # A VP8 key frame: 3-byte tag, start code 9d 01 2a, then 14-bit width and height (little endian).
    patched = key[:6] + struct.pack("<HH", width, height) + key[10:]
    data = data[:at] + patched + data[at + len(key) :]
    # Matroska PixelWidth (B0) and PixelHeight (BA), written with one-byte sizes.
    for element, value in ((b"\xb0", width), (b"\xba", height)):
        found = data.find(element + b"\x81")
        if found >= 0:
            data = data[:found] + element + b"\x82" + struct.pack(">H", value) + data[found + 3 :]
    return data


def _mp4_bad_sizes(data: bytes) -> bytes:
    # stsz payload: version/flags (4), default size (4), count (4), then one size per sample.
    return _patch_box_field(data, b"stsz", 12, struct.pack(">I", 0x7FFF_FFF0))


def _mp4_bad_offsets(data: bytes) -> bytes:
    # stco payload: version/flags (4), count (4), then one 32-bit offset per chunk.
    return _patch_box_field(data, b"stco", 8, struct.pack(">I", 0x7FFF_FFF0))


# --- the corpus ----------------------------------------------------------------------------------


def make_corpus(folder: Path) -> list[HostileFile]:
    """Write every corpus file into `folder` and return them (same bytes on every run)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    corpus: list[HostileFile] = []

    def add(slug: str, upload_name: str, description: str, data: bytes) -> None:
        if any(item.slug == slug for item in corpus):
            raise RuntimeError(f"two corpus files are called {slug}")
        path = folder / f"{slug}.bin"
        path.write_bytes(data)
        corpus.append(HostileFile(slug, upload_name, description, path))

    def noise(size: int) -> bytes:
        return bytes(rng.getrandbits(8) for _ in range(size))

    # The index (moov) first, as the platform writes and phones upload: a cut keeps the index.
    mp4 = _encoded(
        folder, "mp4", container_format="mp4", video_codec="libx264", audio_codec="aac", faststart=True
    )
    # Four seconds: cut in half, its data stops well short of what its header says.
    webm = _encoded(
        folder,
        "webm",
        container_format="webm",
        video_codec="libvpx",
        audio_codec="libopus",
        frames=20,
        audio_seconds=4.0,
    )
    good_png = png(64, 64)
    good_jpeg = jpeg(64, 64)
    bad_crc_png = png(64, 64, ihdr_crc_ok=False)
    ftyp = mp4[: int.from_bytes(mp4[:4], "big")]
    tiny_png = png(8, 8)
    tiny_jpeg = jpeg(8, 8)
    random_block = noise(4096)
    cut_jpeg = good_jpeg[: len(good_jpeg) * 2 // 3]
    html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n"
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b"<script>fetch('/api/v1/ledger/entries/')</script></svg>\n"
    )
    sample_zip = _zip({"readme.txt": b"hello", "payload.sh": b"#!/bin/sh\nrm -rf /\n"})

    # Empty and nearly empty.
    add("empty-mp4", "empty.mp4", "zero bytes named .mp4", b"")
    add("empty-png", "empty.png", "zero bytes named .png", b"")
    add("empty-wav", "empty.wav", "zero bytes named .wav", b"")
    add("empty-webm", "empty.webm", "zero bytes named .webm", b"")
    add("one-byte", "one.mp4", "a single NUL byte", b"\x00")
    add("whitespace", "blank.jpg", "only spaces and newlines", b" \n" * 40)
    # Random bytes, bare and behind each format's magic number.
    add("random-mp4", "random.mp4", "4 KiB of random bytes named .mp4", random_block)
    add("random-png", "random.png", "random bytes named .png", noise(2048))
    add("random-wav", "random.wav", "random bytes named .wav", noise(2048))
    add("random-after-ftyp", "ftyp.mp4", "a real ftyp box, then random bytes", ftyp + noise(4096))
    add(
        "random-after-ebml",
        "ebml.webm",
        "the EBML magic, then random bytes",
        b"\x1a\x45\xdf\xa3" + noise(4096),
    )
    add(
        "random-after-png-signature",
        "sig.png",
        "the PNG signature, then random bytes",
        PNG_SIGNATURE + noise(2048),
    )
    add(
        "random-after-soi",
        "soi.jpg",
        "the JPEG start marker, then random bytes",
        b"\xff\xd8\xff\xe0" + noise(2048),
    )
    add(
        "random-after-riff-wave",
        "riff.wav",
        "a RIFF/WAVE header, then random bytes",
        b"RIFF\x00\x10\x00\x00WAVE" + noise(2048),
    )
    add(
        "random-after-riff-avi",
        "riff.avi",
        "a RIFF/AVI header, then random bytes",
        b"RIFF\x00\x10\x00\x00AVI " + noise(2048),
    )
    add(
        "random-after-mpeg-pack",
        "pack.mpg",
        "an MPEG pack start code, then random bytes",
        b"\x00\x00\x01\xba" + noise(2048),
    )
    add("random-after-ogg", "page.ogg", "the Ogg capture pattern, then random bytes", b"OggS" + noise(2048))
    add("random-after-flac", "stream.flac", "the FLAC marker, then random bytes", b"fLaC" + noise(2048))
    # Truncated real files.
    add("mp4-half", "cut.mp4", "a real MP4 cut in half", mp4[: len(mp4) // 2])
    add("mp4-ftyp-only", "header.mp4", "only the ftyp box of a real MP4", ftyp)
    add("mp4-first-kib", "start.mp4", "the first KiB of a real MP4", mp4[:1024])
    add("mp4-no-mdat", "index-only.mp4", "a real MP4 without its media data", mp4[: mp4.find(b"mdat") - 4])
    add("webm-half", "cut.webm", "a real WebM cut in half", webm[: len(webm) // 2])
    add("webm-ebml-header-only", "header.webm", "only the EBML header of a real WebM", webm[:40])
    add(
        "png-cut-in-idat",
        "cut.png",
        "a PNG cut in the middle of its image data",
        good_png[: len(good_png) // 2],
    )
    add("png-signature-only", "signature.png", "only the 8-byte PNG signature", PNG_SIGNATURE)
    add("png-header-only", "ihdr.png", "a PNG signature and header, no image data", good_png[:33])
    add("jpeg-cut", "cut.jpg", "a JPEG cut two thirds in (FFmpeg greys the rest; Pillow refuses)", cut_jpeg)
    add(
        "jpeg-markers-only",
        "soi.jpg",
        "a JPEG start and end marker with nothing between",
        b"\xff\xd8\xff\xd9",
    )
    add(
        "jpeg-headers-only",
        "headers.jpg",
        "a JPEG's headers without its scan",
        good_jpeg[: good_jpeg.find(b"\xff\xda")],
    )
    add("wav-header-only", "header.wav", "a WAV header with no samples", wav(0.0))
    add("wav-header-cut", "cut.wav", "a WAV cut inside its header", wav(1.0)[:30])
    # One type under another's name, or a kind no endpoint takes.
    add("png-named-mp4", "holiday.mp4", "an 8×8 PNG named .mp4", tiny_png)
    add("jpeg-named-webm", "clip.webm", "an 8×8 JPEG named .webm", tiny_jpeg)
    add("jpeg-named-wav", "voice.wav", "an 8×8 JPEG named .wav", tiny_jpeg)
    add("mp4-named-png", "photo.png", "a real MP4 cut short, named .png", mp4[: len(mp4) // 3])
    add("gif", "anim.gif", "a GIF (not an accepted format)", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    add(
        "bmp-named-png",
        "scan.png",
        "a BMP named .png",
        b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + noise(64),
    )
    add(
        "webp-named-jpg", "photo.jpg", "a WebP header named .jpg", b"RIFF\x24\x00\x00\x00WEBPVP8 " + noise(32)
    )
    add("tiff-named-jpg", "scan.jpg", "a TIFF header named .jpg", b"II*\x00\x08\x00\x00\x00" + noise(64))
    add(
        "pdf-named-png",
        "report.png",
        "a PDF named .png",
        b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    )
    add("zip-named-mp4", "archive.mp4", "a ZIP archive named .mp4", sample_zip)
    add(
        "exe-named-mp4",
        "setup.mp4",
        "a Windows executable header named .mp4",
        b"MZ\x90\x00" + bytes(60) + b"PE\x00\x00" + noise(256),
    )
    add(
        "elf-named-webm",
        "tool.webm",
        "an ELF executable header named .webm",
        b"\x7fELF\x02\x01\x01" + noise(256),
    )
    add("text-named-mp4", "notes.mp4", "plain text named .mp4", b"Patient notes: not a video.\n" * 30)
    # Web content: it must never be stored or served back.
    add("html-named-mp4", "page.mp4", "an HTML page with a script, named .mp4", html)
    add("html", "page.html", "an HTML page with a script", html)
    add("svg-named-png", "image.png", "an SVG with script and onload, named .png", svg)
    add("svg", "image.svg", "an SVG with script and onload", svg)
    add("php-named-jpg", "shell.jpg", "a PHP web shell named .jpg", b"<?php system($_GET['c']); ?>\n")
    add(
        "script-named-webm",
        "app.webm",
        "JavaScript named .webm",
        b"fetch('/api/v1/auth/token/',{method:'POST'})\n",
    )
    add("jpeg-then-html", "pic.jpg", "an 8×8 JPEG followed by an HTML page", tiny_jpeg + html)
    # Polyglots: one file, two readings.
    add("polyglot-jpeg-zip", "photo.jpg", "an 8×8 JPEG with a ZIP archive appended", tiny_jpeg + sample_zip)
    add(
        "polyglot-cut-jpeg-zip",
        "photo.jpg",
        "a JPEG whose scan is cut and replaced by a ZIP",
        cut_jpeg + sample_zip,
    )
    add("polyglot-zip-jpeg", "photo.zip.jpg", "a ZIP archive with a JPEG appended", sample_zip + good_jpeg)
    add("polyglot-ftyp-png", "mixed.mp4", "an MP4 ftyp box followed by a PNG", ftyp + good_png)
    add("polyglot-png-mp4", "mixed.png", "a PNG signature followed by an MP4", PNG_SIGNATURE + mp4)
    add(
        "polyglot-ebml-jpeg",
        "mixed.webm",
        "the EBML magic followed by a JPEG",
        b"\x1a\x45\xdf\xa3" + good_jpeg,
    )
    add("polyglot-soi-mp4", "mixed.jpg", "a JPEG start marker followed by an MP4", b"\xff\xd8\xff" + mp4)
    # Pictures too small or declaring huge sizes.
    add(
        "png-100000-square",
        "huge.png",
        "a PNG header declaring 100000×100000 pixels",
        png(100_000, 100_000, raw=b"\x00" * 64),
    )
    add(
        "png-bomb",
        "bomb.png",
        "a decompression bomb: 20000×20000 1-bit PNG, 50 MB of zeros zipped",
        png(20_000, 20_000, bit_depth=1, colour_type=0, raw=bytes(20_000 * 2501)),
    )
    add("png-too-wide", "wide.png", "a real 4100×16 PNG (wider than the 4096 limit)", png(4100, 16))
    add("png-too-small", "dot.png", "a real 8×8 PNG (below the 16-pixel minimum)", tiny_png)
    add(
        "jpeg-declares-huge",
        "huge.jpg",
        "a JPEG whose frame header declares 65000×65000",
        _jpeg_sized(good_jpeg, 65_000, 65_000),
    )
    add(
        "mp4-too-wide",
        "wide.mp4",
        "a real H.264 MP4 of 4112×16 pixels",
        _encoded(folder, "wide", container_format="mp4", video_codec="libx264", size=(4112, 16), frames=2),
    )
    add(
        "mp4-too-small",
        "dot.mp4",
        "a real H.264 MP4 of 8×8 pixels",
        _encoded(folder, "dot", container_format="mp4", video_codec="libx264", size=(8, 8), frames=2),
    )
    add(
        "webm-declares-huge",
        "huge.webm",
        "a VP8 WebM whose frames declare 16383×16383",
        _vp8_sized(long_webm(2.0), 16383, 16383),
    )
    # Hours long, said or unsaid.
    add(
        "webm-4h-no-duration",
        "long.webm",
        "4 h of 16×16 VP8 at 1 fps with the Segment Duration removed",
        long_webm(4 * 3600, duration="removed"),
    )
    add(
        "webm-4h-duration",
        "long-declared.webm",
        "4 h of VP8 (one frame a minute), duration in the header",
        long_webm(4 * 3600, step=60.0),
    )
    add(
        "webm-4h-short-duration",
        "long-lying.webm",
        "4 h of VP8 whose header claims 10 s",
        long_webm(4 * 3600, step=60.0, duration="short"),
    )
    add(
        "mkv-4h-no-duration",
        "long.mkv",
        "4 h of VP8 in Matroska (not WebM), no duration",
        long_webm(4 * 3600, step=30.0, duration="removed", doc_type="matroska"),
    )
    add("mp4-4h", "long.mp4", "4 h of H.264 (one frame a minute)", long_mp4(folder, 4 * 3600, step=60.0))
    add("wav-4h-2hz", "long.wav", "4 h of sound in a WAV sampled twice a second", wav(4 * 3600, rate=2))
    add(
        "wav-4h-2hz-unsized",
        "live.wav",
        "the same with a streaming header (no data size)",
        wav(4 * 3600, rate=2, data_size=0xFFFF_FFFF),
    )
    # Sound without a picture, where a picture is needed (and refused as a sample: it is "video").
    add(
        "audio-only-mp4",
        "voice.mp4",
        "AAC sound only, in MP4",
        _encoded(folder, "m4a", container_format="mp4", video_codec=None, audio_codec="aac"),
    )
    add(
        "audio-only-m4a",
        "voice.m4a",
        "AAC sound only, in MP4, named .m4a",
        _encoded(
            folder, "m4a2", container_format="mp4", video_codec=None, audio_codec="aac", audio_seconds=0.5
        ),
    )
    add(
        "audio-only-webm",
        "voice.webm",
        "Opus sound only, in WebM",
        _encoded(folder, "opus", container_format="webm", video_codec=None, audio_codec="libopus"),
    )
    add(
        "audio-only-mkv",
        "voice.mkv",
        "Opus sound only, in Matroska",
        _encoded(folder, "mka", container_format="matroska", video_codec=None, audio_codec="libopus"),
    )
    # Broken checksums and indexes.
    add(
        "png-bad-ihdr-crc",
        "portrait.png",
        "a 64×64 PNG whose header checksum is wrong (FFmpeg reads it, Pillow does not)",
        bad_crc_png,
    )
    add(
        "png-bad-ihdr-crc-16",
        "small.png",
        "a 16×16 PNG whose header checksum is wrong",
        png(16, 16, ihdr_crc_ok=False),
    )
    add("png-bad-ihdr-crc-named-mp4", "clip.mp4", "the bad-checksum PNG named .mp4", bad_crc_png)
    add(
        "mp4-bad-sample-sizes",
        "index.mp4",
        "an MP4 whose sample-size table points past the file",
        _mp4_bad_sizes(mp4),
    )
    add(
        "mp4-bad-chunk-offsets",
        "offsets.mp4",
        "an MP4 whose chunk offsets point past the file",
        _mp4_bad_offsets(mp4),
    )
    # Names made to attack a path, a header or a page (each with hostile content too).
    add("name-traversal", "../../etc/passwd.mp4", "path traversal in the name", random_block)
    add(
        "name-traversal-windows",
        "..\\..\\windows\\system32\\evil.mp4",
        "Windows path traversal in the name",
        mp4[:1024],
    )
    add("name-absolute", "/etc/passwd", "an absolute path as the name", bad_crc_png)
    add(
        "name-encoded-traversal",
        "%2e%2e%2f%2e%2e%2fpasswd.png",
        "URL-encoded traversal in the name",
        good_png[:33],
    )
    add("name-nul", "clip\x00.png.mp4", "a NUL byte inside the name", tiny_png)
    add("name-rtl", "invoice\u202egnp.mp4", "a right-to-left override hiding the real extension", html)
    add(
        "name-emoji",
        "\U0001f600\U0001f3a5 clip.mp4",
        "emoji in the name",
        long_webm(4 * 3600, step=60.0, duration="removed"),
    )
    add("name-very-long", "a" * 300 + ".mp4", "a 304-character name", mp4[: len(mp4) // 2])
    add("name-crlf", "clip.mp4\r\nContent-Type: text/html", "a header injection in the name", html)
    add("name-html", '<img src=x onerror="alert(1)">.png', "HTML in the name", bad_crc_png)
    add("name-windows-device", "CON.mp4", "a Windows device name", ftyp)
    add("name-dot-only", ".mp4", "a name that is only an extension", random_block[:512])
    return corpus


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    folder = Path(argv[0])
    corpus = make_corpus(folder)
    manifest = [{**asdict(item), "path": item.path.name, "size": item.path.stat().st_size} for item in corpus]
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=True) + "\n")
    print(f"{len(corpus)} files in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
