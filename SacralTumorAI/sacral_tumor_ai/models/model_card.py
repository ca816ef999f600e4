"""Model cards: a readable ``MODEL_CARD.md`` rendered from a package's metadata and measured metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sacral_tumor_ai.io.atomic import atomic_output
from sacral_tumor_ai.models.package import ModelPackage


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict) and {"mean", "sd"} <= set(value):
        if value["mean"] is None:
            return "undefined"
        # A distance is undefined where a mask is empty (a missed tumour): the mean is over the other cases.
        undefined = f" ({value['undefined']} undefined)" if value.get("undefined") else ""
        return f"{value['mean']:.3f} ± {value['sd']:.3f}{undefined}"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def metrics_table(summary: dict[str, dict[str, Any]], columns: tuple[str, ...]) -> list[str]:
    """Markdown rows: one per structure/class, one column per metric."""
    lines = ["| | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    for name, values in summary.items():
        lines.append(f"| {name} | " + " | ".join(_format_value(values.get(c, "")) for c in columns) + " |")
    return lines


def render_model_card(package: ModelPackage, sections: dict[str, list[str]]) -> str:
    """The card: identity, intended use, data, architecture and inputs, then the given result sections."""
    m = package.metadata
    lines = [
        f"# Model card: {m['name']} {m['version']}",
        "",
        f"**{m['intended_use']}**",
        "",
        f"- Task: {m['task']} ({m.get('description', '')})",
        f"- Modality: {m['modality']}",
        f"- Architecture: {m['architecture']['name']} {json.dumps(m['architecture'].get('params', {}))}",
        f"- Weights: `{m['weights']['file']}`, {m['weights']['dtype']}, {m['weights']['bytes'] / 1e6:.1f} MB, sha256 `{m['weights']['sha256']}`",
        f"- Licence: {m['licence']}",
    ]
    if "input" in m:
        lines.append(f"- Input: {json.dumps(m['input'])}")
    if "output" in m:
        lines.append(f"- Output: {json.dumps(m['output'])}")
    training = m.get("training", {})
    lines += ["", "## Training data", "", str(training.get("data", "not recorded"))]
    if "cases" in training:
        lines.append(f"\nCases: {json.dumps(training['cases'])}")
    for title, body in sections.items():
        lines += ["", f"## {title}", "", *body]
    return "\n".join(lines) + "\n"


def write_model_card(package: ModelPackage, sections: dict[str, list[str]]) -> Path:
    path = package.folder / "MODEL_CARD.md"
    with atomic_output(path) as temporary:
        temporary.write_text(render_model_card(package, sections), encoding="utf-8")
    return path
