"""Markdown table of one-slice propagation results from the JSON reports of ``chaos_propagation.sh``.

    .venv/bin/python benchmarks/propagation_table.py OUT_DIR [--names 1=liver,4=spleen]

Rows: each method of ``tta.json`` (ours with test-time adaptation, and the baselines), then ours with a trained
network, pooled from ``fold-a.json`` and ``fold-b.json`` (each case scored by the network that never saw it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _cell(values: list[float], digits: int) -> str:
    finite = np.asarray([v for v in values if np.isfinite(v)])
    failures = len(values) - len(finite)
    text = f"{finite.mean():.{digits}f} ± {finite.std():.{digits}f}" if finite.size else "–"
    return text + (f" ({failures} failed)" if failures else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--names", default="1=liver,4=spleen")
    args = parser.parse_args()
    names = dict(item.split("=") for item in args.names.split(","))
    folder = Path(args.folder)
    rows: dict[str, list[dict]] = {}
    tta = json.loads((folder / "tta.json").read_text())
    for method, summary in tta["methods"].items():
        rows["ours, test-time adaptation" if method == "ours" else method] = summary["per_case"]
    folds = [json.loads(p.read_text()) for p in sorted(folder.glob("fold-*.json"))]
    if folds:
        rows["ours, trained on the other half"] = [r for f in folds for r in f["methods"]["ours"]["per_case"]]
    print(f"{tta['cases']} volumes, anchor: {tta['anchor']} slice, one anchor per structure\n")
    print("| structure | method | Dice | HD95 (mm) | ASSD (mm) | RAVD (%) | propagation s |")
    print("|---|---|---|---|---|---|---|")
    for structure, name in names.items():
        for method, per_case in rows.items():
            chosen = [r for r in per_case if str(r["structure"]) == structure]
            cells = [_cell([r[k] for r in chosen], d) for k, d in
                     (("dice", 3), ("hd95", 1), ("assd", 1), ("ravd", 1), ("seconds", 2))]
            print(f"| {name} | {method} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
