"""LiteLLM against the fake: ``image_generation`` and ``image_edit`` with its ``openai/`` prefix, through a live
server and through the in-process mock.

Importing litellm costs about 8 s of CPU, so every scenario runs in one subprocess (this file run as a script),
which prints one JSON line of results; the tests read those results and the live server's journal. Each scenario
sends its own name as the prompt, so the journal tells its requests apart. The subprocess imports litellm before it
reads the server's URL from its input, so a run without xdist workers starts it as the collection ends
(``prestart``): the other core imports litellm while the tests before this file run."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import edenfake
from edenfake import Call, LiveServer
from tests.helpers import FROZEN, MASK, TOKEN, Backlog, encoded, png

ROOT = Path(__file__).resolve().parent.parent
#: the base URL a user gives litellm when the mock intercepts it (the real service's)
EDEN = "https://api.edenai.run/v3"
#: the subprocess takes about 11 s of CPU (8 of them importing litellm): on a busy machine, minutes
SCENARIOS_TIMEOUT = 300.0


# -- the scenarios, run in the subprocess ------------------------------------------------------------------


def _sizes(response: Any) -> list[list[int]]:
    from PIL import Image

    return [list(Image.open(io.BytesIO(base64.b64decode(item.b64_json))).size) for item in response.data]


def _failure(call: Callable[[], object]) -> dict[str, Any]:
    try:
        call()
    except Exception as exc:
        mro = [c.__module__ + "." + c.__name__ for c in type(exc).__mro__]
        return {"class": mro[0], "mro": mro, "status": getattr(exc, "status_code", None), "message": str(exc)[:2000]}
    raise AssertionError("the call did not fail")


def run_scenarios(base_url: str, files: Path) -> dict[str, Any]:
    """Every scenario against the server at ``base_url``, and two against the mock; what each returned."""
    import httpx
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banner on each error

    fox, jpeg, mask = files / "fox.png", files / "fox.jpg", files / "mask.png"
    auth = {"api_base": base_url, "api_key": TOKEN}
    results: dict[str, Any] = {}
    generated = litellm.image_generation(
        model="openai/openai/gpt-image-1", prompt="generate", n=2, size="1024x1536", **auth
    )
    results["generate"] = {"sizes": _sizes(generated)}
    dalle = litellm.image_generation(model="openai/openai/dall-e-3", prompt="dall-e-3", **auth)
    image_url = dalle.data[0].url
    results["dall-e-3"] = {"url": image_url, "fetched": httpx.get(image_url).content[:8].hex()}
    results["stripped"] = _failure(lambda: litellm.image_generation(model="openai/dall-e-3", prompt="stripped", **auth))
    with open(fox, "rb") as a, open(jpeg, "rb") as b, open(mask, "rb") as m:
        edited = litellm.image_edit(
            model="openai/openai/gpt-image-1", image=[a, b], mask=m, prompt="edit-paths", **auth
        )
    results["edit-paths"] = {"sizes": _sizes(edited)}
    edited = litellm.image_edit(model="openai/openai/gpt-image-1", image=jpeg.read_bytes(), prompt="edit-bytes", **auth)
    results["edit-bytes"] = {"sizes": _sizes(edited)}
    results["error-model"] = _failure(
        lambda: litellm.image_generation(model="openai/nobody/nothing", prompt="error-model", **auth)
    )
    fault = {"fail": 503, "match": {"prompt": "error-503"}, "retry_after": 0}
    httpx.post(base_url.removesuffix("/v3") + "/_edenfake/faults", json=fault).raise_for_status()
    results["error-503"] = _failure(
        lambda: litellm.image_generation(model="openai/openai/gpt-image-1", prompt="error-503", max_retries=0, **auth)
    )
    with edenfake.mock(clock=FROZEN, tokens=[TOKEN]) as eden:
        mocked = {"api_base": EDEN, "api_key": TOKEN}
        generated = litellm.image_generation(model="openai/openai/gpt-image-1", prompt="mock", **mocked)
        edited = litellm.image_edit(model="openai/openai/gpt-image-1", image=fox.read_bytes(), prompt="mock", **mocked)
        results["mock"] = {
            "sizes": _sizes(generated) + _sizes(edited),
            "calls": [[c.path, c.status] for c in eden.calls],
        }
    return results


# -- the tests ---------------------------------------------------------------------------------------------


#: the subprocess's environment, as the run of this suite started (read before any test could set a variable: it
#: may start on the background thread while other tests run); litellm would fetch its price list at import otherwise
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def start_scenarios() -> subprocess.Popen[str]:
    """This file as a script, once it has imported litellm: it then runs the scenarios against the server whose
    URL it reads from its input."""
    proc = subprocess.Popen(
        [sys.executable, __file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()  # "" if it died: the fixture reports its stderr
    assert ready in ("imported\n", ""), ready[:500]
    return proc


#: the subprocess that ``prestart`` queued on the run's background thread, until the fixture takes it
STARTED: list[Backlog] = []


def prestart(config: pytest.Config, names: set[str]) -> None:
    """Start the subprocess on the run's background thread (it imports litellm meanwhile); killed at the end of
    the run if no test took it."""
    if importlib.util.find_spec("litellm") is not None:
        backlog = Backlog({"scenarios": start_scenarios})
        STARTED.append(backlog)
        backlog.start()
        config.add_cleanup(lambda: kill_unused(backlog))


def kill_unused(backlog: Backlog) -> None:
    backlog.stop()
    started = backlog.done["scenarios"]
    if started.done() and not started.cancelled() and started.exception() is None:
        proc = started.result()
        assert isinstance(proc, subprocess.Popen)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], LiveServer]:
    """Every scenario run once, in a subprocess, against one live server: the results and the server."""
    if importlib.util.find_spec("litellm") is None:  # not imported here: that costs seconds, and the subprocess does
        pytest.skip("litellm is not installed: pip install -e '.[clients]'")
    files = tmp_path_factory.mktemp("litellm-images")
    (files / "fox.png").write_bytes(png())
    (files / "fox.jpg").write_bytes(encoded("JPEG"))
    (files / "mask.png").write_bytes(MASK)
    if STARTED:  # taken, or started here if the background thread has not started it yet
        backlog = STARTED.pop()
        backlog.work()
        proc = backlog.done["scenarios"].result()
        assert isinstance(proc, subprocess.Popen)
    else:
        proc = start_scenarios()
    with edenfake.serve(clock=FROZEN, tokens=[TOKEN]) as server:
        try:
            out, err = proc.communicate(f"{server.base_url}\n{files}\n", timeout=SCENARIOS_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1]), server


def calls_for(server: LiveServer, prompt: str) -> list[Call]:
    return [c for c in server.calls if prompt in ((c.json or {}).get("prompt"), (c.form or {}).get("prompt"))]


def test_image_generation_strips_its_own_prefix_and_sends_eden_s_model_id(
    ran: tuple[dict[str, Any], LiveServer],
) -> None:
    results, server = ran
    assert results["generate"]["sizes"] == [[1024, 1536], [1024, 1536]]
    (call,) = calls_for(server, "generate")
    assert call.json == {"model": "openai/gpt-image-1", "prompt": "generate", "n": 2, "size": "1024x1536"}


def test_a_dall_e_3_url_result_is_served_by_the_fake(ran: tuple[dict[str, Any], LiveServer]) -> None:
    results, server = ran
    assert results["dall-e-3"]["url"].startswith(server.url + "/_edenfake/images/")
    assert results["dall-e-3"]["fetched"] == b"\x89PNG\r\n\x1a\n".hex()


def test_a_model_without_the_extra_prefix_reaches_eden_without_its_provider(
    ran: tuple[dict[str, Any], LiveServer],
) -> None:
    """``openai/dall-e-3`` is litellm's own name for OpenAI's model: it strips ``openai/`` and Eden sees
    ``dall-e-3``, a 422 that says the model must be ``provider/model``; litellm raises it as its
    BadRequestError, status 422, without the body's message."""
    results, server = ran
    (call,) = calls_for(server, "stripped")
    assert call.json["model"] == "dall-e-3" and call.status == 422
    failure = results["stripped"]
    assert failure["class"] == "litellm.exceptions.BadRequestError" and failure["status"] == 422
    assert "provider/model" in call.response["detail"][0]["msg"]


def test_image_edit_sends_image_brackets_and_whole_paths_as_file_names(ran: tuple[dict[str, Any], LiveServer]) -> None:
    results, server = ran
    assert results["edit-paths"]["sizes"] == [[1024, 1024]]
    (call,) = calls_for(server, "edit-paths")
    assert call.status == 200 and call.form == {"model": "openai/gpt-image-1", "prompt": "edit-paths"}
    assert [f["part"] for f in call.files] == ["image[]", "image[]", "mask"]
    names = [f["filename"] for f in call.files]
    assert all(Path(name).is_absolute() for name in names)  # open()'s name, the whole path
    assert [Path(name).name for name in names] == ["fox.png", "fox.jpg", "mask.png"]
    assert [f["content_type"] for f in call.files] == ["image/png", "image/jpeg", "image/png"]


def test_image_edit_of_bytes_names_every_part_image_png(ran: tuple[dict[str, Any], LiveServer]) -> None:
    """Bytes get the file name ``image.png`` whatever they hold; the fake reads the content, not the name."""
    results, server = ran
    assert results["edit-bytes"]["sizes"] == [[1024, 1024]]
    (call,) = calls_for(server, "edit-bytes")
    assert [(f["part"], f["filename"], f["content_type"]) for f in call.files] == [
        ("image[]", "image.png", "image/jpeg")
    ]


def test_errors_are_litellm_s_classes_over_the_openai_sdk_s(ran: tuple[dict[str, Any], LiveServer]) -> None:
    results, server = ran
    model = results["error-model"]
    assert model["class"] == "litellm.exceptions.BadRequestError" and model["status"] == 400
    assert "openai.BadRequestError" in model["mro"]
    unavailable = results["error-503"]
    assert unavailable["class"] == "litellm.exceptions.ServiceUnavailableError" and unavailable["status"] == 503
    assert "openai.APIStatusError" in unavailable["mro"]
    assert [c.status for c in calls_for(server, "error-503")] == [503]  # max_retries=0: no retry


def test_through_the_mock(ran: tuple[dict[str, Any], LiveServer]) -> None:
    """litellm's generations go through the openai SDK (httpx2) and its edits through httpx: the mock sees both."""
    results, _ = ran
    assert results["mock"]["sizes"] == [[1024, 1024], [1024, 1024]]
    assert results["mock"]["calls"] == [["/v3/images/generations", 200], ["/v3/images/edits", 200]]


if __name__ == "__main__":
    import litellm  # noqa: F401  (first: the slow part, done before the server is known)

    print("imported", flush=True)
    base_url, folder = sys.stdin.readline().strip(), sys.stdin.readline().strip()
    print(json.dumps(run_scenarios(base_url, Path(folder))))
