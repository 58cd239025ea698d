"""How well each k rule recovers a cohort's known groups: adjusted Rand index of the map's clusters against them.

    .venv/bin/python benchmarks/k_rule_groups.py ../shared/data/cxr_lung_dev/manifest.csv

Cohorts: the built-in phantom chest cohort at 20, 40 and 100 scans (4 groups built in), and the shared chest X-rays
(the manifest's class column, which no method sees). For each, the filterbank embeddings are mapped with seeds 0–2
and clustered with k up to 10 by each rule (``cold_start.cluster_map``); prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np


def _embed(images) -> np.ndarray:
    from sparselabel.selection.embedders import get_embedder

    embedder = get_embedder("filterbank")
    return np.concatenate([embedder.embed(images[s:s + 32]) for s in range(0, len(images), 32)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", help="the chest X-rays' manifest.csv (images/ beside it)")
    args = parser.parse_args()
    from sklearn.metrics import adjusted_rand_score

    from sparselabel.core import phantoms
    from sparselabel.core.io import read_image
    from sparselabel.selection.cohort_map import fit_map
    from sparselabel.selection.cold_start import K_RULES, cluster_map

    cohorts = []
    for per_group in (5, 10, 25):
        cases = phantoms.chest_cohort(per_group=per_group, seed=0)
        cohorts.append((f"phantom cohort, {4 * per_group} scans (4 groups)", _embed([c.image for c in cases]),
                        [c.group for c in cases]))
    manifest = Path(args.manifest)
    rows = list(csv.DictReader(open(manifest)))
    images = [read_image(manifest.parent / "images" / row["file"], dims=(2,)) for row in rows]
    cohorts.append((f"shared chest X-rays, {len(rows):,} ({len({r['cls'] for r in rows})} classes)", _embed(images),
                    [row["cls"] for row in rows]))
    print("| cohort | k rule | k per seed (0, 1, 2) | adjusted Rand index, mean ± std |")
    print("|---|---|---|---|")
    for name, vectors, truth in cohorts:
        maps = [fit_map(vectors, seed=seed).coordinates for seed in range(3)]
        for rule in reversed(K_RULES):
            found = [cluster_map(points, 10, seed, rule)[:2] for seed, points in enumerate(maps)]
            agreement = [adjusted_rand_score(truth, labels) for _, labels in found]
            print(f"| {name} | {rule} | {', '.join(str(k) for k, _ in found)} | "
                  f"{np.mean(agreement):.3f} ± {np.std(agreement):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
