"""Suites of built-in tasks: the tables papers report.

`llava_v1.5`: the twelve benchmarks of LLaVA-1.5's table (Liu et al., "Improved Baselines with Visual
Instruction Tuning", CVPR 2024, Table 4), in its column order, each on the split it reports: VQAv2
test-dev, GQA test-dev balanced, VizWiz test, ScienceQA-IMG, TextVQA val, POPE (mean F1), MME
perception (points), MMBench and MMBench-CN dev, SEED-Bench image, LLaVA-Bench-in-the-Wild, MM-Vet;
one decimal. VQAv2 and VizWiz test answers are scored by EvalAI (their cells stay empty here).
Reference row, LLaVA-1.5-13B: 80.0, 63.3, 53.6, 71.6, 61.3, 85.9, 1531.3, 67.7, 63.6, 68.2 (SEED-IMG),
72.5, 36.1.

`open_vlm`: the Open VLM Leaderboard's main columns (open-compass/VLMEvalKit), in its order: MMBench v1.1,
MMStar, MMMU val, MathVista testmini, (OCRBench: add `SuiteColumn("ocrbench", "OCRBench", points_max=1000)`
once that task exists), AI2D, HallusionBench, MM-Vet; the average over them (points as a percentage of
their full score, as the leaderboard divides OCRBench by 10) and the average rank. Each task is scored
here by its official scorer, not always VLMEvalKit's protocol: MMBench v1.1 on the dev TSV (the
leaderboard averages test EN and CN), HallusionBench on all 1,129 questions with the official judge
(`overall`: mean of aAcc, fAcc, qAcc, as the leaderboard reports on the 951 image rows).
"""

from __future__ import annotations

from vlmeval.suite import ReferenceRow, Suite, SuiteColumn, suite


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


OPEN_VLM_REFERENCES = (
    ReferenceRow("LLaVA-1.5-13B (published)",
                 {"mmmu_val": 36.4, "mathvista_testmini": 27.6, "hallusionbench": 27.45, "mmvet": 36.1},
                 "MMMU: LLaVA-NeXT blog (2024-01-30); MathVista: lupantech/MathVista README leaderboard; "
                 "HallusionBench: tianyi-lab/HallusionBench README, mean of aAcc 46.94, fAcc 24.86, qAcc 10.55 "
                 "(LLaVA-1.5, size not stated); MM-Vet: LLaVA-1.5 paper"),
    ReferenceRow("Phi-3.5-vision (published)", {"mmmu_val": 43.0, "mathvista_testmini": 43.9, "ai2d": 78.1},
                 "huggingface.co/microsoft/Phi-3.5-vision-instruct model card (read via copies of the card)"),
    ReferenceRow("DeepSeek-VL2 (published)",
                 {"mmbench_v11_en_dev": 79.2, "mmmu_val": 51.1, "mathvista_testmini": 62.8, "ai2d": 81.4},
                 "arXiv 2412.10302 (via an aggregator, not read at source; MMBench-V1.1 split and AI2D mask not stated)"),
)


@suite("open_vlm")
def open_vlm() -> Suite:
    return Suite(
        name="open_vlm",
        description="the Open VLM Leaderboard's main columns, average and average rank",
        columns=(
            SuiteColumn("mmbench_v11_en_dev", "MMBench v1.1"),
            SuiteColumn("mmstar", "MMStar"),
            SuiteColumn("mmmu_val", "MMMU"),
            SuiteColumn("mathvista_testmini", "MathVista"),
            SuiteColumn("ai2d", "AI2D"),
            SuiteColumn("hallusionbench", "HallusionBench", metric="overall"),
            SuiteColumn("mmvet", "MM-Vet"),
        ),
        references=OPEN_VLM_REFERENCES,
        ranked=True,
    )
