"""The service container, checked without a Docker engine: the Dockerfile's own serve command runs (on
127.0.0.1 and a free port in place of 0.0.0.0:8000) and its own HEALTHCHECK command passes against it; the name
it allows is answered; and the CI recipes of docs/how-to/ci-services.md give the same command and health check."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import AUTH, cli_running, run_python

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
RECIPES = ROOT / "docs" / "how-to" / "ci-services.md"
#: where the image's health check asks, inside the container
HEALTH_URL = "http://127.0.0.1:8000"


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (NAME, rest), comments dropped and continued lines joined."""
    found: list[tuple[str, str]] = []
    logical = ""
    for line in text.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        name, _, rest = logical.strip().partition(" ")
        found.append((name.upper(), rest.strip()))
        logical = ""
    return found


def exec_form(value: str, what: str) -> list[str]:
    """A JSON-array (exec form) argument: the form that needs no shell in the image."""
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), f"{what} must be a JSON array"
    return parsed


def image() -> dict[str, Any]:
    """What the tests read of the Dockerfile: its command, health check, base and install."""
    steps = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    by_name: dict[str, list[str]] = {}
    for name, rest in steps:
        by_name.setdefault(name, []).append(rest)
    health = by_name["HEALTHCHECK"][-1]
    options, _, check = health.partition(" CMD ")
    return {
        "command": exec_form(by_name["ENTRYPOINT"][-1], "ENTRYPOINT") + exec_form(by_name["CMD"][-1], "CMD"),
        "cmd": exec_form(by_name["CMD"][-1], "CMD"),
        "health": exec_form(check, "HEALTHCHECK CMD"),
        "health_options": options,
        "from": by_name["FROM"][0],
        "run": " ".join(by_name["RUN"]),
        "arg": " ".join(by_name.get("ARG", [])),
        "expose": by_name["EXPOSE"],
    }


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_image_is_a_slim_python_with_edenfake_standard_on_port_8000() -> None:
    found = image()
    assert re.fullmatch(r"python:3\.\d+-slim", found["from"])
    assert "pip install" in found["run"] and "edenfake[standard]" in found["arg"] + found["run"]
    assert found["expose"] == ["8000"]
    command = found["command"]
    assert command[:2] == ["edenfake", "serve"]
    assert flag(command, "--host") == "0.0.0.0" and flag(command, "--port") == "8000"
    assert found["health"][:2] == ["python", "-c"] and HEALTH_URL + "/healthz" in found["health"][2]
    assert "curl" not in " ".join(found["health"])
    assert "--interval=" in found["health_options"] and "--timeout=" in found["health_options"]


def _loopback(command: list[str]) -> list[str]:
    """The image's serve arguments, bound to 127.0.0.1 on a free port instead of 0.0.0.0:8000."""
    args = list(command[1:])  # `edenfake` is the console script: the helper runs `python -m edenfake`
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = "0"
    return args


def _health(check: list[str], url: str) -> int:
    assert check[0] == "python"
    return run_python(*(arg.replace(HEALTH_URL, url) for arg in check[1:]), timeout=30).returncode


def test_the_images_command_serves_and_its_health_check_passes_against_it() -> None:
    found = image()
    allowed = flag(found["command"], "--allowed-host")
    with cli_running(*_loopback(found["command"])) as (_, url):
        assert _health(found["health"], url) == 0
        # the service's name the recipes give it is answered; another name is refused, as DNS rebinding would be
        port = url.rsplit(":", 1)[1]
        named = httpx.get(url + "/v3/images/models", headers={"Host": f"{allowed}:{port}", **AUTH}, timeout=10)
        assert named.status_code == 200
        other = httpx.get(url + "/v3/images/models", headers={"Host": f"elsewhere:{port}", **AUTH}, timeout=10)
        assert other.status_code == 403 and other.json()["error_code"] == "HOST_NOT_ALLOWED"
    assert _health(found["health"], url) != 0  # nothing listens there any more: the check says so


def yaml_blocks() -> list[Any]:
    text = RECIPES.read_text(encoding="utf-8")
    blocks = re.findall(r"\n```yaml\n(.*?)\n```", text, re.S)
    yaml = pytest.importorskip("yaml")  # the test extra has PyYAML
    return [yaml.safe_load(block) for block in blocks]


def _github(blocks: list[Any]) -> dict[str, Any]:
    return next(b for b in blocks if "jobs" in b)


def _gitlab(blocks: list[Any]) -> dict[str, Any]:
    return next(b for b in blocks if "jobs" not in b)


def test_the_github_actions_recipe_builds_this_image_and_checks_its_health_the_same_way() -> None:
    found = image()
    jobs = _github(yaml_blocks())["jobs"]
    build = next(step["with"] for step in jobs["edenfake-image"]["steps"] if "build-push-action" in step["uses"])
    tests = jobs["tests"]
    assert tests["needs"] == "edenfake-image"
    service = tests["services"][flag(found["command"], "--allowed-host")]  # the name the image allows
    assert service["image"] == build["tags"]
    assert "8000:8000" in service["ports"]
    options = shlex.split(service["options"])
    assert shlex.split(flag(options, "--health-cmd")) == found["health"]
    assert tests["env"]["EDEN_BASE_URL"] == "http://localhost:8000/v3"


def test_the_gitlab_recipe_runs_the_same_command_under_the_allowed_name_and_waits_for_health() -> None:
    found = image()
    recipe = _gitlab(yaml_blocks())
    tests = recipe["tests"]
    service = tests["services"][0]
    allowed = flag(found["command"], "--allowed-host")
    assert service["alias"] == allowed
    assert service["command"] == found["cmd"]
    assert service["name"] in " ".join(recipe["edenfake-image"]["script"])
    assert tests["variables"]["EDEN_BASE_URL"] == f"http://{allowed}:8000/v3"
    wait = shlex.split(tests["before_script"][0])
    check = wait[wait.index("python") : wait.index("python") + 3]
    assert check == [arg.replace("127.0.0.1", allowed) for arg in found["health"]]
