"""Bone segmentation without trained weights (baseline and fallback)."""
