"""The one exception type media code raises, with a code callers can map to an API error."""


class MediaError(Exception):
    """A problem with a media file, worded so the person who supplied it can act on it."""

    def __init__(self, message: str, *, code: str = "media_invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
