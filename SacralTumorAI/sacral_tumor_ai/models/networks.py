"""Networks named in model metadata, built from their parameters (no code is loaded from a package)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sacral_tumor_ai.models.package import ModelPackage, ModelPackageError


def _segresnet_ds(params: dict[str, Any]):
    from monai.networks.nets import SegResNetDS

    return SegResNetDS(
        spatial_dims=3,
        init_filters=int(params["init_filters"]),
        in_channels=int(params["in_channels"]),
        out_channels=int(params["out_channels"]),
        blocks_down=tuple(params.get("blocks_down", (1, 2, 2, 4, 4))),
        dsdepth=int(params.get("dsdepth", 4)),
        norm=params.get("norm", "instance"),
    )


def _unet_mobilenet_v2(params: dict[str, Any]):
    import segmentation_models_pytorch as smp

    # encoder_weights=None: nothing is ever downloaded; ImageNet weights come from a local file at training time.
    return smp.Unet(
        encoder_name="mobilenet_v2",
        encoder_weights=None,
        in_channels=int(params["in_channels"]),
        classes=int(params["out_channels"]),
        decoder_channels=tuple(params.get("decoder_channels", (256, 128, 64, 32, 16))),
    )


BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {"SegResNetDS": _segresnet_ds, "UnetMobileNetV2": _unet_mobilenet_v2}


def build_network(architecture: dict[str, Any]):
    """A freshly initialised network from ``{"name": ..., "params": {...}}``."""
    name = architecture.get("name")
    if name not in BUILDERS:
        raise ModelPackageError(f"unknown architecture '{name}'; known: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](architecture.get("params", {}))


def load_network(package: ModelPackage, device: str = "cpu"):
    """The package's network with its weights, in evaluation mode on ``device``."""
    network = build_network(package.metadata["architecture"])
    try:
        network.load_state_dict(package.state_dict(), strict=True)
    except RuntimeError as error:
        raise ModelPackageError(
            f"{package.weights_path}: weights do not fit the architecture in model.json ({str(error).splitlines()[0]})"
        ) from error
    return network.to(device).eval()
