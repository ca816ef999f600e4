"""Evaluation as the seed papers report it: Dice, IoU, HD95; AUC with CIs, F1, confusion matrices."""
