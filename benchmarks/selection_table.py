"""Markdown tables from one or more ``sparselabel evaluate selection`` reports (same split and seeds).

    python benchmarks/selection_table.py selection.json [more.json ...]

Per budget: Dice and HD95 mean ± std over the seeds each strategy completed, and the Dice gain over random on the
same seeds (paired: the seeds both strategies finished).
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(paths: list[str]) -> None:
    strategies: dict[str, dict[str, list[dict]]] = {}
    budgets: list[int] = []
    for path in paths:
        report = json.loads(open(path).read())
        budgets = sorted(set(budgets) | set(report["budgets"]))
        for name, by_budget in report["strategies"].items():
            for budget, scores in by_budget.items():
                strategies.setdefault(name, {})[budget] = scores["per_seed"]
    print("| strategy | " + " | ".join(f"budget {b}: Dice | HD95 | ΔDice vs random" for b in budgets) + " |")
    print("|---|" + "---|---|---|" * len(budgets))
    for name, by_budget in strategies.items():
        cells = []
        for budget in map(str, budgets):
            runs = by_budget.get(budget, [])
            if not runs:
                cells += ["–", "–", "–"]
                continue
            dice = np.array([r["dice"] for r in runs])
            hd95 = np.array([r["hd95"] for r in runs])
            random_by_seed = {r["seed"]: r["dice"] for r in strategies.get("random", {}).get(budget, [])}
            paired = [r["dice"] - random_by_seed[r["seed"]] for r in runs if r["seed"] in random_by_seed]
            gain = f"{np.mean(paired):+.4f}" if paired and name != "random" else "–"
            cells += [f"{dice.mean():.4f} ± {dice.std():.4f} (n={len(runs)})", f"{hd95.mean():.2f} ± {hd95.std():.2f}",
                      gain]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
