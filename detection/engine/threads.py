"""Torch inference runs in one thread.

The engine's networks are small (a 128-pixel face crop, a 2 s spectrogram, resemblyzer's 3-layer
LSTM over 1.6 s windows): a second thread saves little, and on a busy machine two torch threads
wait on each other. Measured here under load from other work: resemblyzer on 14 windows took
7.7 s with two threads and 0.35 s with one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

INFERENCE_THREADS = 1


@contextmanager
def inference_threads(count: int = INFERENCE_THREADS) -> Iterator[None]:
    """Run the enclosed torch calls in `count` threads, then restore the process setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
