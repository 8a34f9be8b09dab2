"""Decoding, rendering and encoding on their own threads, so they overlap with the face work.

PyAV releases the interpreter lock while FFmpeg decodes and x264 encodes, and so do OpenCV, the
TFLite interpreter and dlib while they compute, so on two cores the stages of a frame run side by
side: frame n+k is decoded and searched for faces while the main thread tracks frame n and frame
n-13 is replaced and encoded. Measured on this machine, a frame costing 48 ms of Python work plus
36 ms of encoding took 72 ms threaded against 111 ms in turn. Every queue is short and bounded, so
memory stays flat; an error on any thread is raised on the main thread at its next call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

#: Frames waiting between threads (each 2.7 MB at 720p).
QUEUE_FRAMES = 4

_END = object()

T = TypeVar("T")


class FrameReader(Generic[T]):
    """Iterates over `prepare(index, rgb, time)` of every frame of a video, decoded and prepared
    ahead on a thread (`prepare` is called there, once per frame, in order)."""

    def __init__(
        self,
        frames: Callable[[], Iterator[tuple[NDArray[np.uint8], float]]],
        prepare: Callable[[int, NDArray[np.uint8], float], T],
    ) -> None:
        self._frames = frames
        self._prepare = prepare
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="anonymize-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        source = self._frames()
        try:
            for index, (rgb, when) in enumerate(source):
                if self._stop.is_set() or not self._put(self._prepare(index, rgb, when)):
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

    def __iter__(self) -> Iterator[T]:
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


class Worker:
    """Runs the calls given to it one after another, in order, on its own thread.

    `submit` blocks while `QUEUE_FRAMES` calls wait; an exception on the thread is raised by the
    next `submit` or by `finish`, and the calls still waiting are then skipped.
    """

    def __init__(self, name: str) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._skip = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None or self._skip.is_set():
                continue  # keep draining so the submitting thread never blocks on a full queue
            call, args = item
            try:
                call(*args)
            except BaseException as exc:  # handed to the submitting thread, which raises it
                self._error = exc

    def submit(self, call: Callable[..., object], *args: object) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((call, args))

    def finish(self) -> None:
        """Wait until every call given so far has run; raise what the thread raised."""
        self._queue.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Skip the calls still waiting and wait for the one running (after an error elsewhere)."""
        self._skip.set()
        self._queue.put(_END)
        self._thread.join()
