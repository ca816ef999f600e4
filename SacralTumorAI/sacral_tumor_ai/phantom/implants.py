"""Total hip replacements and the metal artefacts they cause on CT (generator 1.7, CT only).

Pelvic CTs of older patients often show a hip prosthesis: a metal femoral head on a stem in the femoral canal,
and a metal acetabular cup with a polyethylene liner, seated where the acetabulum was reamed. Metal stops most
of the beam, and filtered back-projection turns that into streaks: dark bands along the lines joining metal
parts (beam hardening) and bright and dark rays fanning out from them (photon starvation). A model that never
saw them may call them tumour; the real CT here has such streaks beside a metal object.

The streaks are made as a scanner makes them, per axial slice: the metal's path length along each ray (its
projection), an error that grows with it (quadratic for beam hardening, noise for starvation), ramp-filtered
and back-projected onto the slice. Metal reads 3071 HU, the top of a 12-bit scanner's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from sacral_tumor_ai.phantom import sdf
from sacral_tumor_ai.phantom.anatomy import Pelvis
from sacral_tumor_ai.phantom.tumours import Tumour

METAL_HU, LINER_HU = 3071.0, -80.0  # cobalt-chrome or titanium saturates; polyethylene reads like fat
PREVALENCE = 0.12  # cases with at least one hip replacement
BILATERAL = 0.3  # of those, both hips
TUMOUR_CLEARANCE_MM = 25.0  # no prosthesis on a side whose acetabulum a tumour lobe comes this near
ARTEFACT_PIXEL_MM = 2.0  # the streaks are computed on a grid about this coarse, then interpolated
ANGLES = 64  # projection angles over 180 degrees


@dataclass(frozen=True)
class HipImplant:
    """One total hip replacement, in the patient's frame (mm); ``side`` +1 left, -1 right."""

    side: int
    head_radius: float  # the metal ball (28-36 mm heads)
    cup_radius: float  # outer radius of the metal shell, pressed into the reamed acetabulum
    shell_mm: float  # metal shell thickness; the liner fills the rest down to the ball
    stem_length: float  # from the neck's end down the femoral canal

    @classmethod
    def sample(cls, rng: np.random.Generator, pelvis: Pelvis, side: int) -> HipImplant:
        head = float(rng.choice([14.0, 16.0, 18.0]))
        return cls(side, head, pelvis.femoral_head + float(rng.uniform(2.0, 4.0)), float(rng.uniform(2.0, 4.0)),
                   float(rng.uniform(110.0, 170.0)) * pelvis.scale)

    def _points(self, pelvis: Pelvis) -> tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]:
        """(head centre, neck end, stem tip): the femur's own axis (``Pelvis.femur``)."""
        s = pelvis.scale
        ax, ay, az = pelvis.acetabulum
        head = (self.side * ax, ay, az)
        neck = (self.side * (ax + 36 * s), ay + 6 * s, az - 28 * s)
        shaft = np.array([self.side * (ax + 38 * s), ay + 12 * s, az - 260 * s]) - np.array(neck)
        tip = tuple(np.array(neck) + shaft / np.linalg.norm(shaft) * self.stem_length)
        return head, neck, tip

    def metal(self, pelvis: Pelvis, x, y, z) -> np.ndarray:
        """Signed distance of the metal: ball, neck and tapered stem, and the cup's shell."""
        head, neck, tip = self._points(pelvis)
        ball = sdf.sphere(x, y, z, head, self.head_radius)
        stem = sdf.union(sdf.capsule(x, y, z, head, neck, 6.0), sdf.capsule(x, y, z, neck, tip, 8.0, 4.0))
        return sdf.union(ball, stem, sdf.intersect(self._cup(pelvis, x, y, z), -self._inner(pelvis, x, y, z, self.shell_mm)))

    def liner(self, pelvis: Pelvis, x, y, z) -> np.ndarray:
        """Signed distance of the polyethylene liner between the shell and the ball."""
        head, _, _ = self._points(pelvis)
        shell = self._inner(pelvis, x, y, z, self.shell_mm)
        return sdf.intersect(sdf.intersect(self._cup(pelvis, x, y, z), shell), -sdf.sphere(x, y, z, head, self.head_radius + 0.5))

    def resected(self, pelvis: Pelvis, x, y, z) -> np.ndarray:
        """Where native bone is gone: the reamed acetabulum, the femoral head and the neck above the cut."""
        head, neck, _ = self._points(pelvis)
        reamed = sdf.sphere(x, y, z, head, self.cup_radius)
        midneck = tuple((np.array(head) + np.array(neck)) / 2)
        return sdf.union(reamed, sdf.capsule(x, y, z, head, midneck, pelvis.femoral_head * 0.75))

    def _cup(self, pelvis: Pelvis, x, y, z) -> np.ndarray:
        """The cup's outer hemisphere, open towards the femur (as the native cup in ``Pelvis.hip``)."""
        head, _, _ = self._points(pelvis)
        opening = np.array([0.72 * self.side, -0.28, -0.64], np.float32)
        face = (x - head[0]) * opening[0] + (y - head[1]) * opening[1] + (z - head[2]) * opening[2]
        return sdf.intersect(sdf.sphere(x, y, z, head, self.cup_radius), face)

    def _inner(self, pelvis: Pelvis, x, y, z, depth: float) -> np.ndarray:
        head, _, _ = self._points(pelvis)
        return sdf.sphere(x, y, z, head, self.cup_radius - depth)


@dataclass(frozen=True)
class MetalArtefacts:
    """How strongly this scan streaks around metal (tube voltage, metal and reconstruction differ), and the
    random stream of its starvation noise."""

    rng: np.random.Generator
    # The projection error, in HU mm of line integral, for a ray through P mm of metal:
    hardening: float  # -hardening x P^2: dark bands between metal parts
    starvation: float  # starvation x P x unit noise: bright and dark rays

    @classmethod
    def sample(cls, rng: np.random.Generator) -> MetalArtefacts:
        return cls(rng, float(rng.uniform(10.0, 40.0)), float(rng.uniform(40.0, 200.0)))


def sample_implants(rng: np.random.Generator, pelvis: Pelvis, tumour: Tumour | None) -> tuple[HipImplant, ...]:
    """No prosthesis in most cases; one or both hips replaced in ``PREVALENCE`` of them, never beside the tumour (a
    periacetabular tumour with a prosthesis is a revision case, not what these models are for)."""
    if rng.uniform() >= PREVALENCE:
        return ()
    sides = [1, -1] if rng.uniform() < BILATERAL else [int(rng.choice([1, -1]))]
    clear = [side for side in sides if _clear_of_tumour(pelvis, tumour, side)]
    return tuple(HipImplant.sample(rng, pelvis, side) for side in clear)


def _clear_of_tumour(pelvis: Pelvis, tumour: Tumour | None, side: int) -> bool:
    if tumour is None:
        return True
    ax, ay, az = pelvis.acetabulum
    centre = np.array([side * ax, ay, az])
    return all(np.linalg.norm(np.array(lobe[:3]) - centre) - lobe[3] > TUMOUR_CLEARANCE_MM + pelvis.femoral_head for lobe in tumour.lobes)


def metal_streaks(metal: np.ndarray, pixel_mm: float, artefacts: MetalArtefacts) -> np.ndarray:
    """The HU error (z-y-x, float32) that metal of fraction ``metal`` (z-y-x, 0..1 per voxel) adds around it
    in each axial slice of square ``pixel_mm`` pixels."""
    streaks = np.zeros(metal.shape, np.float32)
    factor = max(1, int(round(ARTEFACT_PIXEL_MM / pixel_mm)))
    rays = None  # every slice has the same coarse grid: its geometry is made once
    for index in np.flatnonzero(metal.reshape(len(metal), -1).max(axis=1) > 0.01):
        coarse = _block_sum(metal[index], factor) / factor**2
        rays = rays or _Rays.of(coarse.shape, pixel_mm * factor)
        error = _back_project(_sinogram(coarse, rays, artefacts), rays)
        streaks[index] = ndimage.zoom(error, factor, order=1, grid_mode=True, mode="nearest")[: metal.shape[1], : metal.shape[2]]
    return streaks * (1 - metal)  # metal itself still reads saturated


def _block_sum(image: np.ndarray, factor: int) -> np.ndarray:
    ny, nx = (-(-n // factor) * factor for n in image.shape)
    padded = np.zeros((ny, nx), np.float32)
    padded[: image.shape[0], : image.shape[1]] = image
    return padded.reshape(ny // factor, factor, nx // factor, factor).sum(axis=(1, 3))


@dataclass(frozen=True)
class _Rays:
    """A slice grid's geometry for projection: its shape, pixel centres (2 x pixels, x and y in mm from the slice
    centre), each angle's cosine and sine, the number of bins (of ``pixel_mm``) across the slice."""

    shape: tuple[int, int]

    points: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    bins: int
    pixel_mm: float

    @classmethod
    def of(cls, shape: tuple[int, int], pixel_mm: float) -> _Rays:
        ys, xs = np.indices(shape, dtype=np.float32)
        x = (xs - (shape[1] - 1) / 2) * pixel_mm
        y = (ys - (shape[0] - 1) / 2) * pixel_mm
        angles = np.arange(ANGLES, dtype=np.float32) * np.float32(np.pi / ANGLES)
        return cls(tuple(shape), np.stack([x.ravel(), y.ravel()]), np.cos(angles), np.sin(angles), int(np.ceil(np.hypot(*shape))) + 1, pixel_mm)

    def bin_of(self, k: int, points: np.ndarray) -> np.ndarray:
        """Where ``points`` (2 x n, mm) fall across angle ``k``'s projection, in bins."""
        return (points[0] * self.cos[k] + points[1] * self.sin[k]) / self.pixel_mm + self.bins / 2


def _sinogram(metal: np.ndarray, rays: _Rays, artefacts: MetalArtefacts) -> np.ndarray:
    """Each angle's ramp-filtered projection error (ANGLES x bins, HU mm) of a slice's metal fraction."""
    bins = rays.bins
    weights = metal.ravel() * rays.pixel_mm  # mm of metal each pixel adds to a ray through it
    inside = weights > 0
    points = rays.points[:, inside]
    sinogram = np.empty((ANGLES, bins), np.float32)
    for k in range(ANGLES):
        sinogram[k] = np.bincount(np.clip(rays.bin_of(k, points).astype(int), 0, bins - 1), weights[inside], minlength=bins)
    noise = artefacts.rng.standard_normal(sinogram.shape).astype(np.float32)
    error = -artefacts.hardening * sinogram**2 + artefacts.starvation * sinogram * noise
    ramp = np.abs(np.fft.rfftfreq(2 * bins)) * np.hanning(2 * (bins + 1))[bins + 1 :][: bins + 1]  # Ram-Lak, Hann-windowed
    return np.fft.irfft(np.fft.rfft(error, 2 * bins, axis=1) * ramp, axis=1)[:, :bins].astype(np.float32)


def _back_project(filtered: np.ndarray, rays: _Rays) -> np.ndarray:
    """Filtered back-projection of the error onto a slice of the rays' grid (HU)."""
    positions = np.arange(rays.bins, dtype=np.float32) + 0.5
    image = np.zeros(rays.points.shape[1], np.float32)
    for k in range(ANGLES):
        image += np.interp(rays.bin_of(k, rays.points), positions, filtered[k])
    return (image * np.float32(np.pi / ANGLES / rays.pixel_mm)).reshape(rays.shape)
