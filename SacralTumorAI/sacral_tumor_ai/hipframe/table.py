"""The location result as rows (feature, value, unit) for tables in Slicer, the browser app and reports."""

from __future__ import annotations

from typing import Any

AXES = ("x (left)", "y (posterior)", "z (superior)")


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _zones(location: dict[str, Any]) -> str:
    return ", ".join(location["enneking_zones"]) or "none (soft tissue only)"


def _centroid(location: dict[str, Any]) -> str:
    x, y, z = location["centroid_frame"]
    return f"{x:+.0f} mm left, {y:+.0f} mm posterior, {z:+.0f} mm superior"


def location_line(location: dict[str, Any]) -> str:
    """One line for people: zones and centroid in the hip frame, or why there is no location."""
    if not location["available"]:
        return f"not available: {location['reason']}"
    levels = f" ({', '.join(location['sacral_levels'])})" if location["sacral_levels"] else ""
    return f"Enneking zone(s) {_zones(location)}{levels}; centroid {_centroid(location)} in the hip frame"


def location_lines(location: dict[str, Any]) -> list[str]:
    """The same readout over a few short lines (for a narrow panel), with the tumour's volume."""
    if not location["available"]:
        return [f"Location not available: {location['reason']}"]
    lines = [f"Enneking zone(s): {_zones(location)}"]
    if location["sacral_levels"]:
        lines.append(f"Sacral levels: {', '.join(location['sacral_levels'])}")
    lines.append(f"Centroid in the hip frame: {_centroid(location)}")
    lines.append(f"Tumour volume: {location['volume_ml']:.1f} mL")
    return lines


def location_rows(location: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Human-readable rows of :func:`describe_location`'s result; unavailable locations give their reason."""
    if not location["available"]:
        return [("Location", "not available", ""), ("Reason", location["reason"], "")]
    rows = [("Enneking zones", _zones(location), "")]
    rows.append(("Sacral levels", ", ".join(location["sacral_levels"]) or "-", ""))
    rows.append(("Volume", _number(location["volume_ml"]), "mL"))
    rows += [(f"Centroid {axis}", _number(v), "mm") for axis, v in zip(AXES, location["centroid_frame"])]
    rows += [(f"Centroid {axis} / scale", _number(v, 3), "") for axis, v in zip(AXES, location["centroid_scaled"])]
    rows += [(f"Extent {axis}", _number(v), "mm") for axis, v in zip(AXES, location["extent_frame"]["size"])]
    rows.append(("Laterality", location["laterality"], ""))
    rows.append(("Share left of midline", _number(location["fraction_left"], 2), ""))
    rows.append(("Distance to midline", _number(location["midline_distance_mm"]), "mm"))
    rows.append(("Crosses midline", "yes" if location["crosses_midline"] else "no", ""))
    for side in ("left", "right"):
        distance = location["si_joint_distance_mm"][side]
        crosses = location["crosses_si_joint"][side]
        rows.append((f"Distance to {side} SI joint (nearest point)", _number(distance["edge"]) if distance else "n/a", "mm"))
        rows.append((f"Crosses {side} SI joint", "n/a" if crosses is None else "yes" if crosses else "no", ""))
    rows += [(f"Share in {name.replace('_', ' ')}", _number(share, 2), "") for name, share in location["structure_fractions"].items()]
    rows += [(f"Seed 1 offset {name}", _number(v), "mm") for name, v in zip(("dx", "dy", "dz"), location["seed1_offsets_mm"])]
    rows.append(("Frame scale", _number(location["frame"]["scale_mm"]), "mm"))
    rows.append(("Frame quality", location["quality"], ""))
    rows += [("Warning", warning, "") for warning in location["warnings"]]
    return rows
