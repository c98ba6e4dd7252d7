"""Node clients against ``edenfake serve``: the openai Node SDK and the Vercel AI SDK (``ai`` with
``@ai-sdk/openai-compatible``), run by the scripts in ``tests/node/`` (``npm ci --prefix tests/node`` installs
them). Each script runs one scenario and prints one JSON line; the test reads it and the server's journal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import FROZEN, MASK, PYTHON_TIMEOUT, TOKEN, cli_running, encoded, png, stop_cli

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE = shutil.which("node")
#: what a change to the admin API must say (the guard refuses other content types)
JSON = {"Content-Type": "application/json"}
#: the oldest Node the pinned majors support (openai 6 says Node 20 LTS or later)
MIN_NODE = 20

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="no node on PATH: apt-get install nodejs npm"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules").is_dir(),
        reason="tests/node/node_modules is missing: npm ci --prefix tests/node",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``edenfake serve`` on a free loopback port, accepting only TOKEN: its URL, and a folder of input images."""
    assert NODE is not None
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE:
        pytest.skip(f"node {version} is older than {MIN_NODE}, the oldest tests/node's packages take")
    files = tmp_path_factory.mktemp("node-images")
    (files / "fox.png").write_bytes(png())
    (files / "fox.jpg").write_bytes(encoded("JPEG"))
    (files / "mask.png").write_bytes(MASK)
    with cli_running("serve", "--port", "0", "--clock", str(FROZEN), "--token", TOKEN, "--quiet") as (proc, url):
        yield url, files
        stop_cli(proc)


@pytest.fixture
def url(server: tuple[str, Path]) -> str:
    """The server's URL, its journal and faults emptied for this test."""
    httpx.post(server[0] + "/_edenfake/reset", headers=JSON).raise_for_status()
    return server[0]


def node(
    script: str, scenarios: Sequence[str], url: str, *, images: Sequence[Path] = (), mask: Path | None = None
) -> dict[str, Any]:
    """``node tests/node/SCRIPT SCENARIO...`` against the server at ``url``: each scenario's result, by name."""
    assert NODE is not None
    env = {
        **os.environ,
        "EDENFAKE_BASE_URL": url + "/v3",
        "EDENFAKE_TOKEN": TOKEN,
        "EDENFAKE_IMAGES": ",".join(str(p) for p in images),
        "EDENFAKE_MASK": str(mask) if mask is not None else "",
    }
    done = subprocess.run(
        [NODE, str(NODE_DIR / script), *scenarios],
        capture_output=True,
        text=True,
        env=env,
        cwd=NODE_DIR,
        timeout=PYTHON_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def calls(url: str) -> list[dict[str, Any]]:
    body = httpx.get(url + "/_edenfake/calls").json()
    return body["calls"]  # type: ignore[no-any-return]


def parts(call: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(f["part"], f["filename"], f["content_type"]) for f in call["files"]]


# -- the openai Node SDK -----------------------------------------------------------------------------------


def test_openai_generate_sends_json(url: str) -> None:
    result = node("openai.mjs", ["generate"], url)["generate"]
    assert result == {"count": 2, "sizes": [[1024, 1024]] * 2, "size": "1024x1024", "provider": "openai", "cost": 0.084}
    (call,) = calls(url)
    assert call["json"] == {"model": "openai/gpt-image-1", "prompt": "a red fox", "n": 2, "size": "1024x1024"}
    assert call["headers"]["user-agent"].startswith("OpenAI/JS 6.")


def test_openai_edit_sends_one_image_as_image_and_several_as_image_brackets(url: str, server: tuple[str, Path]) -> None:
    files = server[1]
    images, mask = [files / "fox.png", files / "fox.jpg"], files / "mask.png"
    results = node("openai.mjs", ["edit-one", "edit-several-masked"], url, images=images, mask=mask)
    assert results["edit-one"]["sizes"] == [[1024, 1024]]
    assert results["edit-several-masked"]["sizes"] == [[1024, 1024]] * 2
    first, second = calls(url)
    assert parts(first) == [("image", "image-0.png", "image/png")]
    assert parts(second) == [
        ("image[]", "image-0.png", "image/png"),
        ("image[]", "image-1.png", "image/png"),  # toFile's type, though the bytes are a JPEG: the fake reads them
        ("mask", "mask.png", "image/png"),
    ]
    assert second["form"] == {"model": "openai/gpt-image-1", "prompt": "merge them", "n": 2}


def test_openai_models_list_pages_through_the_catalog(url: str) -> None:
    ids = node("openai.mjs", ["models"], url)["models"]["ids"]
    assert "openai/gpt-image-1" in ids and "openai/dall-e-3" in ids and len(ids) == len(set(ids))
    (call,) = calls(url)
    assert call["path"] == "/v3/models" and call["status"] == 200
    assert {m["id"] for m in call["response"]["data"]} == set(ids)


def test_openai_errors_are_the_sdk_s_classes_without_eden_s_body(url: str) -> None:
    """The SDK takes an error's message and ``error`` from the body's ``error`` object; Eden's bodies are
    ``{"detail", "error_code"}``, so the SDK shows only the status ("400 status code (no body)")."""
    queue_503(url)
    results = node("openai.mjs", ["error-model", "error-auth", "error-unavailable"], url)
    assert [(r["class"], r["status"], r["isAPIError"]) for r in results.values()] == [
        ("BadRequestError", 400, True),
        ("AuthenticationError", 401, True),
        ("InternalServerError", 503, True),
    ]
    assert results["error-model"]["message"] == "400 status code (no body)" and results["error-model"]["error"] is None
    answered = calls(url)
    assert [c["status"] for c in answered] == [400, 401, 503]  # maxRetries: 0, no retry
    assert [c["response"]["error_code"] for c in answered] == ["INVALID_MODEL", "UNAUTHORIZED", "SERVICE_UNAVAILABLE"]


def queue_503(url: str) -> None:
    """A 503 for the next request whose prompt is "unavailable", with a Retry-After of 1 ms."""
    fault = {"fail": 503, "retry_after": 0, "match": {"prompt": "unavailable"}}
    httpx.post(url + "/_edenfake/faults", json=fault, headers=JSON).raise_for_status()


# -- the Vercel AI SDK ---------------------------------------------------------------------------------------


def test_ai_sdk_generate_always_asks_for_b64_json(url: str) -> None:
    results = node("ai-sdk.mjs", ["generate", "generate-dall-e-3"], url)
    gpt, dalle = results["generate"], results["generate-dall-e-3"]
    assert gpt["sizes"] == [[1024, 1024]] * 2 and gpt["mediaTypes"] == ["image/png"] * 2
    assert dalle["sizes"] == [[1024, 1024]] and gpt["warnings"] == dalle["warnings"] == []
    sent = [c["json"] for c in calls(url)]
    assert sent == [
        {
            "model": "openai/gpt-image-1",
            "prompt": "a red fox",
            "n": 2,
            "size": "1024x1024",
            "response_format": "b64_json",
        },
        {"model": "openai/dall-e-3", "prompt": "a red fox", "n": 1, "size": "1024x1024", "response_format": "b64_json"},
    ]


def test_ai_sdk_edits_send_blobs_named_blob(url: str, server: tuple[str, Path]) -> None:
    """Its edit path sends multipart with Blobs: every file part is named ``blob``, and ``n`` is always sent."""
    files = server[1]
    images, mask = [files / "fox.png", files / "fox.jpg"], files / "mask.png"
    results = node("ai-sdk.mjs", ["edit-one", "edit-several-masked"], url, images=images, mask=mask)
    assert results["edit-one"]["sizes"] == results["edit-several-masked"]["sizes"] == [[1024, 1024]]
    first, second = calls(url)
    assert parts(first) == [("image", "blob", "image/png")]
    assert parts(second) == [
        ("image[]", "blob", "image/png"),
        ("image[]", "blob", "image/jpeg"),
        ("mask", "blob", "image/png"),
    ]
    assert second["form"] == {"model": "openai/gpt-image-1", "prompt": "merge them", "n": 1}


def test_ai_sdk_errors_are_api_call_errors_with_the_status_text_and_the_body(url: str) -> None:
    """It reads an error's message only from ``{"error": {"message"}}``: for Eden's bodies it shows the status
    text, and keeps the body in ``responseBody``."""
    queue_503(url)
    results = node("ai-sdk.mjs", ["error-model", "error-unavailable"], url)
    model, unavailable = results["error-model"], results["error-unavailable"]
    assert (model["class"], model["status"], model["message"], model["isRetryable"]) == (
        "APICallError",
        400,
        "Bad Request",
        False,
    )
    assert json.loads(model["responseBody"])["error_code"] == "INVALID_MODEL"
    assert (unavailable["status"], unavailable["message"], unavailable["isRetryable"]) == (
        503,
        "Service Unavailable",
        True,
    )


# -- Eden's other error shape ------------------------------------------------------------------------------


def test_the_error_object_shape_gives_both_sdks_a_429_s_message(tmp_path: Path) -> None:
    """With the catalog's ``error_shapes: "error_object"`` a 429 is ``{"error": {"code", "message"}}``, as some of
    Eden's pages give it: the shape both SDKs read their message from."""
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"error_shapes": "error_object"}))
    with cli_running("serve", "--port", "0", "--catalog", str(catalog), "--token", TOKEN, "--quiet") as (proc, url):
        fault = {"fail": 429, "retry_after": 0, "times": 2, "match": {"prompt": "rate-limited"}}
        httpx.post(url + "/_edenfake/faults", json=fault, headers=JSON).raise_for_status()
        sdk = node("openai.mjs", ["error-rate-limited"], url)["error-rate-limited"]
        ai = node("ai-sdk.mjs", ["error-rate-limited"], url)["error-rate-limited"]
        stop_cli(proc)
    assert (sdk["class"], sdk["status"], sdk["message"]) == ("RateLimitError", 429, "429 Rate limit exceeded")
    assert sdk["error"] == {"code": 429, "message": "Rate limit exceeded"}
    assert (ai["status"], ai["message"], ai["isRetryable"]) == (429, "Rate limit exceeded", True)
