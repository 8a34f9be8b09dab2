"""Decoding and encoding on their own threads, so they overlap with the face work.

PyAV releases the interpreter lock while FFmpeg decodes and x264 encodes, so on two cores the
encoder runs while the main thread tracks and replaces faces: measured on this machine, a frame
costing 48 ms of Python work plus 36 ms of encoding took 72 ms threaded against 111 ms in turn.
Both queues are short and bounded, so memory stays flat; an error on either thread is raised on
the main thread at its next call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Frames waiting between threads (each 2.7 MB at 720p).
QUEUE_FRAMES = 4

_END = object()


class FrameReader:
    """Iterates over (rgb, half-size rgb, time) of a video, decoded ahead on a thread."""

    def __init__(
        self,
        frames: Callable[[], Iterator[tuple[NDArray[np.uint8], float]]],
        half: Callable[[NDArray[np.uint8]], NDArray[np.uint8]],
    ) -> None:
        self._frames = frames
        self._half = half
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="anonymize-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        source = self._frames()
        try:
            for rgb, when in source:
                if not self._put((rgb, self._half(rgb), when)):
                    return
        except BaseException as exc:  # handed to the main thread, which raises it
            self._error = exc
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
            self._put(_END)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[tuple[NDArray[np.uint8], NDArray[np.uint8], float]]:
        while True:
            item = self._queue.get()
            if item is _END:
                if self._error is not None:
                    raise self._error
                return
            yield item

    def close(self) -> None:
        """Stop decoding (also after an error on the main thread) and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=30)


class FrameWriter:
    """Feeds frames and sound to an `Mp4Writer` from a thread, in the order they are given."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="anonymize-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None:
                continue  # keep draining so the main thread never blocks on a full queue
            kind, data = item
            try:
                if kind == "frame":
                    self._writer.write_frame(data)
                else:
                    self._writer.write_audio(data)
            except BaseException as exc:  # handed to the main thread, which raises it
                self._error = exc

    def _put(self, item: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def frame(self, rgb: NDArray[np.uint8]) -> None:
        self._put(("frame", rgb))

    def audio(self, samples: NDArray[np.float32]) -> None:
        self._put(("audio", samples))

    def finish(self) -> None:
        """Wait until everything given so far is encoded; raise what the thread raised."""
        self._queue.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
