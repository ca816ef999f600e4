"""Which MRI sequence a series is, guessed from its description or name (``T2_TSE_AX``, ``ep2d_diff_b1000``,
``T1 VIBE FS POST GD``...). A guess for pre-filling a form: the user confirms it, and ``None`` means unknown."""

from __future__ import annotations

import re

# Order matters: a contrast-enhanced T1-w also says "T1", and a DWI may say "T2" (its b = 0 is T2-weighted);
# an explicit "T1"/"T2" beats a technique word (a "T1 FSE" is T1-w). ADC maps are not DWI images: no guess.
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("none", r"\badc\b|apparent diff"),
    ("dwi", r"dwi|diff|ep2d_d|b[ _=-]?(?:800|1000|1400)|trace"),
    ("cet1", r"cet1|ce[ _-]t1|(?:t1|vibe|lava|thrive|mprage).*(?:\+c|\bgd\b|gado|post|contrast|\bce\b|enhanc)|(?:\+c|\bgd\b|gado|post|contrast)\W.*t1"),
    ("t2", r"t2"),
    ("t1", r"t1"),
    ("t2", r"stir|tirm|haste|ssfse|\bspace\b|\bfse\b|\btse\b"),
    ("t1", r"vibe|lava|thrive|mprage|flash"),
)


def guess_sequence(description: str) -> str | None:
    """"t1", "t2", "dwi", "cet1" or None from a series description or node name (case-insensitive)."""
    text = description.lower().replace("-w", "")
    for sequence, pattern in _PATTERNS:
        if re.search(pattern, text):
            return None if sequence == "none" else sequence
    return None
