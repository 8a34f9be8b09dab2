"""The two small torch networks the engine trains here on CPU (imported only when torch is needed).

* `FaceForgeryNet`: a 128x128 face crop in, a global "blended" logit and a 16x16 map of where a
  blending boundary is (the heatmap) out. About 0.2 M parameters.
* `SpeechSpoofNet`: a log filterbank patch of speech in, a "synthetic" logit out, plus per-time
  logits (how synthetic each moment sounds). About 0.1 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn

FACE_INPUT = 128
FACE_MAP = 16


def _conv(inputs: int, outputs: int, *, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    ]


class FaceForgeryNet(nn.Module):
    """Face crop (N, 3, 128, 128), RGB scaled to [0, 1] → (global logit (N,), boundary map (N, 16, 16)).

    The first layer looks at full-resolution pixels (5x5, stride 2), where a blending edge and a
    resampled or recoloured region differ most from camera texture; later layers add context
    (each map cell sees about 40 pixels). The global logit is read off the map itself (the mean
    of its strongest cells, rescaled), so a face is called blended only where some region looks
    blended: with few training identities, a separate whole-face classifier learns to recognise
    the training people instead of blending traces.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv(3, 16, kernel=5, stride=2),  # 64
            *_conv(16, 32, stride=2),  # 32
            *_conv(32, 48),
            *_conv(48, 64, stride=2),  # 16
            *_conv(64, 96),
            *_conv(96, 96, kernel=1),
        )
        self.boundary = nn.Conv2d(96, 1, 1)
        self.scale = nn.Parameter(torch.ones(1))
        self.offset = nn.Parameter(torch.zeros(1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        boundary = self.boundary(self.features((images - 0.5) / 0.25)).squeeze(1)
        strongest = boundary.flatten(1).topk(FACE_MAP * FACE_MAP // 16, dim=1).values.mean(dim=1)
        return self.scale * strongest + self.offset, boundary


class SpeechSpoofNet(nn.Module):
    """Log filterbank (N, 1, bands, frames) → (utterance logit (N,), per-frame logits (N, frames/8)).

    Convolutions over frequency and time see spectral detail (vocoder smearing, missing noise,
    harmonic regularity); the time axis is kept (stride 2 three times) so each moment gets a score,
    and the utterance logit pools them.
    """

    def __init__(self, bands: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv(1, 16, stride=2),
            *_conv(16, 32, stride=2),
            *_conv(32, 48, stride=2),
            *_conv(48, 64),
        )
        reduced = bands
        for _ in range(3):  # three stride-2 layers, each rounding up
            reduced = -(-reduced // 2)
        self.frame_head = nn.Conv1d(64 * reduced, 1, 1)
        self.dropout = nn.Dropout(0.2)

    def forward(self, spectra: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(spectra)
        batch, channels, bands, frames = features.shape
        per_frame = self.frame_head(self.dropout(features.reshape(batch, channels * bands, frames))).squeeze(
            1
        )
        # Soft pooling: a few clearly synthetic moments weigh more than their share, as in a
        # partly synthetic recording, without letting one noisy frame decide.
        weights = torch.softmax(per_frame, dim=1)
        return (weights * per_frame).sum(dim=1), per_frame
