"""What drift needs of a recorded exchange before it can send it again, beyond what loading a cassette checks:
a multipart request's ``form`` an object and its ``files`` entries naming their part and file, every
``{"$file": NAME}`` reference a name, and recorded JSON no deeper than a request body may be (the recorder keeps
nothing deeper, so deeper JSON was written by hand). Anything else a recording holds is the real service's to
have said, and is compared, never trusted."""

from __future__ import annotations

from typing import Any

from edenfake._request import MAX_DEPTH
from edenfake.cassettes.format import Recorded

__all__ = ["problem"]


def problem(recorded: Recorded) -> str | None:
    """Why ``recorded`` cannot be sent to the fake (naming the field and the rule), or None."""
    request, response = recorded.request, recorded.response
    for where, value in (("request.json", request.get("json")), ("response.json", response.get("json"))):
        found = _json_problem(value)
        if found is not None:
            return f"'{where}' {found}"
    if "form" in request and not isinstance(request["form"], dict):
        return "'request.form' must be an object of the form's text fields"
    if "files" in request:
        files = request["files"]
        if not isinstance(files, list):
            return "'request.files' must be a list of the uploaded files"
        for index, entry in enumerate(files):
            found = _file_problem(entry)
            if found is not None:
                return f"'request.files[{index}]' {found}"
    return None


def _file_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "must be an object {part, filename, content_type, sha256, size, file}"
    for key in ("part", "file"):
        if not isinstance(entry.get(key), str):
            return f"needs '{key}', a string"
    for key in ("filename", "content_type"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            return f"'{key}' must be a string or null"
    return None


def _json_problem(value: Any) -> str | None:
    """Too deep, or a ``$file`` reference that is not a name (walked without recursion: any depth is safe)."""
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"is nested more than {MAX_DEPTH} levels deep (a recording keeps no deeper JSON)"
            if isinstance(item, dict):
                if "$file" in item and not isinstance(item["$file"], str):
                    return 'holds a {"$file": ...} reference that is not a file name'
                todo.extend((v, depth + 1) for v in item.values())
            else:
                todo.extend((v, depth + 1) for v in item)
    return None
