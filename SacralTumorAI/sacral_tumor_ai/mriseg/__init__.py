"""MRI tumour and hip-bone segmentation (seed 2's 2.5D U-Net): All-sequence and T2-fusion models."""
