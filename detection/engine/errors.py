"""Errors the detection engine raises on purpose, each worded for the person who uploaded the file.

They subclass the render engine's `EngineError`, so a caller that already maps engine errors to
API errors (code + message) handles scans the same way.
"""

from __future__ import annotations

from avatars.engine.errors import EngineError


class DetectionError(EngineError):
    """Base of every error the detection engine raises."""

    code = "detection_failed"


class DetectionInputError(DetectionError):
    """The file to scan cannot be read, or is not a video, image or audio recording."""

    code = "media_invalid"


class AnalyzerUnavailable(DetectionError):
    """An analyzer's model or library is missing from this installation."""

    code = "analyzer_unavailable"


class ScanCancelled(DetectionError):
    """Raised from a progress callback to stop a scan."""

    code = "scan_cancelled"
