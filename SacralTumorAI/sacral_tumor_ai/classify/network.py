"""Seed 1's classifier ("CL-MedImageNet"): a 3D DenseNet on the tumour crop, its pooled features joined with
the standardised scalars, then fully connected layers (1024 + scalars -> 512 -> 256 -> classes).

Everything is a parameter, stored in the model's metadata: DenseNet-121 (init features 64, growth 32,
blocks 6-12-24-16) is the default; lighter settings suit CPUs; ``image: false`` or no scalars give the
ablation variants.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

DEFAULT_ARCHITECTURE: dict[str, Any] = {
    "name": "DenseNetScalars",
    "params": {
        "in_channels": 2,
        "scalars": 0,
        "classes": 6,
        "image": True,
        "init_features": 64,
        "growth_rate": 32,
        "block_config": [6, 12, 24, 16],
        "hidden": [512, 256],
        "dropout": 0.2,
    },
}


class DenseNetScalars(nn.Module):
    def __init__(self, in_channels: int, scalars: int, classes: int, image: bool = True, init_features: int = 64, growth_rate: int = 32,
                 block_config: tuple[int, ...] = (6, 12, 24, 16), hidden: tuple[int, ...] = (512, 256), dropout: float = 0.2) -> None:
        super().__init__()
        from monai.networks.nets import DenseNet

        self.image = image
        width = 0
        if image:
            densenet = DenseNet(spatial_dims=3, in_channels=in_channels, out_channels=classes, init_features=init_features, growth_rate=growth_rate, block_config=tuple(block_config))
            self.features = densenet.features
            self.pool = nn.Sequential(nn.ReLU(inplace=True), nn.AdaptiveAvgPool3d(1), nn.Flatten())
            width = densenet.class_layers.out.in_features
        if width + scalars == 0:
            raise ValueError("the classifier needs the image, scalars or both")
        layers: list[nn.Module] = []
        width += scalars
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, classes))
        self.head = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        parts = [self.pool(self.features(image))] if self.image else []
        if scalars.shape[1]:
            parts.append(scalars)
        return self.head(torch.cat(parts, dim=1))


def build_classifier(architecture: dict[str, Any]) -> DenseNetScalars:
    if architecture["name"] != "DenseNetScalars":
        raise ValueError(f"unknown classifier architecture {architecture['name']!r}")
    return DenseNetScalars(**architecture["params"])
