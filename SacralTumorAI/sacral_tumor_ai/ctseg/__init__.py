"""NCCT segmentation of tumour, left/right hip bones and sacrum (seed 1's model 1)."""
