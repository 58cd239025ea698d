"""Embedding throughput (images/s) per embedder, on the chest X-rays of ../shared/data or the phantom cohort.

Foundation encoders are timed with full-size, randomly initialised networks (DINOv2-small and ResNet-50 shapes)
saved to a temporary folder and loaded through the same code as real weights: speed does not depend on the values.
For the built-in embedders, when the images folder has a ``manifest.csv`` with a ``cls`` column beside it, the
script also reports how often an image's 5 nearest neighbours (embedding space) share its class — a check that the
map groups like with like (selection never uses the class).

    python benchmarks/embedding_speed.py [--images DIR] [--count 256] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from sparselabel.core import phantoms
from sparselabel.core.io import discover_images, read_image
from sparselabel.selection.embedders import get_embedder


def _foundation_models(folder: Path) -> dict[str, Path]:
    from monai.networks.nets import ResNet
    from transformers import Dinov2Config, Dinov2Model

    Dinov2Model(Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                             image_size=224, patch_size=14)).save_pretrained(folder / "dinov2")
    resnet = ResNet("bottleneck", [3, 4, 6, 3], [64, 128, 256, 512], spatial_dims=2, n_input_channels=3,
                    conv1_t_stride=2, feed_forward=False, bias_downsample=False)
    torch.save(resnet.state_dict(), folder / "resnet50.pt")
    return {"dinov2": folder / "dinov2", "resnet50": folder / "resnet50.pt"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=str(Path(__file__).parents[1] / "../shared/data/cxr_lung_dev/images"))
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    folder = Path(args.images)
    if folder.is_dir():
        images = [read_image(p, dims=(2,)) for p in discover_images(folder)[: args.count]]
        source = f"{len(images)} images from {folder.resolve()}"
    else:
        images = [c.image for c in phantoms.chest_cohort(per_group=args.count // 4)]
        source = f"{len(images)} phantom chest images"
    print(f"{source}, {images[0].shape[0]}×{images[0].shape[1]}; device {args.device}; "
          f"{torch.get_num_threads()} CPU threads")
    with tempfile.TemporaryDirectory() as temporary:
        paths = {"filterbank": None, "pixels": None, **_foundation_models(Path(temporary))}
        baseline = None
        for name, path in paths.items():
            embedder = get_embedder(name, path, device=args.device)
            embedder.embed(images[:4])  # warm-up
            start = time.perf_counter()
            for i in range(0, len(images), 16):
                embedder.embed(images[i:i + 16])
            rate = len(images) / (time.perf_counter() - start)
            baseline = baseline or rate
            agreement = _class_agreement(embedder, folder) if name in ("filterbank", "pixels") else None
            extra = "" if agreement is None else f"; 5-NN class agreement {agreement:.3f} (all images)"
            print(f"{name:10} {rate:8.1f} images/s  ({rate / baseline:5.2f}× filterbank){extra}")


def _class_agreement(embedder, folder: Path) -> float | None:
    import csv

    import numpy as np

    manifest = folder.parent / "manifest.csv"
    if not manifest.is_file():
        return None
    with open(manifest) as handle:
        classes = {row["file"]: row["cls"] for row in csv.DictReader(handle) if "cls" in row}
    paths = [p for p in discover_images(folder) if p.name in classes]
    if len(paths) < 10:
        return None
    vectors = np.concatenate([embedder.embed([read_image(p, dims=(2,)) for p in paths[i:i + 64]])
                              for i in range(0, len(paths), 64)])
    labels = np.array([classes[p.name] for p in paths])
    distances = ((vectors[:, None] - vectors[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :5]
    return float((labels[neighbours] == labels[:, None]).mean())


if __name__ == "__main__":
    main()
