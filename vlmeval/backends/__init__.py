"""Backends by the `--model` value: `openai:NAME`, `replay:FILE`, `demo`, or a checkpoint.

Each kind lives in its own module and is imported only when asked for.
"""

from __future__ import annotations

from vlmeval.backends.base import Backend, BackendOptions, GenerationSettings, Request, SampleError

__all__ = ["Backend", "BackendOptions", "GenerationSettings", "Request", "SampleError", "make_backend"]


def make_backend(model: str, options: BackendOptions) -> Backend:
    if model.startswith("openai:"):
        from vlmeval.backends.openai import OpenAIBackend
        from vlmeval.errors import UsageError

        if not options.base_url:
            raise UsageError(f"--model {model} needs --base-url (e.g. http://localhost:8000/v1)")
        try:
            return OpenAIBackend(
                model.removeprefix("openai:"),
                options.base_url,
                concurrency=options.concurrency,
                api_key_env=options.api_key_env,
                timeout=options.timeout,
                max_retries=options.max_retries,
                body_args=options.model_args,
                chat_template_args=options.chat_template_args,
                system_prompt=options.system_prompt,
                max_images=options.max_images,
            )
        except ValueError as exc:  # the message shows the URL without its credentials
            raise UsageError(f"--base-url / --concurrency / --max-retries: {exc}") from exc
    if model.startswith("replay:"):
        from vlmeval.backends.replay import ReplayBackend

        return ReplayBackend(model.removeprefix("replay:"))
    from vlmeval.extras import require

    require("hf", f"--model {model} (a local model, run with transformers)")
    from vlmeval.backends.transformers import TransformersBackend

    return TransformersBackend(resolve_checkpoint(model), options)


def resolve_checkpoint(model: str) -> str:
    """`demo` names the bundled tiny checkpoint; anything else is a path or a hub id."""
    if model == "demo":
        from vlmeval.demo import CHECKPOINT_DIR

        return str(CHECKPOINT_DIR)
    return model
