"""Model packages (weights + metadata + checksum) and the networks they describe."""

from sacral_tumor_ai.models.package import ModelPackage, load_package, save_package, sha256_of

__all__ = ["ModelPackage", "load_package", "save_package", "sha256_of"]
