"""Node clients against ``edenfake serve``: the openai Node SDK and the Vercel AI SDK (``ai`` with
``@ai-sdk/openai-compatible``), run by the scripts in ``tests/node/`` (``npm ci --prefix tests/node`` installs
them). Each script runs the scenarios it is given and prints one JSON line. Every run of a script is made once,
in RUNS' order, against one server emptied before each run, and keeps its results and the journal of its own
requests; the tests read those. In a run without xdist workers they are queued on the run's background thread as
the collection ends (``prestart``), since they run nothing in this process (the server is ``edenfake serve``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import FROZEN, MASK, PYTHON_TIMEOUT, TOKEN, Early, cli_running, encoded, png, stop_cli

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE = shutil.which("node")
#: what a change to the admin API must say (the guard refuses other content types)
JSON = {"Content-Type": "application/json"}
#: the oldest Node the pinned majors support (openai 6 says Node 20 LTS or later)
MIN_NODE = 20
#: the scripts' environment, as the run of this suite started (the runs may be made on the background thread while
#: other tests set variables of their own)
ENV = dict(os.environ)

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="no node on PATH: apt-get install nodejs npm"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules").is_dir(),
        reason="tests/node/node_modules is missing: npm ci --prefix tests/node",
    ),
]


def node_or_skip() -> None:
    """A skip unless this machine's Node takes tests/node's packages."""
    assert NODE is not None
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE:
        pytest.skip(f"node {version} is older than {MIN_NODE}, the oldest tests/node's packages take")


#: each run of a script: its scenarios, whether it is given the input images, and whether a 503 is queued first
RUNS: dict[str, tuple[str, list[str], bool, bool]] = {
    "openai-generate": ("openai.mjs", ["generate"], False, False),
    "openai-edit": ("openai.mjs", ["edit-one", "edit-several-masked"], True, False),
    "openai-models": ("openai.mjs", ["models"], False, False),
    "openai-errors": ("openai.mjs", ["error-model", "error-auth", "error-unavailable"], False, True),
    "ai-generate": ("ai-sdk.mjs", ["generate", "generate-dall-e-3"], False, False),
    "ai-edit": ("ai-sdk.mjs", ["edit-one", "edit-several-masked"], True, False),
    "ai-errors": ("ai-sdk.mjs", ["error-model", "error-unavailable"], False, True),
}
#: what the tests read: each run's results by scenario, and the journal of its requests
Ran = dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]


def run_all(files: Path) -> Ran:
    """Every run of RUNS against one ``edenfake serve`` on a free loopback port that accepts only TOKEN (emptied
    before each run), then the two runs against a fake of Eden's other error shape (``error-object``: its
    journal is not kept)."""
    (files / "fox.png").write_bytes(png())
    (files / "fox.jpg").write_bytes(encoded("JPEG"))
    (files / "mask.png").write_bytes(MASK)
    images, mask = [files / "fox.png", files / "fox.jpg"], files / "mask.png"
    ran: Ran = {}
    serve = ("serve", "--port", "0", "--quiet", "--token", TOKEN)
    with cli_running(*serve, "--clock", str(FROZEN), env=ENV) as (proc, url):
        for name, (script, scenarios, with_files, then_503) in RUNS.items():
            admin(url, "/reset", {})
            if then_503:
                queue_503(url)
            given = {"images": images, "mask": mask} if with_files else {}
            ran[name] = node(script, scenarios, url, **given), calls(url)  # type: ignore[arg-type]
        stop_cli(proc)
    catalog = files / "catalog.json"
    catalog.write_text(json.dumps({"error_shapes": "error_object"}))
    with cli_running(*serve, "--catalog", str(catalog), env=ENV) as (proc, url):
        admin(url, "/faults", {"fail": 429, "retry_after": 0, "times": 2, "match": {"prompt": "rate-limited"}})
        sdk = node("openai.mjs", ["error-rate-limited"], url)["error-rate-limited"]
        ai = node("ai-sdk.mjs", ["error-rate-limited"], url)["error-rate-limited"]
        ran["error-object"] = {"openai": sdk, "ai-sdk": ai}, []
        stop_cli(proc)
    return ran


#: every run, queued by ``prestart`` on the run's background thread where Node is there to run them
RUNS_EARLY = Early(run_all)


def prestart(config: pytest.Config, names: set[str]) -> None:
    """Queue every run on the background thread, where Node and its packages are there to run them."""
    if NODE is not None and (NODE_DIR / "node_modules").is_dir():
        RUNS_EARLY.queue(config)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """Every run's results and journal: those ``prestart`` queued (made here if the background thread has not
    started them), else made here."""
    node_or_skip()
    return RUNS_EARLY.result(tmp_path_factory.mktemp("node-images"))


def node(
    script: str, scenarios: Sequence[str], url: str, *, images: Sequence[Path] = (), mask: Path | None = None
) -> dict[str, Any]:
    """``node tests/node/SCRIPT SCENARIO...`` against the server at ``url``: each scenario's result, by name."""
    assert NODE is not None
    env = {
        **ENV,
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


def admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A call of the server's admin API (a POST of ``body``, else a GET): its JSON answer. Through urllib, which
    the mock a test may have started meanwhile on another thread does not route."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + "/_edenfake" + path, data=data, headers=JSON)
    with urllib.request.urlopen(request, timeout=PYTHON_TIMEOUT) as answer:
        return json.loads(answer.read())


def calls(url: str) -> list[dict[str, Any]]:
    return admin(url, "/calls")["calls"]  # type: ignore[no-any-return]


def parts(call: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(f["part"], f["filename"], f["content_type"]) for f in call["files"]]


# -- the openai Node SDK -----------------------------------------------------------------------------------


def test_openai_generate_sends_json(ran: Ran) -> None:
    results, answered = ran["openai-generate"]
    result = results["generate"]
    assert result == {"count": 2, "sizes": [[1024, 1024]] * 2, "size": "1024x1024", "provider": "openai", "cost": 0.084}
    (call,) = answered
    assert call["json"] == {"model": "openai/gpt-image-1", "prompt": "a red fox", "n": 2, "size": "1024x1024"}
    assert call["headers"]["user-agent"].startswith("OpenAI/JS 6.")


def test_openai_edit_sends_one_image_as_image_and_several_as_image_brackets(ran: Ran) -> None:
    results, answered = ran["openai-edit"]
    assert results["edit-one"]["sizes"] == [[1024, 1024]]
    assert results["edit-several-masked"]["sizes"] == [[1024, 1024]] * 2
    first, second = answered
    assert parts(first) == [("image", "image-0.png", "image/png")]
    assert parts(second) == [
        ("image[]", "image-0.png", "image/png"),
        ("image[]", "image-1.png", "image/png"),  # toFile's type, though the bytes are a JPEG: the fake reads them
        ("mask", "mask.png", "image/png"),
    ]
    assert second["form"] == {"model": "openai/gpt-image-1", "prompt": "merge them", "n": 2}


def test_openai_models_list_pages_through_the_catalog(ran: Ran) -> None:
    results, answered = ran["openai-models"]
    ids = results["models"]["ids"]
    assert "openai/gpt-image-1" in ids and "openai/dall-e-3" in ids and len(ids) == len(set(ids))
    (call,) = answered
    assert call["path"] == "/v3/models" and call["status"] == 200
    assert {m["id"] for m in call["response"]["data"]} == set(ids)


def test_openai_errors_are_the_sdk_s_classes_without_eden_s_body(ran: Ran) -> None:
    """The SDK takes an error's message and ``error`` from the body's ``error`` object; Eden's bodies are
    ``{"detail", "error_code"}``, so the SDK shows only the status ("400 status code (no body)")."""
    results, answered = ran["openai-errors"]  # a 503 queued for the prompt "unavailable"
    assert [(r["class"], r["status"], r["isAPIError"]) for r in results.values()] == [
        ("BadRequestError", 400, True),
        ("AuthenticationError", 401, True),
        ("InternalServerError", 503, True),
    ]
    assert results["error-model"]["message"] == "400 status code (no body)" and results["error-model"]["error"] is None
    assert [c["status"] for c in answered] == [400, 401, 503]  # maxRetries: 0, no retry
    assert [c["response"]["error_code"] for c in answered] == ["INVALID_MODEL", "UNAUTHORIZED", "SERVICE_UNAVAILABLE"]


def queue_503(url: str) -> None:
    """A 503 for the next request whose prompt is "unavailable", with a Retry-After of 1 ms."""
    admin(url, "/faults", {"fail": 503, "retry_after": 0, "match": {"prompt": "unavailable"}})


# -- the Vercel AI SDK ---------------------------------------------------------------------------------------


def test_ai_sdk_generate_always_asks_for_b64_json(ran: Ran) -> None:
    results, answered = ran["ai-generate"]
    gpt, dalle = results["generate"], results["generate-dall-e-3"]
    assert gpt["sizes"] == [[1024, 1024]] * 2 and gpt["mediaTypes"] == ["image/png"] * 2
    assert dalle["sizes"] == [[1024, 1024]] and gpt["warnings"] == dalle["warnings"] == []
    sent = [c["json"] for c in answered]
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


def test_ai_sdk_edits_send_blobs_named_blob(ran: Ran) -> None:
    """Its edit path sends multipart with Blobs: every file part is named ``blob``, and ``n`` is always sent."""
    results, answered = ran["ai-edit"]
    assert results["edit-one"]["sizes"] == results["edit-several-masked"]["sizes"] == [[1024, 1024]]
    first, second = answered
    assert parts(first) == [("image", "blob", "image/png")]
    assert parts(second) == [
        ("image[]", "blob", "image/png"),
        ("image[]", "blob", "image/jpeg"),
        ("mask", "blob", "image/png"),
    ]
    assert second["form"] == {"model": "openai/gpt-image-1", "prompt": "merge them", "n": 1}


def test_ai_sdk_errors_are_api_call_errors_with_the_status_text_and_the_body(ran: Ran) -> None:
    """It reads an error's message only from ``{"error": {"message"}}``: for Eden's bodies it shows the status
    text, and keeps the body in ``responseBody``."""
    results, _ = ran["ai-errors"]  # a 503 queued for the prompt "unavailable"
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


def test_the_error_object_shape_gives_both_sdks_a_429_s_message(ran: Ran) -> None:
    """With the catalog's ``error_shapes: "error_object"`` a 429 is ``{"error": {"code", "message"}}``, as some of
    Eden's pages give it: the shape both SDKs read their message from."""
    shapes, _ = ran["error-object"]  # a catalog of {"error_shapes": "error_object"}, a 429 queued twice
    sdk, ai = shapes["openai"], shapes["ai-sdk"]
    assert (sdk["class"], sdk["status"], sdk["message"]) == ("RateLimitError", 429, "429 Rate limit exceeded")
    assert sdk["error"] == {"code": 429, "message": "Rate limit exceeded"}
    assert (ai["status"], ai["message"], ai["isRetryable"]) == (429, "Rate limit exceeded", True)
