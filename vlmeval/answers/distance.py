"""Edit distance, as the official scorers that use one compute it (RRC's ANLS script, MathVista's
nearest choice through python-Levenshtein's `distance`): unit-cost insertions, deletions, substitutions."""

from __future__ import annotations


def levenshtein(a: str, b: str) -> int:
    """The number of single-character edits that turn `a` into `b`."""
    if len(a) < len(b):  # one row of the shorter string's length
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]
