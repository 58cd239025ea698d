"""Markdown table of one-slice propagation results from the JSON reports of ``chaos_propagation.sh``.

    .venv/bin/python benchmarks/propagation_table.py OUT_DIR [--names 1=liver,4=spleen]
    .venv/bin/python benchmarks/propagation_table.py --drawn REPORT.json... [--names 1=liver,4=spleen]

Rows: each method of ``tta.json`` (ours with test-time adaptation, and the baselines), then ours with a trained
network, pooled from the ``fold-*.json`` reports: ``fold-a-sS.json`` and ``fold-b-sS.json`` for each training
seed S (each case scored by the network that never saw it), followed by each training's mean Dice per structure;
either kind of report may be missing, not both.
With ``--drawn``: Dice and HD95 per structure and method against the number of slices drawn, one column per
number of ``evaluate propagation --slices N`` (reports with the same N are pooled, e.g. the two folds).
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


def _method_name(method: str, report: dict) -> str:
    if method != "ours":
        return method
    return "ours, trained on the other half" if report.get("model") else "ours, test-time adaptation"


def _by_drawn_slices(paths: list[str], names: dict[str, str]) -> None:
    """Reports with the same number of drawn slices are pooled (the two folds of a trained network, the baselines'
    run); ours is named by its training mode."""
    pooled: dict[int, dict[str, list[dict]]] = {}
    for path in paths:
        report = json.loads(Path(path).read_text())
        methods = pooled.setdefault(report.get("slices", 1), {})
        for method, summary in report["methods"].items():
            methods.setdefault(_method_name(method, report), []).extend(summary["per_case"])
    counts = sorted(pooled)
    order = list(dict.fromkeys(name for n in counts for name in pooled[n]))
    cases = len({r["case"] for per_case in pooled[counts[0]].values() for r in per_case})
    print(f"{cases} volumes, slices drawn per structure: {', '.join(map(str, counts))}\n")
    print("| structure | method | " + " | ".join(f"{n} slice{'s' if n > 1 else ''}: Dice | HD95 (mm)" for n in counts)
          + " |")
    print("|---|---|" + "---|---|" * len(counts))
    for structure, name in names.items():
        for method in order:
            cells = []
            for n in counts:
                chosen = [r for r in pooled[n].get(method, []) if str(r["structure"]) == structure]
                cells += [_cell([r["dice"] for r in chosen], 3), _cell([r["hd95"] for r in chosen], 1)]
            print(f"| {name} | {method} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--drawn", nargs="+", metavar="REPORT", help="reports of evaluate propagation --slices N")
    parser.add_argument("--names", default="1=liver,4=spleen")
    args = parser.parse_args()
    names = dict(item.split("=") for item in args.names.split(","))
    if args.drawn:
        _by_drawn_slices(args.drawn, names)
        return 0
    if args.folder is None:
        parser.error("give OUT_DIR or --drawn REPORT.json...")
    folder = Path(args.folder)
    rows: dict[str, list[dict]] = {}
    tta = json.loads((folder / "tta.json").read_text()) if (folder / "tta.json").is_file() else None
    for method, summary in (tta["methods"] if tta else {}).items():
        rows["ours, test-time adaptation" if method == "ours" else method] = summary["per_case"]
    folds = []
    trainings: dict[str, list[dict]] = {}  # fold-a-s1.json and fold-b-s1.json: the training with seed 1
    for path in sorted(folder.glob("fold-*.json")):
        folds.append(json.loads(path.read_text()))
        seed = path.stem.split("-", 2)[2] if path.stem.count("-") > 1 else ""
        trainings.setdefault(seed, []).extend(folds[-1]["methods"]["ours"]["per_case"])
    if folds:
        rows["ours, trained on the other half"] = [r for per_case in trainings.values() for r in per_case]
    if not rows:
        parser.error(f"{folder} holds neither tta.json nor fold-*.json")
    cases = len({r["case"] for per_case in rows.values() for r in per_case})
    anchor = (tta or folds[0])["anchor"]
    print(f"{cases} volumes, anchor: {anchor} slice, one anchor per structure\n")
    print("| structure | method | Dice | HD95 (mm) | ASSD (mm) | RAVD (%) | propagation s |")
    print("|---|---|---|---|---|---|---|")
    for structure, name in names.items():
        for method, per_case in rows.items():
            chosen = [r for r in per_case if str(r["structure"]) == structure]
            cells = [_cell([r[k] for r in chosen], d) for k, d in
                     (("dice", 3), ("hd95", 1), ("assd", 1), ("ravd", 1), ("seconds", 2))]
            print(f"| {name} | {method} | " + " | ".join(cells) + " |")
    if len(trainings) > 1:
        print(f"\nours, trained on the other half: {len(trainings)} trainings pooled; mean Dice of each")
        for structure, name in names.items():
            means = [f"{seed} {np.mean([r['dice'] for r in per_case if str(r['structure']) == structure]):.3f}"
                     for seed, per_case in trainings.items()]
            print(f"  {name}: " + ", ".join(means))
    return 0


if __name__ == "__main__":
    sys.exit(main())
