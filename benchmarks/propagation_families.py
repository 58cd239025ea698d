"""One-slice propagation on the three volume families, every method under the evaluation protocol, per family.

    .venv/bin/python benchmarks/propagation_families.py DATA_DIR OUT_DIR [--methods ours,raw,demons,copy]
        [--model CKPT] [--adaptation-steps N] [--slices N] [--families chaos,acdc,la] [--cases N]
    .venv/bin/python benchmarks/propagation_families.py DATA_DIR OUT_DIR --ablation [RULE,...]

DATA_DIR holds the families' folders (``chaos_mr_t2spir``, ``acdc_cine_mr``, ``la2018_lge_mr_dev``, each with
``images/`` and ``labels/``). Each family's report (``sparselabel evaluate propagation``'s JSON) goes to
``OUT_DIR/<family>.json``; a Markdown table of Dice and HD95 per family, structure and method is printed and written to
``OUT_DIR/table.md``.

With ``--ablation``, ``ours`` runs once as it is and once with each propagation rule switched off in turn (all of
:data:`RULES`, or those named); the reports go to ``OUT_DIR/<rule>/<family>.json`` and the table gives each rule's
change in mean Dice per family and structure. A rule is switched off here, in the benchmark, by the argument or
attribute that sets it; the product has no switch for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

FAMILIES = {  # name: (folder, {label value: structure})
    "chaos": ("chaos_mr_t2spir", {1: "liver", 4: "spleen"}),
    "acdc": ("acdc_cine_mr", {1: "right ventricle", 2: "myocardium", 3: "left ventricle"}),
    "la": ("la2018_lge_mr_dev", {1: "left atrium"}),
}

# Each rule, and what switches it off: arguments of walk.propagate, or of the steppers, or the evaluation's
# largest-component rule. The names follow docs/OneSliceSeg-measurements.md.
RULES = {
    "drawn slice's say": {"propagate": {"anchor_weight": 0.0}},
    "round trips": {"propagate": {"round_trip": 0.0}},
    "intensity band": {"propagate": {"verification": None}},
    "outline refinement": {"propagate": {"refinement": None}},
    "tail": {"propagate": {"tail_fraction": 0.0}},
    "narrowing doubt": {"propagate": {"doubt_fraction": 0.0}},
    "continuity": {"propagate": {"continuity": 0.0}},
    "necks": {"propagate": {"neck": 0.0}},
    "intensity term": {"network": {"intensity_weight": 0.0}},
    "segment's own window": {"stepper": {"window_scale": 0.0, "far_window": 0}},
    "largest component": {"largest_component": False},
}


def _switch_off(rule: str) -> None:
    """Patch the evaluation so that ``rule`` is off for the rest of this process."""
    from sparselabel.propagation import evaluation

    change = RULES[rule]
    if "propagate" in change:
        checks = evaluation.slice_checks
        evaluation.slice_checks = lambda method, *a, **k: {**checks(method, *a, **k), **change["propagate"]}
    if "network" in change or "stepper" in change:
        build = evaluation.build_stepper

        def patched(*args, **kwargs):
            stepper, record = build(*args, **kwargs)
            if hasattr(stepper, "network"):
                stepper.network.config = replace(stepper.network.config, **change.get("network", {}))
                for name, value in change.get("stepper", {}).items():
                    setattr(stepper, name, value)
            return stepper, record

        evaluation.build_stepper = patched
    if change.get("largest_component") is False:
        evaluation.keep_largest_component = lambda label, anchors, axis=0: label


def _run(data: Path, out: Path, families: list[str], methods: list[str], model: str | None, steps: int,
         slices: int, cases: int | None) -> dict[str, dict]:
    from sparselabel.propagation.evaluation import evaluate_propagation

    reports = {}
    out.mkdir(parents=True, exist_ok=True)
    for family in families:
        folder, structures = FAMILIES[family]
        names = sorted(p.name.removesuffix(".nii.gz") for p in (data / folder / "images").glob("*.nii.gz"))
        report = evaluate_propagation(data / folder / "images", data / folder / "labels", list(structures),
                                      "representative", methods, Path(model) if model else None, steps, "cpu",
                                      names[:cases] if cases else None, slices, log=lambda line: None)
        (out / f"{family}.json").write_text(json.dumps(report, indent=1))
        reports[family] = report
        print(f"{family}: done", file=sys.stderr, flush=True)
    return reports


def _cell(values: list[float], digits: int) -> str:
    finite = [v for v in values if np.isfinite(v)]
    return f"{np.mean(finite):.{digits}f} ± {np.std(finite):.{digits}f}" if finite else "–"


def _table(reports: dict[str, dict]) -> str:
    lines = ["| family | structure | method | Dice | HD95 (mm) | s per structure |", "|---|---|---|---|---|---|"]
    for family, report in reports.items():
        for value, name in FAMILIES[family][1].items():
            for method, summary in report["methods"].items():
                rows = [r for r in summary["per_case"] if r["structure"] == value]
                lines.append(f"| {family} ({report['cases']}) | {name} | {method} | "
                             f"{_cell([r['dice'] for r in rows], 3)} | {_cell([r['hd95'] for r in rows], 1)} | "
                             f"{_cell([r['seconds'] for r in rows], 2)} |")
    return "\n".join(lines)


def _mean_dice(report: dict, value: int) -> float:
    return float(np.mean([r["dice"] for r in report["methods"]["ours"]["per_case"] if r["structure"] == value]))


def _ablation_table(baseline: dict[str, dict], ablated: dict[str, dict[str, dict]]) -> str:
    columns = [(family, value, name) for family in baseline for value, name in FAMILIES[family][1].items()]
    lines = ["| rule switched off | " + " | ".join(f"{family}: {name}" for family, _, name in columns) + " |",
             "|---|" + "---|" * len(columns),
             "| none (as shipped) | " + " | ".join(f"{_mean_dice(baseline[f], v):.3f}" for f, v, _ in columns) + " |"]
    for rule, reports in ablated.items():
        cells = [f"{_mean_dice(reports[f], v) - _mean_dice(baseline[f], v):+.3f}" for f, v, _ in columns]
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--methods", default="ours,raw,demons,copy")
    parser.add_argument("--model", help="checkpoint for 'ours' (default: the shipped network)")
    parser.add_argument("--adaptation-steps", type=int, default=0)
    parser.add_argument("--slices", type=int, default=1)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--cases", type=int, help="only the first N cases of each family")
    parser.add_argument("--ablation", nargs="?", const=",".join(RULES), help="rules to switch off in turn")
    parser.add_argument("--rule", help=argparse.SUPPRESS)  # one ablation, in a process of its own
    args = parser.parse_args()
    families = args.families.split(",")
    if args.rule:
        _switch_off(args.rule)
        _run(args.data, args.out, families, ["ours"], args.model, args.adaptation_steps, args.slices, args.cases)
        return 0
    if args.ablation:
        import subprocess

        baseline = _run(args.data, args.out / "none", families, ["ours"], args.model, args.adaptation_steps,
                        args.slices, args.cases)
        ablated = {}
        for rule in args.ablation.split(","):
            folder = args.out / rule.replace(" ", "-").replace("'", "")
            command = [sys.executable, __file__, str(args.data), str(folder), "--rule", rule,
                       "--families", args.families, "--adaptation-steps", str(args.adaptation_steps),
                       "--slices", str(args.slices)]
            command += ["--model", args.model] if args.model else []
            command += ["--cases", str(args.cases)] if args.cases else []
            subprocess.run(command, check=True)
            ablated[rule] = {f: json.loads((folder / f"{f}.json").read_text()) for f in families}
            print(f"{rule}: done", file=sys.stderr, flush=True)
        table = _ablation_table(baseline, ablated)
    else:
        table = _table(_run(args.data, args.out, families, args.methods.split(","), args.model,
                            args.adaptation_steps, args.slices, args.cases))
    print(table)
    (args.out / ("ablation.md" if args.ablation else "table.md")).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
