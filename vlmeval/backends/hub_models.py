"""A hub model id pinned to one revision on disk before it is identified and loaded.

`from_pretrained("org/name")` fetches whatever the hub holds when it runs, while the run identity
was taken before: a model pushed in between (or between two resumes of a run) would answer under
the old identity. So a hub id is first brought into the local cache as one snapshot folder
(`snapshots/<commit>/`), and both the identity (the folder's content, as for any local checkpoint)
and the loading read that folder: what answered is what was identified.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from vlmeval.errors import UsageError

# Weight files transformers reads for a checkpoint that has safetensors; the others are alternatives
# (PyTorch pickles, TF, Flax, ONNX, GGUF) that `from_pretrained` would not fetch either.
_OTHER_WEIGHT_FORMATS = (".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".onnx_data", ".gguf")


def needed_files(files: Sequence[str]) -> list[str]:
    """The files of a model repository a checkpoint load reads: top-level files (subfolders hold other
    formats or the original release), without alternative weight formats when safetensors exist."""
    top = [f for f in files if "/" not in f]
    if any(f.endswith(".safetensors") for f in top):
        top = [f for f in top if not f.endswith(_OTHER_WEIGHT_FORMATS)]
    return top


@functools.lru_cache(maxsize=None)
def hub_snapshot(model: str) -> str:
    """The local snapshot folder of hub model `model` at the hub's current revision (the cached one
    offline); a UsageError naming the model when neither can be had."""
    from vlmeval.extras import require

    require("hub", f"--model {model} (a model from the Hugging Face hub)")
    import huggingface_hub

    try:
        files: list[str] | None = huggingface_hub.list_repo_files(model)
    except Exception:  # offline or unreachable: the cached snapshot, if any
        files = None
    try:
        if files is None:
            return str(huggingface_hub.snapshot_download(model, local_files_only=True))
        return str(huggingface_hub.snapshot_download(model, allow_patterns=needed_files(files)))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--model {model}: not a local folder, and the hub copy cannot be had ({reason}); "
                         f"pass the checkpoint's folder") from exc
