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


def llava_pope_yes_no(prediction: str) -> str:
    """`yes` or `no`, as LLaVA's POPE scorer reads an answer (haotian-liu/LLaVA `llava/eval/eval_pope.py`).

    Keep the text before the first `.`, remove `,`, split on single spaces: `No`, `not` or `no`
    among the words means no, anything else (an empty answer included) yes. Words are split on
    spaces only, so "No\\nThere is none" is one word and reads yes, as in the official script. The
    answer is stripped first, as LLaVA's generation script writes it (`outputs.strip()`).
    """
    text = prediction.strip()
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return NO if ("No" in words or "not" in words or "no" in words) else YES
