"""Candor's avatar render engine: framework-free (no Django, Celery or Channels imports).

Dataclass specs in, results out, progress through a `progress(fraction, stage)` callback, and only
`EngineError` subclasses raised, each with a message a clinician can act on::

    from avatars.engine import Disclosure, RenderSpec, ScriptNarration, StockAvatar, render

    result = render(RenderSpec(avatar=StockAvatar(), narration=ScriptNarration("Take one tablet daily."),
                               disclosure=Disclosure(label="AI-generated video...", intro="...", outro="..."),
                               output_dir=scratch))
"""

from avatars.engine.align import align_to_script
from avatars.engine.captions import Cue, cues_from_words, parse_webvtt, to_webvtt
from avatars.engine.enrollment import EnrollmentAnalysis, analyze_enrollment
from avatars.engine.errors import (
    EngineError,
    EnrollmentError,
    InvalidSpecError,
    MediaInputError,
    RenderCancelled,
    SpeechError,
    UnsupportedModeError,
)
from avatars.engine.render import Soundtrack, build_speech, render
from avatars.engine.specs import (
    Avatar,
    Disclosure,
    FootageAvatar,
    Narration,
    NeuralAvatar,
    PortraitAvatar,
    Progress,
    RecordedNarration,
    RenderResult,
    RenderSpec,
    ScriptNarration,
    StockAvatar,
)
from avatars.engine.speech import Phoneme, SpeechTrack, Word, synthesize
from avatars.engine.visemes import MouthShape, Viseme, mouth_track, viseme_for_phoneme

__all__ = [
    "Avatar",
    "Cue",
    "Disclosure",
    "EngineError",
    "EnrollmentAnalysis",
    "EnrollmentError",
    "FootageAvatar",
    "InvalidSpecError",
    "MediaInputError",
    "MouthShape",
    "Narration",
    "NeuralAvatar",
    "Phoneme",
    "PortraitAvatar",
    "Progress",
    "RecordedNarration",
    "RenderCancelled",
    "RenderResult",
    "RenderSpec",
    "ScriptNarration",
    "SpeechError",
    "Soundtrack",
    "SpeechTrack",
    "StockAvatar",
    "UnsupportedModeError",
    "Viseme",
    "Word",
    "align_to_script",
    "analyze_enrollment",
    "build_speech",
    "cues_from_words",
    "mouth_track",
    "parse_webvtt",
    "render",
    "synthesize",
    "to_webvtt",
    "viseme_for_phoneme",
]
