"""The soak's load: the mix of requests (checked against the catalog), wrk's script that cycles through it
with a prompt of its own per request (and, if asked, distinct bearer tokens), and wrk's run read back."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "edenfake" / "data" / "catalog.json"
HOST = "127.0.0.1"
TOKEN = "soak"

# The load mix, checked against the catalog before the run; LUA below says how it cycles through them.
MIX: dict[str, dict[str, Any]] = {
    "gpt-image-1 1024x1024 low (b64)": {
        "model": "openai/gpt-image-1",
        "size": "1024x1024",
        "quality": "low",
    },
    "dall-e-2 512x512 url": {
        "model": "openai/dall-e-2",
        "size": "512x512",
        "response_format": "url",
    },
    "gpt-image-1 n=10 1536x1024 low": {
        "model": "openai/gpt-image-1",
        "size": "1536x1024",
        "quality": "low",
        "n": 10,
    },
}

# Per thread: request k (k = 0, 1, ...) is the n=10 request when k % 10 == 9 (1 in 10); otherwise the b64
# request on even k and the url request on odd k. The prompt carries the thread id and k, so none repeats.
LUA = """
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  distinct = 0
  statuses = {}
  bodies = {}
  for i, template in ipairs({%(templates)s}) do bodies[i] = template end
end

function request()
  local k = counter
  counter = counter + 1
  local which
  if k %% 10 == 9 then which = 3 elseif k %% 2 == 0 then which = 1 else which = 2 end
  local prompt = "soak t" .. id .. " r" .. k .. " a red fox in the snow"
  local body = string.format(bodies[which], prompt)
  -- With distinct tokens: three requests in four carry a token of their own (cycling through all of them),
  -- the fourth the one token that the rate limit, when there is one, holds back.
  local token = "%(token)s"
  if %(tokens)d > 0 and k %% 4 ~= 3 then token = "%(token)s-" .. (distinct %% %(tokens)d); distinct = distinct + 1 end
  return wrk.format("POST", "/v3/images/generations", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  local tokens = 0
  for _, thread in ipairs(threads) do tokens = tokens + thread:get("distinct") end
  io.write("soak-distinct-tokens " .. tokens .. "\\n")
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, count in pairs(s) do total[code] = (total[code] or 0) + count end
  end
  for code, count in pairs(total) do io.write("soak-status " .. code .. " " .. count .. "\\n") end
end
"""


def lua_script(tokens: int = 0) -> str:
    """wrk's script; ``tokens`` > 0: three requests in four carry one of that many distinct tokens."""
    templates = []
    for body in MIX.values():
        # A JSON body with "%s" where the prompt goes (prompts are plain ASCII: no escaping needed).
        text = json.dumps({**body, "prompt": "@PROMPT@"}).replace("%", "%%").replace('"@PROMPT@"', '"%s"')
        templates.append(json.dumps(text))  # a JSON string literal is a valid Lua string literal here
    return LUA % {"templates": ", ".join(templates), "token": TOKEN, "tokens": tokens}


def check_mix_against_catalog() -> list[str]:
    """Each mix entry must be one the catalog accepts (model, size, quality, n, response_format)."""
    models = json.loads(CATALOG.read_text())["models"]
    problems = []
    for name, body in MIX.items():
        model = models.get(body["model"])
        if model is None:
            problems.append(f"{name}: no model {body['model']} in the catalog")
            continue
        if body["size"] not in model["sizes"]:
            problems.append(f"{name}: {body['model']} has no size {body['size']}")
        if "quality" in body and body["quality"] not in model.get("qualities", []):
            problems.append(f"{name}: {body['model']} has no quality {body['quality']}")
        if body.get("n", 1) > model.get("n_max", 1):
            problems.append(f"{name}: {body['model']} allows n <= {model.get('n_max')}")
        if "response_format" in body and body["response_format"] not in model.get("response_formats", []):
            problems.append(f"{name}: {body['model']} has no response_format {body['response_format']}")
    return problems


def preflight(port: int) -> dict[str, int]:
    """One request of each kind before the load: a mix the fake refuses would make the soak meaningless."""
    statuses = {}
    for i, (name, body) in enumerate(MIX.items()):
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        payload = json.dumps({**body, "prompt": f"soak preflight {i} a red fox"})
        conn.request(
            "POST",
            "/v3/images/generations",
            payload,
            {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        response = conn.getresponse()
        response.read()
        statuses[name] = response.status
        conn.close()
    return statuses


def run_wrk(port: int, seconds: int, connections: int, tokens: int = 0) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(tokens))
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        f.name,
        f"http://{HOST}:{port}/v3/images/generations",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(f.name)
    out = done.stdout
    if done.returncode != 0 or "requests in" not in out:
        raise RuntimeError(f"wrk failed (status {done.returncode}): {done.stderr.strip() or out.strip()}")

    def number(pattern: str) -> float | None:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None

    def latency_ms(label: str) -> float | None:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if not m:
            return None
        return round(float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)], 2)

    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    statuses = {int(code): int(n) for code, n in re.findall(r"^soak-status (\d+) (\d+)$", out, re.M)}
    return {
        "command": " ".join([*command[:-3], "-s", "<script>", command[-1]]),
        "requests": int(number(r"(\d+) requests in") or 0),
        "requests_per_s": number(r"Requests/sec:\s+([\d.]+)"),
        "non_2xx_3xx": int(number(r"Non-2xx or 3xx responses:\s+(\d+)") or 0),
        "socket_errors": dict(zip(["connect", "read", "write", "timeout"], map(int, sock.groups()), strict=True))
        if sock
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        "statuses": dict(sorted(statuses.items())),
        "distinct_token_requests": int(number(r"soak-distinct-tokens (\d+)") or 0),
        "latency_ms": {p: latency_ms(p) for p in ("50", "90", "99")},
        "output": out,
    }
