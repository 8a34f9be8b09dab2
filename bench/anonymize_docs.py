"""Frame grabs of the three replacement modes for docs/ (no real person: the stock presenter plays
the patient).

    .venv/bin/python bench/anonymize_docs.py [--out docs]

Writes docs/anonymize-synthetic.png, docs/anonymize-mask.png and docs/anonymize-blur.png: each the
same two moments of one generated clip, the input above and the anonymized output below; and
docs/anonymize-looks.png: every look the synthetic mode can draw (a row per set of proportions,
a column per palette), turned a little and talking.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

WIDTH, HEIGHT, FRAMES = 640, 360, 60
MOMENTS = (12, 44)


def _clip(path: Path) -> list:  # type: ignore[type-arg]
    import av

    from avatars.engine.motion import Pose
    from avatars.engine.stock import StockPresenter

    presenter = StockPresenter(WIDTH, HEIGHT)
    frames = []
    for index in range(FRAMES):
        # Talking, nodding and tilting: what the drawn face has to copy.
        opening = 0.5 + 0.5 * math.sin(index * 0.5)
        pose = Pose(
            0.06 * math.sin(index / 9),
            0.03 * math.sin(index / 7),
            9 * math.sin(index / 10),
            0.0,
        )
        frames.append(presenter.draw((opening, 0.5, 0.2), pose).copy())
    container = av.open(str(path), mode="w", format="matroska")
    stream = container.add_stream("ffv1", rate=Fraction(25))
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "bgr0"
    for frame in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return frames


def _looks_sheet(target: Path) -> None:
    import numpy as np
    from PIL import Image

    from avatars.engine.anonymize.mesh import Expression
    from avatars.engine.anonymize.synthetic import LOOKS, PALETTES, SyntheticFace

    tiles = []
    for index, look in enumerate(LOOKS):
        tile = np.full((220, 200, 3), 90, dtype=np.uint8)
        yaw = 0.25 * (index % 3 - 1)
        cos, sin = math.cos(yaw), math.sin(yaw)
        rotation = np.array([[cos, 0.0, -sin], [0.0, 1.0, 0.0], [sin, 0.0, cos]])
        expression = Expression(
            np.array([100.0, 110.0, 0.0]), 70.0, rotation, 0.3 * (index % 2), 0.5, (1.0, 0.9), 0.2
        )
        SyntheticFace().draw(tile, (0, 0), expression, look)
        tiles.append(tile)
    columns = len(PALETTES)
    rows = [np.concatenate(tiles[r : r + columns], axis=1) for r in range(0, len(tiles), columns)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(target, optimize=True)
    print(target)


def main() -> None:
    import av
    import numpy as np
    from PIL import Image, ImageDraw

    from avatars.engine.anonymize import AnonymizeSpec, anonymize

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    _looks_sheet(args.out / "anonymize-looks.png")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "clip.mkv"
        inputs = _clip(source)
        for mode in ("synthetic", "mask", "blur"):
            output = Path(scratch) / f"{mode}.mp4"
            anonymize(AnonymizeSpec(input=source, output=output, mode=mode, seed=11))  # type: ignore[arg-type]
            with av.open(str(output)) as container:
                outputs = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
            top = np.concatenate([inputs[i] for i in MOMENTS], axis=1)
            bottom = np.concatenate([outputs[i] for i in MOMENTS], axis=1)
            sheet = Image.fromarray(np.concatenate([top, bottom], axis=0))
            draw = ImageDraw.Draw(sheet)
            for row, text in ((0, "input (drawn stock presenter)"), (HEIGHT, f"anonymized: {mode}")):
                draw.rectangle((0, row, 8 * len(text) + 12, row + 20), fill=(0, 0, 0))
                draw.text((6, row + 4), text, fill=(255, 255, 255))
            target = args.out / f"anonymize-{mode}.png"
            sheet.save(target, optimize=True)
            print(target)


if __name__ == "__main__":
    main()
