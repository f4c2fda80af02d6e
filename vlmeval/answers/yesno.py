"""Yes/no answers as MME's official scorer reads them.

MME's eval tool (BradyFU/Awesome-Multimodal-Large-Language-Models, branch Evaluation,
`tools/eval_tool/calculation.py`, `parse_pred_ans` after `pred_ans.lower()`): the lower-cased answer
is `yes` or `no` as it is; otherwise `yes` if its first four characters contain "yes", else `no` if
they contain "no", else `other` (scored wrong). So "Yes, it is" is yes, "Not really" is no (its first
four characters hold "no"), "There is no dog" is other.

The official tool reads answers that LLaVA's generation script has already stripped
(`outputs.strip()`); the answer is stripped here too, so " Yes" parses as it would there.
"""

from __future__ import annotations

YES, NO, OTHER = "yes", "no", "other"


def mme_yes_no(prediction: str) -> str:
    """`yes`, `no` or `other`, by the official MME rule."""
    text = prediction.strip().lower()
    if text in (YES, NO):
        return text
    head = text[:4]
    if YES in head:
        return YES
    if NO in head:
        return NO
    return OTHER
