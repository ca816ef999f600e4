"""Where parts of the pelvis sit in the hip frame, as fractions of its scale.

Measured on generated pelvises by ``scripts/calibrate_hip_frame.py --cases 40`` (means; the spread between
patients is 0.01-0.03 of scale); they only seed searches and set zone sizes, they are never reported as
measurements.
"""

from __future__ import annotations

ACETABULUM = (0.644, -0.045, -0.147)  # left acetabular centre (x mirrored for the right side)
FEMORAL_HEAD_RADIUS = 0.155
ZONE_II_RADIUS = 0.311  # Enneking zone II: hip bone within this distance of the acetabular centre
ACETABULUM_SEARCH_RADIUS = 0.12  # how far from the template the acetabular centre may be found
SACRAL_LEVEL_EDGES = (0.0, 0.25, 0.45, 0.62, 0.8, 1.0)  # S1..S5 as fractions of the sacrum's height, top down
SACRAL_LEVELS = ("S1", "S2", "S3", "S4", "S5")
