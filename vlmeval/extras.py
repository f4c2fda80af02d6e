"""Optional dependencies: the core scores, compares and exports; local models, the hub and charts
come with extras (`pip install 'vlmeval[hf]'`, `[hub]`, `[plots]`). A job that needs a missing one
stops with a one-line error naming the extra to install."""

from __future__ import annotations

import importlib.util
import sys

from vlmeval.errors import UsageError

EXTRAS = {
    "hf": ("torch", "transformers", "accelerate"),
    "hub": ("huggingface_hub",),
    "plots": ("matplotlib",),
}
TORCH_ADVICE = (" (torch first: your own CUDA build is kept; CPU only: "
                "pip install torch --index-url https://download.pytorch.org/whl/cpu)")


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (found by name; nothing is imported)."""
    absent = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a blocked or half-installed package counts as absent
            found = False
        if not found:
            absent.append(module)
    return absent


def available(extra: str) -> bool:
    return not missing(extra)


def require(extra: str, purpose: str) -> None:
    """Raise a UsageError (exit 2) naming what `purpose` needs when part of `extra` is absent."""
    absent = missing(extra)
    if absent:
        advice = TORCH_ADVICE if "torch" in absent else ""
        verb = "is" if len(absent) == 1 else "are"
        raise UsageError(f"{purpose} needs {', '.join(absent)}, which {verb} not installed: "
                         f"pip install 'vlmeval[{extra}]'{advice}")


def plots_or_note(what: str) -> bool:
    """Whether matplotlib is here; if not, say on stderr that `what` is skipped and how to get it."""
    if available("plots"):
        return True
    print(f"vlmeval: note: {what} skipped: matplotlib is not installed (pip install 'vlmeval[plots]')",
          file=sys.stderr)
    return False
