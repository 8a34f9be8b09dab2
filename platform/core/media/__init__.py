"""Framework-free media toolkit shared by every app: sniffing, probing and H.264/AAC MP4 output.

Nothing here imports Django, Celery or Channels; callers pass limits in and get dataclasses or a
`MediaError` out.
"""

from core.media.errors import MediaError

__all__ = ["MediaError"]
