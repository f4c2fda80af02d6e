"""Suites of built-in tasks: the tables papers report.

`llava_v1.5`: the twelve benchmarks of LLaVA-1.5's table (Liu et al., "Improved Baselines with Visual
Instruction Tuning", CVPR 2024, Table 4), in its column order, each on the split it reports: VQAv2
test-dev, GQA test-dev balanced, VizWiz test, ScienceQA-IMG, TextVQA val, POPE (mean F1), MME
perception (points), MMBench and MMBench-CN dev, SEED-Bench image, LLaVA-Bench-in-the-Wild, MM-Vet;
one decimal. VQAv2 and VizWiz test answers are scored by EvalAI (their cells stay empty here).
Reference row, LLaVA-1.5-13B: 80.0, 63.3, 53.6, 71.6, 61.3, 85.9, 1531.3, 67.7, 63.6, 68.2 (SEED-IMG),
72.5, 36.1.
"""

from __future__ import annotations

from vlmeval.suite import Suite, SuiteColumn, suite


@suite("llava_v1.5")
def llava_v15() -> Suite:
    return Suite(
        description="LLaVA-1.5's twelve benchmarks in the paper's order",
        columns=(
            SuiteColumn("vqav2_testdev", "VQAv2"),
            SuiteColumn("gqa", "GQA"),
            SuiteColumn("vizwiz_test", "VizWiz"),
            SuiteColumn("sqa", "SQA-IMG", metric="img_accuracy"),
            SuiteColumn("textvqa_val", "TextVQA"),
            SuiteColumn("pope", "POPE"),
            SuiteColumn("mme", "MME", metric="perception"),
            SuiteColumn("mmbench_en_dev", "MMBench"),
            SuiteColumn("mmbench_cn_dev", "MMBench-CN"),
            SuiteColumn("seedbench_img", "SEED"),
            SuiteColumn("llava_bench_wild", "LLaVA-Wild"),
            SuiteColumn("mmvet", "MM-Vet"),
        ),
    )
