"""OpenAIBackend: request shape, images as data URLs, settings mapping, per-sample errors."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, last_user_text
from vlmeval.backends.base import Backend, GenerationSettings, Request, SampleError
from vlmeval.backends.openai import OpenAIBackend

KEY_ENV = "VLMEVAL_TEST_BACKEND_KEY"
SECRET = "sk-backend-SECRET-abcdef012345"


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)


def make_backend(server: FakeOpenAIServer, **overrides: Any) -> OpenAIBackend:
    options: dict[str, Any] = {"api_key_env": KEY_ENV, "timeout": 5.0}
    options.update(overrides)
    return OpenAIBackend("served-vlm", server.base_url, **options)


def decode_data_url(url: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))


def random_image(seed: int, size: tuple[int, int] = (17, 9)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def test_images_go_first_as_png_data_urls_with_the_same_pixels() -> None:
    images = [random_image(1), random_image(2, (5, 30))]
    with FakeOpenAIServer() as server:
        backend: Backend = make_backend(server)
        answers = backend.generate([Request("s1", "Describe both.", images)], GenerationSettings())
    assert [a.text for a in answers] == ["Describe both."]  # type: ignore[union-attr]
    (message,) = server.requests[0].body["messages"]
    assert message["role"] == "user"
    first, second, text = message["content"]
    assert text == {"type": "text", "text": "Describe both."}
    for part, original in zip((first, second), images):
        assert part["type"] == "image_url"
        decoded = decode_data_url(part["image_url"]["url"])
        assert decoded.mode == "RGB" and decoded.size == original.size
        assert decoded.tobytes() == original.tobytes()


def test_non_rgb_images_are_converted_sensibly() -> None:
    gray = Image.fromarray(np.array([[0, 128], [200, 255]], dtype=np.uint8), "L")
    clear = Image.new("RGBA", (2, 2), (10, 20, 30, 0))  # fully transparent: becomes white
    with FakeOpenAIServer("ok") as server:
        make_backend(server).generate([Request("s", "t", [gray, clear])], GenerationSettings())
    gray_part, clear_part, _ = server.requests[0].body["messages"][0]["content"]
    gray_rgb = np.asarray(decode_data_url(gray_part["image_url"]["url"]))
    assert gray_rgb.shape == (2, 2, 3)
    assert (gray_rgb == np.asarray(gray)[..., None]).all()
    assert (np.asarray(decode_data_url(clear_part["image_url"]["url"])) == 255).all()


def test_text_only_request_is_a_single_text_part() -> None:
    with FakeOpenAIServer() as server:
        make_backend(server).generate([Request("s", "just text")], GenerationSettings())
    assert server.requests[0].body["messages"][0]["content"] == [{"type": "text", "text": "just text"}]


def test_default_settings_send_only_the_basics() -> None:
    with FakeOpenAIServer() as server:
        make_backend(server).generate([Request("s", "x")], GenerationSettings())
    body = server.requests[0].body
    assert body["model"] == "served-vlm"
    assert body["temperature"] == 0.0 and body["max_tokens"] == 128
    assert not {"top_p", "repetition_penalty", "seed"} & body.keys()


def test_custom_settings_reach_the_request_body() -> None:
    settings = GenerationSettings(
        max_new_tokens=33, temperature=0.7, top_p=0.9, repetition_penalty=1.05, seed=1234
    )
    with FakeOpenAIServer() as server:
        make_backend(server).generate([Request("s", "x")], settings)
    body = server.requests[0].body
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (33, 0.7, 0.9)
    assert (body["repetition_penalty"], body["seed"]) == (1.05, 1234)


def test_beam_search_is_refused_before_any_request() -> None:
    with FakeOpenAIServer() as server, pytest.raises(ValueError, match="num_beams=4"):
        make_backend(server).generate([Request("s", "x")], GenerationSettings(num_beams=4))
    assert server.requests == []


def test_per_sample_failures_are_sample_errors_without_the_key() -> None:
    def reply(body: dict, headers: Mapping[str, str]) -> FakeResponse | str:
        text = last_user_text(body)
        if text == "poison":
            return FakeResponse.error(400, f"image too large (auth {headers['authorization']})")
        return text.upper()

    requests = [Request(f"s{i}", text) for i, text in enumerate(["a", "poison", "b"])]
    with FakeOpenAIServer(reply) as server:
        answers = make_backend(server, concurrency=2).generate(requests, GenerationSettings())
    assert answers[0].text == "A" and answers[2].text == "B"  # type: ignore[union-attr]
    error = answers[1]
    assert isinstance(error, SampleError)
    assert "HTTP 400" in str(error) and "image too large" in str(error) and "served-vlm" in str(error)
    assert "\n" not in str(error) and SECRET not in str(error) and SECRET not in repr(error)
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_describe_names_the_model_and_server_but_not_the_key() -> None:
    with FakeOpenAIServer() as server:
        backend = make_backend(server, concurrency=3)
        info = backend.describe()
    assert info["model"] == "served-vlm"
    assert info["base_url"] == server.base_url
    assert info["concurrency"] == 3
    assert SECRET not in repr(info) and SECRET not in repr(vars(backend))
    assert backend.name == "openai:served-vlm"
