"""Draw the extension and module icons (a stylised pelvis with a tumour) so they are reproducible."""

from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]


def draw(size: int = 128) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    s = size / 128
    bone = (241, 214, 145, 255)
    for flip in (1, -1):  # iliac wings
        cx = 64 + flip * 34
        pen.ellipse([(cx - 26) * s, 18 * s, (cx + 26) * s, 78 * s], fill=bone)
        pen.ellipse([(cx - 12) * s, 70 * s, (cx + 12) * s, 110 * s], outline=bone, width=int(7 * s))
    pen.polygon([(44 * s, 30 * s), (84 * s, 30 * s), (72 * s, 92 * s), (56 * s, 92 * s)], fill=(177, 122, 101, 255))
    pen.ellipse([52 * s, 44 * s, 78 * s, 70 * s], fill=(230, 51, 38, 255))
    return image


if __name__ == "__main__":
    icon = draw()
    for target in ("Resources/Icons/SacralTumorAI.png", "SacralTumorAI/Resources/Icons/SacralTumorAI.png"):
        icon.save(REPO / target)
