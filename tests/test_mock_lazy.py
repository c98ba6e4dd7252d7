"""A mock imports no client library of its own accord: a test pays for the one it uses. A library imported
after the mock started (the openai SDK brings httpx2 in when the test builds its client) is routed all the
same, and left unpatched once the last mock stops."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
import edenfake
report = {}
with edenfake.mock() as eden:
    report["imported_by_the_mock"] = sorted(m for m in ("httpx", "httpx2", "requests", "aiohttp") if m in sys.modules)
    import openai  # brings httpx2 in, after the mock started
    client = openai.OpenAI(api_key="t", base_url="https://api.edenai.run/v3", max_retries=0)
    answer = client.images.generate(model="openai/dall-e-2", prompt="a fox", size="256x256", response_format="b64_json")
    report["b64"] = bool(answer.data[0].b64_json)
    report["calls"] = len(eden.calls)
import httpx2
report["restored"] = httpx2.Client._transport_for_url.__qualname__
print(json.dumps(report))
"""


def test_the_mock_imports_no_client_and_routes_one_imported_after_it_started() -> None:
    pytest.importorskip("openai")
    pytest.importorskip("httpx2")
    found = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr[-2000:]
    report = json.loads(found.stdout)
    assert report["imported_by_the_mock"] == []
    assert report["b64"] and report["calls"] == 1  # the SDK's request reached the fake, with no socket
    assert report["restored"] == "Client._transport_for_url"  # httpx2's own method again, not the mock's
