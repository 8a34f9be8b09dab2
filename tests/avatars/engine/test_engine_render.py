"""The stock render end to end: a playable, disclosed, captioned MP4 from a script."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from engine_media import decoded_audio, decoded_frames, label_pixels, top_level_boxes, write_wav
from PIL import Image

from avatars.engine import (
    Disclosure,
    InvalidSpecError,
    MediaInputError,
    NeuralAvatar,
    RecordedNarration,
    RenderCancelled,
    RenderResult,
    RenderSpec,
    ScriptNarration,
    SpeechError,
    StockAvatar,
    UnsupportedModeError,
    build_speech,
    parse_webvtt,
    render,
)
from avatars.engine.visemes import Viseme
from conftest import SCRIPT

Rendered = tuple[RenderResult, list[tuple[float, str]]]


def test_the_mp4_is_h264_high_and_aac_with_the_index_first(stock_render: Rendered) -> None:
    result, _ = stock_render
    boxes = top_level_boxes(result.video)
    assert boxes.index("moov") < boxes.index("mdat")
    with av.open(str(result.video)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.profile == "High"
        assert audio.codec_context.name == "aac"


def test_every_frame_decodes_and_matches_the_reported_count(stock_render: Rendered) -> None:
    result, _ = stock_render
    frames = decoded_frames(result.video)
    assert len(frames) == result.frame_count
    assert frames[0].shape == (144, 256, 3)


def test_the_disclosure_label_is_visible_on_every_frame(stock_render: Rendered) -> None:
    result, _ = stock_render
    frames = decoded_frames(result.video)
    first = frames[0]
    amber, dark, white = label_pixels(first)
    assert amber >= 20 and dark >= 500 and white >= 100, (amber, dark, white)
    # The label area is found from the first frame's pixels, then every frame must show the same
    # picture there, while the presenter below it moves.
    rows, columns = np.nonzero(first[: 144 // 4].astype(int).sum(axis=2) < 150)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    for index, frame in enumerate(frames):
        assert all(count > 0 for count in label_pixels(frame)), index
        difference = np.abs(frame[top:bottom, left:right].astype(int) - first[top:bottom, left:right]).mean()
        assert difference < 6, (index, difference)


def test_the_label_sits_on_top_of_the_picture_not_beside_it(stock_render: Rendered) -> None:
    frame = decoded_frames(stock_render[0].video)[10]
    background = frame[2, -3].astype(int)
    assert background.sum() > 450, "the frame corner should show the light studio background"


def test_the_audio_lasts_as_long_as_the_video(stock_render: Rendered) -> None:
    result, _ = stock_render
    samples, rate = decoded_audio(result.video)
    assert abs(len(samples) / rate - result.duration) < 0.1


def test_captions_start_and_end_within_100_ms_of_the_phonemes(
    stock_render: Rendered, disclosure: Disclosure
) -> None:
    result, _ = stock_render
    cues = parse_webvtt(result.captions.read_text(encoding="utf-8"))
    speech = build_speech(ScriptNarration(SCRIPT), disclosure).speech
    voiced = [p for p in speech.phonemes if p.viseme is not Viseme.REST]
    assert len(cues) >= 3
    assert "".join(cue.text for cue in cues).replace(" ", "") == (
        disclosure.intro + SCRIPT + disclosure.outro
    ).replace(" ", "")
    for cue in cues:
        first = min(voiced, key=lambda p: abs(p.start - cue.start))
        last = min(voiced, key=lambda p: abs(p.end - cue.end))
        assert abs(first.start - cue.start) <= 0.1 and abs(last.end - cue.end) <= 0.1, cue
        # Nothing voiced may start in the 100 ms before a cue (the cue would then start late). The
        # 20 ms allowance is espeak-ng's own run-to-run variation: this check re-synthesizes the text.
        early = [p for p in voiced if cue.start - 0.1 < p.start < cue.start - 0.02 and p.end > cue.start]
        assert not early, cue


def test_captions_start_where_the_decoded_audio_is_speaking(stock_render: Rendered) -> None:
    result, _ = stock_render
    samples, rate = decoded_audio(result.video)
    for cue in parse_webvtt(result.captions.read_text(encoding="utf-8")):
        opening = samples[int(cue.start * rate) : int((cue.start + 0.1) * rate)]
        assert np.sqrt(np.mean(opening**2)) > 0.01, cue


def test_the_poster_is_a_jpeg_of_the_output_size_with_the_label(stock_render: Rendered) -> None:
    result, _ = stock_render
    with Image.open(result.poster) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (256, 144)
        pixels = np.asarray(poster.convert("RGB"))
    assert all(count > 0 for count in label_pixels(pixels))


def test_progress_rises_from_zero_to_one(stock_render: Rendered) -> None:
    _, reports = stock_render
    fractions = [fraction for fraction, _ in reports]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert {"speech", "frames", "done"} <= {stage for _, stage in reports}


def test_the_result_says_a_synthetic_voice_speaks(stock_render: Rendered) -> None:
    result, _ = stock_render
    assert result.synthetic_voice is True
    assert result.mode == "stock"


def test_a_cancelled_render_leaves_no_files(scratch: Path, disclosure: Disclosure) -> None:
    def cancel(fraction: float, stage: str) -> None:
        if stage == "frames" and fraction > 0.3:
            raise RenderCancelled("Consent was revoked.")

    spec = RenderSpec(
        StockAvatar(), ScriptNarration("Hello there."), disclosure, scratch, width=256, height=144
    )
    with pytest.raises(RenderCancelled):
        render(spec, progress=cancel)
    assert list(scratch.iterdir()) == []


def _spec(scratch: Path, disclosure: Disclosure, **changes: object) -> RenderSpec:
    base = {
        "avatar": StockAvatar(),
        "narration": ScriptNarration("Hello there."),
        "disclosure": disclosure,
        "output_dir": scratch,
        "width": 256,
        "height": 144,
    }
    base.update(changes)
    return RenderSpec(**base)  # type: ignore[arg-type]


def test_an_empty_script_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    with pytest.raises(InvalidSpecError, match="script is empty"):
        render(_spec(scratch, disclosure, narration=ScriptNarration("  \n ")))


def test_an_empty_label_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    with pytest.raises(InvalidSpecError, match="label is empty"):
        render(_spec(scratch, Disclosure(label=" ", intro=disclosure.intro, outro=disclosure.outro)))


def test_a_label_too_long_to_read_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    long_label = "This video was generated by a computer. " * 6
    with pytest.raises(InvalidSpecError, match="too long"):
        render(_spec(scratch, Disclosure(long_label, disclosure.intro, disclosure.outro)))


def test_an_empty_spoken_disclaimer_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    with pytest.raises(InvalidSpecError, match="closing disclaimer"):
        render(_spec(scratch, Disclosure(disclosure.label, disclosure.intro, "")))


def test_an_unknown_language_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    with pytest.raises(SpeechError, match="No offline voice for language 'xx-nowhere'"):
        render(_spec(scratch, disclosure, narration=ScriptNarration("Hola.", language="xx-nowhere")))


def test_silent_recorded_narration_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    silent = write_wav(scratch / "silent.wav", np.zeros(48_000, dtype=np.float32))
    with pytest.raises(SpeechError, match="silent"):
        render(_spec(scratch / "out", disclosure, narration=RecordedNarration(silent)))


def test_a_corrupt_narration_file_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    corrupt = scratch / "narration.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    with pytest.raises(MediaInputError, match="narration.wav"):
        render(_spec(scratch / "out", disclosure, narration=RecordedNarration(corrupt)))


def test_an_odd_output_size_is_refused(scratch: Path, disclosure: Disclosure) -> None:
    with pytest.raises(InvalidSpecError, match="even"):
        render(_spec(scratch, disclosure, width=255))


def test_neural_mode_says_it_is_not_installed(scratch: Path, disclosure: Disclosure) -> None:
    with pytest.raises(UnsupportedModeError, match="Neural mode"):
        render(_spec(scratch, disclosure, avatar=NeuralAvatar(scratch / "model.pt")))


def test_recorded_narration_renders_with_the_clinicians_voice(scratch: Path, disclosure: Disclosure) -> None:
    rate = 48_000
    time = np.arange(rate * 2) / rate
    # A voice-like test tone: 180 Hz buzz switched on and off at syllable rate.
    samples = (0.3 * np.sign(np.sin(2 * np.pi * 180 * time)) * (np.sin(2 * np.pi * 3 * time) > 0)).astype(
        np.float32
    )
    narration = write_wav(scratch / "narration.wav", samples)
    result = render(_spec(scratch / "out", disclosure, narration=RecordedNarration(narration)))
    assert result.synthetic_voice is False
    assert result.duration > 2.0
    assert len(decoded_frames(result.video)) == result.frame_count


def test_burned_in_captions_show_during_their_cue_and_not_in_pauses(stock_render: Rendered) -> None:
    result, _ = stock_render
    frames = decoded_frames(result.video)
    cues = parse_webvtt(result.captions.read_text(encoding="utf-8"))

    def dark_box_pixels(time: float) -> int:
        band = frames[int(time * result.fps)][-144 // 5 :].astype(int)
        return int(((band.max(axis=2) < 110) & (band.max(axis=2) - band.min(axis=2) < 30)).sum())

    gaps = [(a.end, b.start) for a, b in zip(cues, cues[1:], strict=False) if b.start - a.end > 0.3]
    assert gaps, "the test script has pauses between sentences"
    quiet = max(dark_box_pixels((start + end) / 2) for start, end in gaps)
    for cue in cues:
        assert dark_box_pixels((cue.start + cue.end) / 2) > 3 * quiet + 50, cue


def test_a_media_toolkit_error_leaves_the_engine_worded_and_leaves_no_files(
    scratch: Path, disclosure: Disclosure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The face models' loaders live in the kernel's media toolkit and raise its MediaError (e.g. a
    model not installed); the render reports that message and code, not a generic failure."""
    import importlib

    render_module = importlib.import_module(
        "avatars.engine.render"
    )  # the package exports a function of that name
    from avatars.engine.errors import EngineError
    from core.media.errors import MediaError

    def missing(*args: object, **kwargs: object) -> None:
        raise MediaError("The face model is not installed; run make install.", code="model_missing")

    monkeypatch.setattr(render_module, "_encode", missing)
    with pytest.raises(EngineError) as raised:
        render(_spec(scratch, disclosure), progress=lambda fraction, stage: None)
    assert raised.value.code == "model_missing" and "not installed" in raised.value.message
    assert list(scratch.iterdir()) == []
