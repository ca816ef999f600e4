"""A procedural adult pelvis as signed-distance fields, in the patient's own frame (mm, LPS axes:
x towards the patient's left, y posterior, z superior; origin between the hip joints at sacral level).

Shapes follow textbook proportions, varied by a body scale, sex (wider female pelvis) and small per-part
jitters: sacrum (a curved tapering wedge with alae, four pairs of foramina and levels S1-S5), each hip bone
(iliac wing with crest, SI-joint part, acetabular cup, superior/inferior pubic rami, ischium; the obturator
foramen emerges between the rami), proximal femora, L4-L5 vertebrae.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sacral_tumor_ai.phantom import sdf

SACRAL_LEVELS = ("S1", "S2", "S3", "S4", "S5")
_LEVEL_EDGES = (0.0, 0.25, 0.45, 0.62, 0.8, 1.0)  # along the sacral centreline, top to tip
# The sacral alae stop this far short of the plane the hip bones are cut at; the hip bones' joint faces lie
# further out, so the SI joint space is 3-4 mm.
SI_CLEARANCE_MM = 1.0


@dataclass(frozen=True)
class Pelvis:
    """Shape parameters of one patient's pelvis (mm)."""

    scale: float
    width: float  # extra half-width factor (female > male)
    sacrum_top: float  # z of the S1 endplate
    sacrum_length: float
    sacrum_curve: float  # posterior bulge of the sacral curve
    sacrum_half_width: float  # half-width across the alae
    acetabulum: tuple[float, float, float]  # left acetabular centre; the right one is mirrored
    femoral_head: float  # radius
    crest_height: float  # z of the iliac crest
    wing_spread: float  # lateral reach of the iliac wing

    @classmethod
    def sample(cls, rng: np.random.Generator, sex: str) -> Pelvis:
        scale = float(rng.normal(1.0, 0.06))
        width = float(rng.normal(1.06 if sex == "F" else 1.0, 0.03))
        return cls(
            scale=scale,
            width=width,
            sacrum_top=45.0 * scale + float(rng.normal(0, 3)),
            sacrum_length=108.0 * scale + float(rng.normal(0, 5)),
            sacrum_curve=float(rng.normal(30.0, 5.0)) * scale,
            sacrum_half_width=52.0 * scale * width + float(rng.normal(0, 2)),
            acetabulum=(96.0 * scale * width, -22.0 * scale, -45.0 * scale),
            femoral_head=float(rng.normal(24.0, 1.5)) * scale,
            crest_height=82.0 * scale + float(rng.normal(0, 4)),
            wing_spread=1.0 + float(rng.normal(0, 0.04)),
        )

    # --- the sacrum -------------------------------------------------------------------------------------
    def sacral_position(self, z: np.ndarray) -> np.ndarray:
        """Fraction along the sacral centreline (0 at S1 top, 1 at the tip) for heights ``z``."""
        return np.clip((self.sacrum_top - z) / self.sacrum_length, 0.0, 1.0)

    def sacral_centre_y(self, t: np.ndarray) -> np.ndarray:
        return 12.0 * self.scale + self.sacrum_curve * (2.2 * t - 1.4 * t**2)

    def sacrum(self, x, y, z) -> np.ndarray:
        t = self.sacral_position(z)
        half_width = self.sacrum_half_width * (1 - t) ** 0.9 + 9.0 * self.scale
        half_depth = (17.0 * (1 - t) + 5.0) * self.scale
        wedge = np.maximum.reduce(
            [np.abs(x) - half_width, np.abs(y - self.sacral_centre_y(t)) - half_depth, z - self.sacrum_top, self.sacrum_top - self.sacrum_length - z]
        )
        body = sdf.capsule(x, y, z, (0, 6 * self.scale, self.sacrum_top - 4), (0, 10 * self.scale, self.sacrum_top - 30 * self.scale), 21 * self.scale)
        field = sdf.smooth_union(wedge, body, 4.0)
        for level in range(4):  # anterior foramina between S1..S5
            tf = 0.5 * (_LEVEL_EDGES[level + 1] + _LEVEL_EDGES[level + 2]) - 0.08
            zf = self.sacrum_top - tf * self.sacrum_length
            xf = (self.sacrum_half_width * (1 - tf) ** 0.9 + 9 * self.scale) * 0.42
            for side in (-1, 1):
                foramen = sdf.capsule(x, y, z, (side * xf, -60, zf), (side * xf, 80, zf), 4.5 * self.scale * (1 - 0.3 * tf))
                field = sdf.subtract(field, foramen)
        # The alae stop short of the hip bones' joint faces: the SI joint space (2-5 mm in adults).
        return sdf.intersect(field, np.abs(x) - (self.si_joint_face(z) - SI_CLEARANCE_MM * self.scale))

    def si_joint_face(self, z) -> np.ndarray:
        """Distance from the midline of the hip bones' auricular (SI joint) faces at height ``z``."""
        return self.sacrum_half_width * 0.92 * (1 - 0.2 * self.sacral_position(z)) + 2.0 * self.scale

    def sacral_level(self, z: float) -> str:
        t = float(self.sacral_position(np.float32(z)))
        index = int(np.searchsorted(_LEVEL_EDGES, t, side="right")) - 1
        return SACRAL_LEVELS[min(max(index, 0), len(SACRAL_LEVELS) - 1)]

    # --- a hip bone ----------------------------------------------------------------------------------------
    def hip(self, x, y, z, side: int) -> np.ndarray:
        """Signed distance of the hip bone on ``side`` (+1 left, -1 right)."""
        s, w = self.scale, self.width
        ax, ay, az = self.acetabulum
        sx = side * x  # mirror so that the left-side construction serves both sides
        # Iliac wing: a curved plate flaring laterally with height (concave towards the pelvis), bounded by
        # the iliac crest above; thicker along the crest.
        spread = self.wing_spread * w
        surface = (68 * s + 0.55 * (z - (-10 * s))) * spread + 0.0045 * y**2 / s
        crest = self.crest_height - 0.006 * (y + 5 * s) ** 2 / s
        thickness = 2.2 * s + 3.5 * s * np.exp(-np.maximum(crest - z, 0) / (9 * s))
        plate = np.abs(sx - surface) * 0.87 - thickness
        half_length = (22 + 33 * np.clip((z + 5 * s) / (self.crest_height + 5 * s), 0, 1)) * s
        outline = np.maximum.reduce([z - crest, np.abs(y - (2 * s - 0.1 * z)) - half_length, -8 * s - z])
        wing = sdf.intersect(plate, outline)
        # Posterior ilium: the thick part holding the SI joint (auricular surface facing the sacral ala).
        si_x = self.sacrum_half_width * 0.92 + 3.5 * s
        posterior = sdf.capsule(sx, y, z, (si_x + 6 * s, 32 * s, 20 * s), (si_x + 40 * s, 30 * s, 52 * s), 13 * s, 10 * s)
        posterior = sdf.intersect(posterior, si_x - sx)  # flat joint face, a gap from the sacrum
        body = sdf.capsule(sx, y, z, (ax - 12 * s, ay + 4 * s, az + 22 * s), (si_x + 18 * s, 22 * s, 18 * s), 17 * s, 14 * s)
        # Acetabular cup: a thick shell around the femoral head, open laterally, anteriorly and downwards.
        cup = sdf.subtract(sdf.sphere(sx, y, z, (ax, ay, az), self.femoral_head + 11 * s), sdf.sphere(sx, y, z, (ax, ay, az), self.femoral_head + 1.5))
        opening = np.array([0.72, -0.28, -0.64], np.float32)
        cup = sdf.intersect(cup, (sx - ax) * opening[0] + (y - ay) * opening[1] + (z - az) * opening[2] - 6 * s)
        # Rami: superior pubic, inferior pubic + ischial, and the ischium down to the tuberosity.
        symphysis = (7 * s, -72 * s, az - 18 * s)
        tuberosity = (58 * s * w, 8 * s, az - 58 * s)
        superior = sdf.capsule(sx, y, z, (ax - 18 * s, ay - 12 * s, az - 2 * s), symphysis, 11 * s, 8 * s)
        inferior = sdf.capsule(sx, y, z, (symphysis[0] + 2, symphysis[1] + 4, symphysis[2] - 18 * s), (tuberosity[0] - 8 * s, tuberosity[1] - 12 * s, tuberosity[2] + 4), 7 * s)
        ischium = sdf.capsule(sx, y, z, (ax - 6 * s, ay + 18 * s, az - 16 * s), tuberosity, 14 * s, 15 * s)
        symphysis_body = sdf.capsule(sx, y, z, symphysis, (symphysis[0] + 1, symphysis[1] + 5, symphysis[2] - 20 * s), 9 * s)
        hip = sdf.smooth_union(wing, posterior, 8.0)
        for part in (body, cup, superior, inferior, ischium, symphysis_body):
            hip = sdf.smooth_union(hip, part, 5.0)
        # The femoral head and its joint space are never hip bone (the blends above would reach into the cup).
        hip = sdf.subtract(hip, sdf.sphere(sx, y, z, (ax, ay, az), self.femoral_head + 1.5))
        # Posteriorly the joint face stops at the SI joint (the sacrum stops SI_CLEARANCE_MM short of it);
        # anteriorly the pubic bones reach the midline, with a 4 mm symphysis gap between them.
        return sdf.intersect(hip, np.where(y > -5 * s, self.si_joint_face(z) - sx, 2.0 - sx))

    def femur(self, x, y, z, side: int) -> np.ndarray:
        s = self.scale
        ax, ay, az = self.acetabulum
        head = (side * ax, ay, az)
        neck_end = (side * (ax + 36 * s), ay + 6 * s, az - 28 * s)
        shaft_end = (side * (ax + 38 * s), ay + 12 * s, az - 260 * s)
        trochanter = (side * (ax + 44 * s), ay + 14 * s, az - 22 * s)
        return sdf.union(
            sdf.sphere(x, y, z, head, self.femoral_head),
            sdf.capsule(x, y, z, head, neck_end, 15 * s),
            sdf.capsule(x, y, z, neck_end, shaft_end, 14 * s, 13 * s),
            sdf.sphere(x, y, z, trochanter, 17 * s),
        )

    def femoral_marrow_region(self, x, y, z) -> np.ndarray:
        """+1 in the femoral heads (dense marrow of compressive trabeculae), 0 in the necks and trochanters
        (the fattiest marrow), falling to -1 over 30 mm from below the lesser trochanter into the shaft (a thick
        cortex around yellow marrow). Smooth, so that the renderer can blend the three."""
        s = self.scale
        ax, ay, az = self.acetabulum
        around = (y - ay) ** 2 + (z - az) ** 2
        to_centre = np.sqrt(np.minimum((x - ax) ** 2, (x + ax) ** 2) + around)  # the nearer of the two heads
        head = np.clip((self.femoral_head + 2 * s - to_centre) / (6 * s), 0.0, 1.0)
        shaft = np.clip((az - 70 * s - z) / (30 * s), 0.0, 1.0)
        return (head - shaft).astype(np.float32)

    def spine(self, x, y, z) -> np.ndarray:
        """L5 and L4 with their posterior elements (unlabelled bone above the sacrum)."""
        s = self.scale
        parts = []
        for index, height in enumerate((self.sacrum_top + 20 * s, self.sacrum_top + 53 * s)):
            y0 = (4 - 8 * index) * s
            parts.append(sdf.capsule(x, y, z, (0, y0, height - 11 * s), (0, y0, height + 11 * s), 23 * s))
            parts.append(sdf.capsule(x, y, z, (0, y0 + 30 * s, height), (0, y0 + 58 * s, height - 6 * s), 6 * s))
            for side in (-1, 1):
                parts.append(sdf.capsule(x, y, z, (side * 14 * s, y0 + 20 * s, height), (side * 14 * s, y0 + 36 * s, height), 7 * s))
                parts.append(sdf.capsule(x, y, z, (side * 14 * s, y0 + 25 * s, height), (side * (38 if index == 0 else 30) * s, y0 + 28 * s, height + 3), 5 * s))
        return sdf.union(*parts)
