"""``edenfake drift`` against cassettes no recorder writes: answers of any type where the real service may have
sent anything (each reported, never trusted), images the catalog has no size or price for, hand-edited lines
drift cannot send, deep nesting, a catalog file that is not one. Never a traceback, never exit 1 for a crash;
every line printed one bounded, printable line; the JSON report and the suggested catalog strict JSON."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from edenfake import Catalog, EdenFake, FakeRequest
from edenfake.cassettes.format import Cassette
from edenfake.cli import main
from tests.helpers import png, run_python

GENERATIONS = "/v3/images/generations"
#: the longest line drift may print (an error is cut at 1000 characters and an ellipsis; a report line is a
#: detail of at most 300 characters, its kind and its place)
LINE = 1001
#: stands for a number no double holds, written into the line as is (json.dumps cannot write it)
HUGE = "\x00huge\x00"
#: a file the tests' lines name
FILE = png(8, 8)


def _name(data: bytes) -> str:
    ext = "png" if data.startswith(b"\x89PNG") else "bin"
    return f"{hashlib.sha256(data).hexdigest()}.{ext}"


def _exchange(body: Any, status: int, answer: Any, *, path: str = GENERATIONS, method: str = "POST") -> dict[str, Any]:
    return {
        "request": {"method": method, "path": path, "headers": {"content-type": "application/json"}, "json": body},
        "response": {"status": status, "headers": {"content-type": "application/json"}, "json": answer},
    }


def _cassette(directory: Path, lines: list[Any], files: tuple[bytes, ...] = ()) -> Path:
    """A cassette written as a hand (or a bug) might: each line an exchange, or text written as is."""
    (directory / "files").mkdir(parents=True)
    for data in files:
        (directory / "files" / _name(data)).write_bytes(data)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    (directory / "exchanges.jsonl").write_text(text.replace(json.dumps(HUGE), "1e400"), encoding="utf-8")
    return directory


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in what should be strict JSON")

    return json.loads(text, parse_constant=refuse)


def _bounded(text: str) -> list[str]:
    lines = text.splitlines()
    for line in lines:
        assert len(line) <= LINE, line[:200]
        assert line.isprintable(), line[:200]
    return lines


def _drift(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = main(["drift", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _differences(capsys: pytest.CaptureFixture[str], cassette: Path, *args: Any) -> list[dict[str, Any]]:
    code, out, err = _drift(capsys, cassette, "--json", *args)
    assert code == 1, err
    differences: list[dict[str, Any]] = _strict(out)["differences"]
    return differences


# -- images the catalog has no size (or price) for ------------------------------------------------------------


def test_images_of_sizes_the_catalog_lacks_are_explained_by_a_catalog_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd, wide = png(1000, 1000), png(1360, 768)

    def image(data: bytes) -> dict[str, Any]:
        return {"data": [{"b64_json": {"$file": _name(data)}}], "created": 1}

    cassette = _cassette(
        tmp_path / "c",
        [
            # no size asked, and the service's default is a size no price table has
            _exchange({"model": "openai/gpt-image-1", "prompt": "a"}, 200, image(odd)),
            # a size the fake's catalog refuses, taken by the service, with no cost to price it by
            _exchange({"model": "openai/dall-e-2", "prompt": "a", "size": "1000x1000"}, 200, image(odd)),
            # an aspect ratio the catalog maps to another size
            _exchange({"model": "google/imagen-4.0-generate-001", "prompt": "a", "size": "16:9"}, 200, image(wide)),
        ],
        (odd, wide),
    )
    suggested = tmp_path / "suggested.json"
    found = _differences(capsys, cassette, "--suggest-catalog", suggested)
    assert {(d["exchange"], d["kind"], d["catalog"]) for d in found} >= {
        (1, "image_size", True),
        (2, "status", True),
        (3, "image_size", True),
    }
    overlay = _strict(suggested.read_text())
    assert overlay["models"]["openai/gpt-image-1"]["default_size"] == "1000x1000"
    assert all("1000x1000" in table for table in overlay["models"]["openai/gpt-image-1"]["prices"].values())
    assert "1000x1000" in overlay["models"]["openai/dall-e-2"]["sizes"]
    assert overlay["models"]["google/imagen-4.0-generate-001"]["aspect_ratios"]["16:9"] == "1360x768"
    Catalog.load(suggested)  # a catalog the fake takes
    again = _differences(capsys, cassette, "--catalog", suggested)
    assert not [d for d in again if d["kind"] in ("image_size", "status")]


# -- recorded answers of every type ---------------------------------------------------------------------------


def _fakes_own_answer() -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """A request, the answer the fake gives it (as a recording keeps it) and its image."""
    body = {"model": "openai/dall-e-2", "prompt": "a fox", "size": "256x256", "response_format": "b64_json"}
    headers = [("authorization", "Bearer t"), ("content-type", "application/json")]
    answer = json.loads(EdenFake().answer(FakeRequest("POST", GENERATIONS, headers, json.dumps(body).encode())).body)
    image = base64.b64decode(answer["data"][0]["b64_json"])
    answer["data"][0]["b64_json"] = {"$file": _name(image)}
    return body, answer, image


HOSTILE: list[Any] = [
    None,
    True,
    -1,
    0.5,
    10**400,  # an integer no double holds
    "",
    "x" * 5000,
    "\ud800 a lone surrogate,\n a newline and \x1b an escape",
    "not base64!",
    [],
    [1, "a", None, {}],
    {},
    {"nested": [[[[{}]]]]},
]
#: where in the fake's own answer each hostile value goes (a top-level key added, a value replaced)
PLACES: list[tuple[Any, ...]] = [
    ("data",),
    ("data", 0),
    ("data", 0, "b64_json"),
    ("data", 0, "url"),
    ("cost",),
    ("usage",),
    ("created",),
    ("provider",),
    ("k" * 10_000,),
    ("a\nkey\ud800",),
]


def _placed(answer: dict[str, Any], place: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copied = json.loads(json.dumps(answer))
    target = copied
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = value
    return copied


def test_a_recorded_answer_of_any_type_is_reported_and_the_report_stays_strict_and_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, answer, image = _fakes_own_answer()
    not_an_image = b"GIF89a but nothing else"
    lines = [_exchange(body, 200, answer)]  # the fake's own answer: no difference
    # Drift compares types, not values, of created and provider; a url of "" is no url, as null is.
    unseen = [(("created",), -1), (("created",), 10**400), (("data", 0, "url"), "")]
    unseen += [(("provider",), v) for v in HOSTILE if isinstance(v, str)]
    # An object where an image goes is a file reference: the cassette's format, not the service's (below).
    unseen += [(p, v) for p in (("data", 0, "b64_json"), ("data", 0, "url")) for v in HOSTILE if isinstance(v, dict)]
    placed = [_placed(answer, p, v) for p in PLACES for v in HOSTILE if (p, v) not in unseen]
    lines += [_exchange(body, 200, a) for a in placed if a != answer]  # (the fake's url is null, its usage {})
    lines += [_exchange(body, 200, _placed(answer, ("data", 0, "b64_json"), {"$file": _name(not_an_image)}))]
    lines += [_exchange(body, 200, value) for value in HOSTILE]  # the whole answer
    lines += [  # error bodies of any type, where the fake refuses too
        _exchange({**body, "size": "640x640"}, status, value)  # dall-e-2 has no such size
        for status in (400, 422, 502)
        for value in [*HOSTILE, {"detail": "x", "error_code": ["PROVIDER_ERROR"], "param": {"n": 1}}]
    ]
    lines += [_exchange({**body, "size": "640x640"}, 200, {**answer, "cost": cost}) for cost in (-1, 1e300, 10**400)]
    cassette = _cassette(tmp_path / "c", lines, (image, not_an_image))
    suggested = tmp_path / "suggested.json"
    code, out, err = _drift(capsys, cassette, "--json", "--suggest-catalog", suggested)
    assert code == 1, err
    report = _strict(out)
    reported = {d["exchange"] for d in report["differences"]}
    assert 1 not in reported
    assert reported == set(range(2, len(lines) + 1))  # every hostile answer is found to differ
    assert all(len(d["where"]) + len(d["detail"]) < LINE for d in report["differences"])
    assert any(
        d["detail"].endswith("recorded a number beyond a double's range, fake 0.016") for d in report["differences"]
    )
    assert any("that are not an image" in d["detail"] for d in report["differences"])
    assert any("a b64_json that is not base64" in d["detail"] for d in report["differences"])
    Catalog.load(suggested)  # no negative or infinite price made it in
    code, out, err = _drift(capsys, cassette)
    assert code == 1
    _bounded(out)
    assert not err


def test_hostile_requests_and_top_level_fields_stay_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, answer, image = _fakes_own_answer()
    lines = [_exchange(_placed(body, (field,), value), 200, answer) for field in body for value in HOSTILE]
    lines += [
        _exchange(body, 200, answer, path="/v3/images/\u2028\x85\ud800" + "p" * 2000),  # not control characters
        _exchange({**body, "model": "m\n" * 50_000}, 400, {"detail": "x", "error_code": "E\n" * 50_000}),
        _exchange(body, 200, {**answer, **{f"extra{i}": i for i in range(2000)}}),
    ]
    cassette = _cassette(tmp_path / "c", lines, (image,))
    code, out, err = _drift(capsys, cassette)
    assert code == 1 and not err
    _bounded(out)
    code, out, _ = _drift(capsys, cassette, "--json")
    report = _strict(out)
    extra = [d for d in report["differences"] if d["exchange"] == len(lines) and d["kind"] == "field_only_in_recording"]
    assert len(extra) == 51 and extra[-1]["detail"] == "and 1950 more field(s) like these, not listed"


# -- what drift cannot send: one line, exit 2 -----------------------------------------------------------------

_MULTIPART = {"method": "POST", "path": "/v3/images/edits", "headers": {"content-type": "multipart/form-data"}}
_ANSWER = {"status": 200, "headers": {"content-type": "application/json"}, "json": {"data": []}}


def _deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"request": {**_MULTIPART, "form": ["prompt"]}, "response": _ANSWER}, "$.request.form: "),
        ({"request": {**_MULTIPART, "form": {}, "files": "x"}, "response": _ANSWER}, "$.request.files: "),
        ({"request": {**_MULTIPART, "files": [{"x": 1}]}, "response": _ANSWER}, "$.request.files[0]"),
        ({"request": {**_MULTIPART, "files": [{"part": 1, "file": _name(FILE)}]}, "response": _ANSWER}, "files[0]"),
        (
            _exchange(
                {"model": "m", "prompt": "p", "images": [{"$file": 5, "data_url": "data:image/png;base64"}]}, 200, {}
            ),
            "$.request.json.images[0]: 5 is not a cassette file name",
        ),
        (_exchange({"deep": _deep(80)}, 200, {}), "nested too deeply"),
        (_exchange({}, 200, {"data": _deep(80)}), "nested too deeply"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_a_line_no_recorder_writes_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: Any, message: str
) -> None:
    cassette = _cassette(tmp_path / "c", [line], (FILE,))
    code, out, err = _drift(capsys, cassette)
    assert (code, out) == (2, "")
    [shown] = _bounded(err)
    assert shown.startswith(f"edenfake drift: {cassette / 'exchanges.jsonl'} line 1: ") and message in shown


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (_exchange({}, 200, {}, path="/v3/images/\ngenerations" + "p" * 100_000), "status"),
        (_exchange({}, 200, {}, method="PO\nST" * 10_000), "status"),
        (_exchange({"model": "openai/dall-e-2", "prompt": "a"}, 200, {"data": [], "cost": HUGE}), "cost"),
    ],
)
def test_a_value_no_recorder_writes_is_refused_or_reported_in_bounded_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: Any, kind: str
) -> None:
    # A loader may refuse it (one line, exit 2) or let drift report it: either way, no crash and no long line.
    cassette = _cassette(tmp_path / "c", [line], (FILE,))
    code, out, err = _drift(capsys, cassette, "--json")
    assert code in (1, 2)
    if code == 2:
        assert out == "" and len(_bounded(err)) == 1
    else:
        assert kind in _strict(out)["kinds"] and not err
        code, out, err = _drift(capsys, cassette)
        assert len(_bounded(out)) < 10  # one exchange: a head, a few kinds, a summary


def test_a_file_gone_since_the_cassette_was_read_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    body, answer, image = _fakes_own_answer()
    cassette = _cassette(tmp_path / "c", [_exchange(body, 200, answer)], (image,))
    loaded = Cassette.load(cassette)
    (cassette / "files" / _name(image)).unlink()
    monkeypatch.setattr(Cassette, "load", classmethod(lambda cls, path: loaded))
    code, out, err = _drift(capsys, cassette)
    assert (code, out) == (2, "")
    [shown] = _bounded(err)
    assert shown.startswith("edenfake drift: exchange #1: ") and _name(image) in shown and "missing" in shown


# -- the catalog file ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"models": {}, "refusal_status": NaN}', "NaN is not a finite number"),
        ('{"models": {"x/y": {"n_max": 0}}, "refusal_status": 401}', "is not a valid edenfake catalog"),
        (None, "larger than 64 MiB"),
    ],
)
def test_a_catalog_file_that_is_not_one_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    body, answer, image = _fakes_own_answer()
    cassette = _cassette(tmp_path / "c", [_exchange(body, 200, answer)], (image,))
    catalog = tmp_path / "catalog.json"
    if content is None:
        with catalog.open("wb") as f:
            f.truncate(64 * 1024 * 1024 + 1)  # sparse: nothing written but its size
    else:
        catalog.write_text(content)
    code, out, err = _drift(capsys, cassette, "--catalog", catalog)
    assert (code, out) == (2, "")
    [shown] = _bounded(err)
    assert f"cannot use the catalog {catalog}: " in shown and message in shown


# -- a real process --------------------------------------------------------------------------------------------


def test_as_a_real_process_no_traceback(tmp_path: Path) -> None:
    odd = png(1000, 1000)
    grown = _cassette(
        tmp_path / "grown",
        [
            _exchange(
                {"model": "openai/gpt-image-1", "prompt": "a"}, 200, {"data": [{"b64_json": {"$file": _name(odd)}}]}
            )
        ],
        (odd,),
    )
    deep = _cassette(tmp_path / "deep", ["[" * 100_000 + "]" * 100_000])
    for cassette, status in ((grown, 1), (deep, 2)):
        result = run_python("-m", "edenfake.cli", "drift", str(cassette), timeout=120)
        assert result.returncode == status, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == (status == 2)
