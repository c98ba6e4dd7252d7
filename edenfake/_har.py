"""The journal as a HAR 1.2 log (``GET /_edenfake/calls.har``, ``eden.calls.to_har()``): what a browser's
network panel, a HAR viewer or playwright's ``route_from_har`` reads.

An entry holds what the journal keeps of a call, nothing more, and as the journal shows it (credentials
redacted by the same functions): the method and the URL (the base URL given, then the path; the journal keeps
no query string, so the URL has none and ``queryString`` is empty), the request headers, a JSON body as
``postData.text``, a multipart body as ``postData.params`` (its text fields, then each file's part name, file
name and content type, with its size and sha256 in the ``_size`` and ``_sha256`` fields: the journal keeps no
file bytes), the status, and a JSON answer's text as journalled: each image's base64 is the journal's digest
``{"sha256", "bytes", "format", "width", "height"}``, the image itself is not inlined (the fake hosts it, while
its store keeps it, at ``/_edenfake/images/{sha256}.{format}``). The journal keeps no answer headers: an entry
states the one it knows, ``Content-Type: application/json`` for a JSON answer. A binary answer (a hosted image)
has empty content of size 0. A dropped connection (a ``timeout`` or ``disconnect`` fault) has status 0 and
``_error`` naming the fault, as browsers write a request that got no answer. ``startedDateTime`` is the fake's
clock when the call came in, ``time`` the core's work in milliseconds (``timings.wait``; injected latency not
counted, send and receive 0). Sizes the journal does not know are -1 (every ``headersSize``, and an answer's
``bodySize``: its images were base64 on the wire; ``content.size`` is the size of the text the entry holds).
Every entry has an ``_edenfake`` object with the call's fault, whether a cassette answered it, and its tags.

The log is strict JSON (the journal is), bounded as the journal is: one entry per call it holds, or one page
(``GET /_edenfake/calls.har`` takes ``offset`` and ``limit`` as ``GET /_edenfake/calls`` does; the OpenAPI
document states their bounds).
"""

from __future__ import annotations

import datetime
import http
import urllib.parse
from typing import Any

from edenfake._wire import JSON_MEDIA, compact_json

__all__ = ["HAR_VERSION", "har_log"]

HAR_VERSION = "1.2"
_HTTP = "HTTP/1.1"
#: what a path keeps unescaped in the URL (RFC 3986 pchar and "/")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _started(at: float) -> str:
    try:
        moment = _EPOCH + datetime.timedelta(seconds=at)
    except (OverflowError, ValueError):
        moment = _EPOCH
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _headers(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else compact_json(value)


def _post_data(call: dict[str, Any]) -> dict[str, Any] | None:
    media = _header(call["headers"], "content-type") or ""
    if call["form"] is not None or call["files"]:
        params: list[dict[str, Any]] = [{"name": k, "value": _text(v)} for k, v in (call["form"] or {}).items()]
        for f in call["files"]:
            param: dict[str, Any] = {
                "name": str(f.get("part") or ""),
                "_size": f.get("bytes"),
                "_sha256": f.get("sha256"),
            }
            if f.get("filename") is not None:
                param["fileName"] = str(f["filename"])
            if f.get("content_type") is not None:
                param["contentType"] = str(f["content_type"])
            params.append(param)
        return {"mimeType": media or "multipart/form-data", "params": params}
    if call["json"] is not None:
        return {"mimeType": media or JSON_MEDIA, "text": compact_json(call["json"])}
    return None


def _request(call: dict[str, Any], base_url: str) -> dict[str, Any]:
    headers = call["headers"]
    length = _header(headers, "content-length") or ""
    request: dict[str, Any] = {
        "method": call["method"],
        "url": base_url.rstrip("/") + urllib.parse.quote(call["path"], safe=_PATH_SAFE),
        "httpVersion": _HTTP,
        "cookies": [],
        "headers": _headers(headers),
        "queryString": [],
        "headersSize": -1,
        "bodySize": int(length) if length.isascii() and length.isdigit() and len(length) <= 15 else -1,
    }
    post = _post_data(call)
    if post is not None:
        request["postData"] = post
    return request


def _response(call: dict[str, Any]) -> dict[str, Any]:
    status: int = call["status"]
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    content: dict[str, Any] = {"size": 0, "mimeType": ""}
    headers: list[dict[str, str]] = []
    if call["response"] is not None:
        text = compact_json(call["response"])
        content = {"size": len(text.encode()), "mimeType": JSON_MEDIA, "text": text}
        headers = [{"name": "content-type", "value": JSON_MEDIA}]
    response: dict[str, Any] = {
        "status": status,
        "statusText": reason,
        "httpVersion": _HTTP if status else "",
        "cookies": [],
        "headers": headers,
        "content": content,
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": -1,
    }
    if not status:
        response["_error"] = call["fault"] or "no answer"
    return response


def _entry(call: dict[str, Any], base_url: str) -> dict[str, Any]:
    wait = round(max(float(call["duration"]), 0.0) * 1000, 3)
    return {
        "startedDateTime": _started(float(call["at"])),
        "time": wait,
        "request": _request(call, base_url),
        "response": _response(call),
        "cache": {},
        "timings": {"send": 0, "wait": wait, "receive": 0},
        "_edenfake": {"fault": call["fault"], "replayed": call["replayed"], "tags": call["tags"]},
    }


def har_log(calls: list[dict[str, Any]], *, base_url: str, held: int, dropped: int, offset: int = 0) -> dict[str, Any]:
    """A HAR 1.2 document of ``calls`` (each as ``Call.as_dict()`` gives it, oldest first), their URLs under
    ``base_url``; ``held`` and ``dropped`` (the journal's count and the calls it let go) go in its comment."""
    from edenfake import __version__

    shown = f"calls {offset} to {offset + len(calls) - 1}" if calls else "no call"
    comment = f"edenfake's journal: {shown} of the {held} it holds ({dropped} older dropped)"
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "edenfake", "version": __version__},
            "entries": [_entry(c, base_url) for c in calls],
            "comment": comment,
        }
    }
