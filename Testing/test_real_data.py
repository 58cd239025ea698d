"""Regression guards on the real CHAOS MR data (skipped when ../shared/data is absent).

Floors sit well below the measured values (see README, Results) so that they catch breakage, not noise.
"""

from __future__ import annotations

from sparselabel.propagation.evaluation import evaluate_propagation


def test_raw_propagation_on_two_chaos_volumes(chaos_data):
    report = evaluate_propagation(chaos_data / "images", chaos_data / "labels", [1, 4], anchor="largest",
                                  methods=["copy", "raw"], cases=["chaos_t2spir_02", "chaos_t2spir_05"],
                                  log=lambda line: None)
    raw, copy = report["methods"]["raw"], report["methods"]["copy"]
    assert report["cases"] == 2 and len(raw["per_case"]) == 4
    assert raw["by_structure"]["1"]["dice"]["mean"] > 0.6  # liver
    assert raw["by_structure"]["4"]["dice"]["mean"] > 0.6  # spleen
    assert raw["dice"]["mean"] > copy["dice"]["mean"] + 0.1
    assert raw["hd95"]["mean"] < copy["hd95"]["mean"]
