"""The one exception type the provenance engine raises, with a code callers map to an API error."""


class ProvenanceError(Exception):
    """A provenance step failed in a way the caller can report (bad key, unsupported file, ...)."""

    def __init__(self, message: str, *, code: str = "provenance_failed") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
