"""What the hostile-upload tests send and read: raw multipart bodies and the errors a page shows."""

from __future__ import annotations

from html.parser import HTMLParser

BOUNDARY = "candor-hostile-boundary-7e1f"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> bytes:
    """A multipart/form-data body (content type `MULTIPART`) with the file names sent as given.

    Django's test client keeps only the base name of a file and shortens it; an attacker's client
    does neither, so the body is written here byte for byte (names as UTF-8, NUL and CR LF included).
    """
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, data) in files.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode()
            + b"Content-Type: application/octet-stream\r\n\r\n"
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


#: Elements without an end tag: they must not count towards the nesting depth.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _AlertText(HTMLParser):
    """Collects the text of every element a person is shown as an error: role="alert" (form and
    field errors) and the error flash messages (class "msg-error")."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []
        self._depth = 0
        self._current: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        if self._depth:
            self._depth += 1
            return
        values = dict(attrs)
        if values.get("role") == "alert" or "msg-error" in (values.get("class") or "").split():
            self._depth = 1
            self._current = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        return  # <br/> and the like: no text, no nesting

    def handle_endtag(self, tag: str) -> None:
        if not self._depth or tag in _VOID:
            return
        self._depth -= 1
        if not self._depth:
            text = " ".join("".join(self._current).split())
            if text:
                self.errors.append(text)

    def handle_data(self, data: str) -> None:
        if self._depth:
            self._current.append(data)


def visible_errors(html: str) -> list[str]:
    """The error texts a page shows its reader."""
    parser = _AlertText()
    parser.feed(html)
    parser.close()
    return parser.errors
