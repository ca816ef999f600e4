"""Relative MRI signal per tissue and sequence, and the per-voxel tissue map they are looked up on.

Values are unitless signal on a 0-1 scale, chosen to reproduce the textbook ordering (not absolute
scanner values): fat bright on T1-w and T2-w (fast spin echo), fluid dark on T1-w and bright on T2-w,
cortical bone and gas dark everywhere, adult fatty marrow bright on T1-w, tumour low on T1-w and restricted
(bright) on DWI b = 1000; CET1-w is T1-w with fat suppression and contrast uptake. The viable tumour's T1-w and
T2-w signal depend on its class (``TumourClass.t1_signal``/``t2_signal``): chordoma and chondrosarcoma are
markedly T2-bright (above fat), giant cell tumour low to intermediate, the others in between. Half of the
studies have a fat-suppressed T2-w (as T2 FS or STIR in sarcoma protocols): fat and fatty marrow go dark.
"""

from __future__ import annotations

import numpy as np

from sacral_tumor_ai.phantom.classes import TumourClass
from sacral_tumor_ai.phantom.ct import Fields

SEQUENCES = ("t1", "t2", "dwi", "cet1")

# Tissue codes of the tissue map.
AIR, FAT, MUSCLE, FLUID, BOWEL, GAS, CORTEX, MARROW, TUMOUR, NECROSIS, MATRIX = range(11)

# tissue -> (T1-w, T2-w, DWI b=1000, CET1-w fat-suppressed before enhancement)
SIGNAL: dict[int, tuple[float, float, float, float]] = {
    AIR: (0.0, 0.0, 0.0, 0.0),
    FAT: (0.95, 0.80, 0.05, 0.10),
    MUSCLE: (0.35, 0.22, 0.12, 0.30),
    FLUID: (0.12, 0.95, 0.10, 0.10),
    BOWEL: (0.30, 0.45, 0.25, 0.35),
    GAS: (0.0, 0.0, 0.0, 0.0),
    CORTEX: (0.03, 0.03, 0.02, 0.03),
    MARROW: (0.75, 0.55, 0.06, 0.15),
    TUMOUR: (0.28, 0.75, 0.55, 0.30),
    NECROSIS: (0.18, 0.90, 0.15, 0.15),
    MATRIX: (0.06, 0.10, 0.04, 0.06),  # calcified or sclerotic matrix: signal void
}


# Fat-suppressed T2-w: fat and fatty marrow lose their signal; the rest keeps the T2-w column.
T2_FAT_SUPPRESSED = {FAT: 0.12, MARROW: 0.15}

Overrides = dict[str, dict[int, float]]  # sequence -> tissue -> signal replacing the SIGNAL table's value


def study_signal(rng: np.random.Generator, tumour_class: TumourClass, t2_fat_suppressed: bool) -> Overrides:
    """One study's departures from the SIGNAL table: its tumour's class-sampled T1-w/T2-w signal, and fat
    suppression on T2-w when drawn."""
    t2 = {TUMOUR: float(rng.uniform(*tumour_class.t2_signal))}
    if t2_fat_suppressed:
        t2.update(T2_FAT_SUPPRESSED)
    return {"t1": {TUMOUR: float(rng.uniform(*tumour_class.t1_signal))}, "t2": t2}


def tissue_map(fields: Fields, subcutaneous_mm: float, cortex_mm: float) -> np.ndarray:
    """Tissue code per voxel (uint8, z-y-x) from the phantom's signed-distance fields (mm)."""
    tissue = np.full(fields.body.shape, AIR, np.uint8)
    inside = fields.body < 0
    tissue[inside] = MUSCLE
    tissue[inside & (fields.body > -subcutaneous_mm)] = FAT
    viscera = inside & (fields.pelvic_fat < 0)
    tissue[viscera] = FAT
    tissue[viscera & (fields.loops < 0)] = BOWEL
    tissue[viscera & (fields.gas < 0)] = GAS
    tissue[inside & (fields.rectum < 0)] = BOWEL
    tissue[inside & (fields.bladder < 0)] = FLUID
    for field in (fields.spine, fields.femora, fields.sacrum, fields.hip_left, fields.hip_right):
        tissue[field < 0] = CORTEX
        tissue[field < -cortex_mm] = MARROW
    return tissue


def add_tumour(tissue: np.ndarray, fields: Fields, necrotic: bool, matrix: bool) -> np.ndarray:
    """Paint the tumour (with necrotic core and signal-void matrix where drawn); returns the tumour mask."""
    if fields.tumour is None:
        return np.zeros(tissue.shape, bool)
    mass = (fields.tumour < 0) & (fields.body < 0)
    tissue[mass] = TUMOUR
    if necrotic:
        # The deepest part of the mass, at least 6 mm from its edge, is necrotic (no enhancement, low DWI).
        core = mass & (fields.tumour < -max(6.0, 0.45 * float(-fields.tumour.min())))
        tissue[core] = NECROSIS
    if matrix and fields.calcification is not None:
        tissue[mass & (fields.calcification < 0)] = MATRIX
    return mass


def lookup(tissue: np.ndarray, sequence: str, overrides: Overrides | None = None) -> np.ndarray:
    """Signal (float32) of each voxel's tissue for one sequence, with a study's ``overrides`` applied."""
    column = SEQUENCES.index(sequence)
    table = np.zeros(max(SIGNAL) + 1, np.float32)
    for code, values in SIGNAL.items():
        table[code] = values[column]
    for code, value in (overrides or {}).get(sequence, {}).items():
        table[code] = value
    return table[tissue]
