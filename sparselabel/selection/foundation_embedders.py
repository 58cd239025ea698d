"""Foundation-model embedders, loaded from local files only (nothing is downloaded at run time).

* :class:`DinoEmbedder` — a DINOv2-family vision transformer saved in Hugging Face format (``config.json`` and
  weights; e.g. ``facebook/dinov2-small`` or Microsoft's RAD-DINO), read with ``transformers`` in offline mode.
  The descriptor is the class token joined to the mean of the patch tokens (DINOv2's own linear-probe recipe).
  Pixel mean/std come from the folder's ``preprocessor_config.json`` when there is one, ImageNet's otherwise.
* :class:`ResNetEmbedder` — a RadImageNet-style ResNet checkpoint (a torchvision-layout state dict in a ``.pt`` /
  ``.pth`` file, optionally under ``state_dict`` / ``model`` and with ``module.`` / ``backbone.`` prefixes, or
  numbered like ``nn.Sequential(*resnet.children())``). The architecture — bottleneck or basic blocks, blocks per
  stage, widths, input channels — is read from the checkpoint itself, built with MONAI's ResNet and loaded strictly;
  the descriptor is the globally average-pooled last stage (2048 values for ResNet-50).

Grey-level slices are repeated over the network's input channels and resized to its input size; batches run on the
GPU when there is one.
"""

from __future__ import annotations

import json
import re

import numpy as np

from ..core.devices import select_device
from ..core.errors import UserInputError, brief
from ..core.weights import load_weights
from .slice_embedder import SliceEmbedder, model_identity, model_path

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _NetworkEmbedder(SliceEmbedder):
    batch = 16
    size = 224
    channels = 3
    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def _inputs(self, slices):
        import torch
        import torch.nn.functional as F

        resized = F.interpolate(slices, size=(self.size, self.size), mode="bilinear", align_corners=False)
        mean = torch.tensor(self.mean[: self.channels]).view(1, -1, 1, 1)
        std = torch.tensor(self.std[: self.channels]).view(1, -1, 1, 1)
        return ((resized.expand(-1, self.channels, -1, -1) - mean) / std).to(self.device)

    def describe(self, slices) -> np.ndarray:
        import torch

        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            parts = [self._forward(self._inputs(slices[i:i + self.batch])).float().cpu()
                     for i in range(0, len(slices), self.batch)]
        return torch.cat(parts).numpy()


class DinoEmbedder(_NetworkEmbedder):
    name = "dinov2"

    def __init__(self, path=None, device: str = "auto"):
        try:
            from transformers import AutoModel
        except ImportError:
            raise UserInputError("embedder 'dinov2' needs the 'transformers' package; install it with pip (in "
                                 "Slicer's Python console: slicer.util.pip_install('transformers'))") from None
        path = model_path(self.name, path)
        if not (path / "config.json").is_file():
            raise UserInputError(f"{path}: no config.json; expected a Hugging Face model folder (config.json + "
                                 "weights), e.g. a saved facebook/dinov2-small or microsoft/rad-dino")
        self.device = select_device(device)
        try:
            self.network = AutoModel.from_pretrained(path, local_files_only=True).to(self.device).eval()
        except (OSError, ValueError) as error:
            raise UserInputError(f"{path}: cannot load the model ({brief(error)})") from None
        config = self.network.config
        self.size = int(getattr(config, "image_size", 224))
        self.channels = int(getattr(config, "num_channels", 3))
        processor = path / "preprocessor_config.json"
        if processor.is_file():
            settings = json.loads(processor.read_text())
            self.mean = tuple(settings.get("image_mean", IMAGENET_MEAN))
            self.std = tuple(settings.get("image_std", IMAGENET_STD))
            crop = settings.get("crop_size")
            if isinstance(crop, dict) and "height" in crop:
                self.size = int(crop["height"])
        self.identity = model_identity(self.name, path)

    def _forward(self, inputs):
        import torch

        tokens = self.network(pixel_values=inputs).last_hidden_state
        return torch.cat([tokens[:, 0], tokens[:, 1:].mean(1)], 1)


_SEQUENTIAL = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}


def torchvision_state(checkpoint: dict) -> dict:
    """A ResNet state dict in torchvision names, whatever wrapper or prefix the checkpoint file used."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    state = {}
    for key, value in checkpoint.items():
        key = re.sub(r"^(module\.|backbone\.|model\.|encoder\.)+", "", key)
        head, _, rest = key.partition(".")
        key = f"{_SEQUENTIAL[head]}.{rest}" if head in _SEQUENTIAL else key
        if not key.startswith("fc."):  # the classifier is not part of the descriptor
            state[key] = value
    return state


class ResNetEmbedder(_NetworkEmbedder):
    name = "resnet50"

    def __init__(self, path=None, device: str = "auto"):
        from monai.networks.nets import ResNet

        path = model_path(self.name, path)
        if path.is_dir():
            raise UserInputError(f"{path}: is a folder; expected a ResNet checkpoint file (.pt / .pth)")
        checkpoint = load_weights(path, "a ResNet checkpoint of plain weights (a state dict)")
        state = torchvision_state(checkpoint if isinstance(checkpoint, dict) else {})
        if "conv1.weight" not in state or "layer4.0.conv1.weight" not in state:
            raise UserInputError(f"{path}: no ResNet weights found (expected torchvision-style keys such as "
                                 "conv1.weight and layer1.0.conv1.weight)")
        bottleneck = "layer1.0.conv3.weight" in state
        layers = [1 + max(int(m.group(1)) for k in state if (m := re.match(rf"layer{s}\.(\d+)\.", k)))
                  for s in range(1, 5)]
        widths = [int(state[f"layer{s}.0.conv1.weight"].shape[0]) for s in range(1, 5)]
        self.channels = int(state["conv1.weight"].shape[1])
        network = ResNet("bottleneck" if bottleneck else "basic", layers, widths, spatial_dims=2,
                         n_input_channels=self.channels, conv1_t_size=int(state["conv1.weight"].shape[-1]),
                         conv1_t_stride=2, feed_forward=False, bias_downsample=False)
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise UserInputError(f"{path}: the weights do not fit the ResNet read from it ({brief(error)})") from None
        self.device = select_device(device)
        self.network = network.to(self.device).eval()
        self.identity = model_identity(self.name, path)

    def _forward(self, inputs):
        return self.network(inputs)
