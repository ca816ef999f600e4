"""Draw docs/hip_frame.png: how the hip frame is built, on a generated pelvis turned in the scanner.

    .venv/bin/python scripts/make_hip_frame_figure.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

from sacral_tumor_ai.hipframe import HipFrame, describe_location  # noqa: E402
from sacral_tumor_ai.hipframe.anatomy_template import ZONE_II_RADIUS  # noqa: E402
from sacral_tumor_ai.hipframe.points import sampled, strides_for, structure_points  # noqa: E402
from sacral_tumor_ai.labels import LABELS  # noqa: E402
from sacral_tumor_ai.phantom.known import pelvis_labelmap  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "hip_frame.png"


def turned(labelmap: sitk.Image, degrees: tuple[float, float]) -> sitk.Image:
    """The same anatomy rolled about y and tilted about x in the scanner (no resampling)."""
    a, b = np.radians(degrees)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    out = sitk.Image(labelmap)
    out.SetDirection((ry @ rx).flatten().tolist())
    out.SetOrigin((ry @ rx @ np.array(labelmap.GetOrigin())).tolist())
    return out


def main() -> None:
    pelvis = pelvis_labelmap(3)[1]
    si = (pelvis.sacrum_half_width * 0.85, 25.0, pelvis.sacrum_top - 25.0, 24.0)
    labelmap = turned(pelvis_labelmap(3, [si])[0], (12.0, -15.0))
    location = describe_location(labelmap)
    frame = HipFrame.from_json(location["frame"])
    strides = strides_for(labelmap)
    coarse = sampled(sitk.GetArrayViewFromImage(labelmap), strides)
    figure, axes = plt.subplots(1, 3, figsize=(16, 6.2))
    for label in LABELS:
        cloud = structure_points(labelmap, coarse, label.value, strides)
        world, local = cloud.points[::3], frame.to_frame(cloud.points[::3])
        axes[0].scatter(world[:, 0], world[:, 2], s=1, color=label.color, label=label.display_name)
        axes[1].scatter(local[:, 0], local[:, 2], s=1, color=label.color)
        axes[2].scatter(local[:, 1], local[:, 2], s=1, color=label.color)
    origin = frame.origin
    for axis, colour, name in zip(frame.axes, ("tab:red", "tab:green", "tab:blue"), ("x left", "y posterior", "z superior")):
        tip = origin + axis * frame.scale_mm * 0.45
        axes[0].annotate("", xy=(tip[0], tip[2]), xytext=(origin[0], origin[2]), arrowprops={"color": colour, "width": 2})
        axes[0].text(tip[0], tip[2], name, color=colour, fontsize=10)
    axes[0].plot(origin[0], origin[2], "k+", markersize=14)
    axes[0].set_title("Scanner coordinates (pelvis turned 12° and 15°):\nframe origin and axes from the hip bones' moments")
    axes[0].set_xlabel("scanner L (mm)")
    axes[0].set_ylabel("scanner S (mm)")
    radius = ZONE_II_RADIUS * frame.scale_mm
    for name, acetabulum in location["acetabula"].items():
        x, y, z = acetabulum["centre_frame"]
        axes[1].add_patch(plt.Circle((x, z), radius, fill=False, linestyle="--", color="black"))
        axes[1].plot([x - 1.6 * radius, x + 1.6 * radius], [z, z], ":", color="gray")
        axes[1].plot(x, z, "ko")
        axes[2].add_patch(plt.Circle((y, z), radius, fill=False, linestyle="--", color="black"))
    axes[1].text(0.02, 0.02, "zone I (ilium): above the dotted line\nzone II: within the dashed circle\nzone III: below (pubis, ischium)\nzone IV: sacrum", fontsize=9, transform=axes[1].transAxes)
    axes[1].set_title(f"Hip frame, coronal view (scale {frame.scale_mm:.0f} mm = distance\nbetween the hip bones' centroids); zones {', '.join(location['enneking_zones'])}")
    axes[1].set_xlabel("x: patient left (mm)")
    axes[1].set_ylabel("z: superior (mm)")
    axes[2].set_title("Hip frame, sagittal view (y = z × x)")
    axes[2].set_xlabel("y: posterior (mm)")
    for axis in axes:
        axis.set_aspect("equal", adjustable="datalim")
    axes[0].legend(loc="lower left", markerscale=8, fontsize=8)
    figure.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    figure.savefig(OUT, dpi=90)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
