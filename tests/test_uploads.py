"""POST /v3/upload and /v3/upload/delete: files stored by the fake, usable as file_id in edits, bounded, cleared by
reset, and seen by the journal, faults and auth like every other route."""

from __future__ import annotations

import hashlib
import json
import uuid

import httpx
import pytest
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, create_app
from edenfake._core import Clock, UploadStore
from edenfake._store import ENTRY_OVERHEAD
from tests.helpers import AUTH, FROZEN, encoded, png

DAY = 24 * 3600


def upload(client: TestClient, data: bytes = b"", name: str = "fox.png", **fields: object) -> httpx.Response:
    return client.post(
        "/v3/upload",
        files={"file": (name, data or png(), "image/png")},
        data={k: str(v) for k, v in fields.items()},
    )


def test_upload_answers_the_api_references_shape(client: TestClient) -> None:
    body = upload(client, purpose="image-edit").json()
    assert uuid.UUID(body["file_id"])  # a UUID, as the real route's
    assert body["file_name"] == "fox.png" and body["file_size"] == len(png())
    assert body["file_mimetype"] == "image/png" and body["purpose"] == "image-edit" and body["metadata"] == {}
    assert body["created_at"] == "2026-05-26T10:41:43Z"  # the frozen clock
    assert body["expires_at"] == "2026-06-25T10:41:43Z"  # thirty days later, the real default
    assert (body["filename"], body["bytes"]) == (body["file_name"], body["file_size"])  # the upload guide's names
    again = upload(client, purpose="other").json()
    assert again["file_id"] == body["file_id"]  # the same content and name: the same id


def test_purpose_defaults_to_general_and_expiry_follows_expires_in_days(client: TestClient) -> None:
    assert upload(client).json()["purpose"] == "general"
    assert upload(client, expires_in_days=1).json()["expires_at"] == "2026-05-27T10:41:43Z"


@pytest.mark.parametrize(
    ("fields", "loc", "type_"),
    [
        ({"expires_in_days": 0}, ["body", "expires_in_days"], "greater_than_equal"),
        ({"expires_in_days": 31}, ["body", "expires_in_days"], "less_than_equal"),
        ({"expires_in_days": "soon"}, ["body", "expires_in_days"], "int_type"),
        ({"expires_in_days": "²"}, ["body", "expires_in_days"], "int_type"),
        ({"expires_in_days": "9" * 5000}, ["body", "expires_in_days"], "int_type"),
        ({"purpose": "p" * 51}, ["body", "purpose"], "string_too_long"),
    ],
)
def test_text_fields_are_checked_by_the_contract(
    client: TestClient, fields: dict[str, object], loc: list[str], type_: str
) -> None:
    r = upload(client, **fields)
    assert r.status_code == 422, r.text
    assert [(d["loc"], d["type"]) for d in r.json()["detail"]] == [(loc, type_)]


def test_the_mimetype_is_detected_from_the_content(client: TestClient) -> None:
    def sent(data: bytes, declared: str) -> str:
        r = client.post("/v3/upload", files={"file": ("f", data, declared)})
        return str(r.json()["file_mimetype"])

    assert sent(encoded("JPEG"), "application/octet-stream") == "image/jpeg"
    assert sent(encoded("WEBP"), "image/png") == "image/webp"
    assert sent(b"%PDF-1.7 ...", "text/plain") == "application/pdf"
    assert sent(b"just text", "text/plain; charset=utf-8") == "text/plain"


def test_upload_refusals_name_the_part(client: TestClient) -> None:
    r = client.post("/v3/upload", files={"image": ("fox.png", png(), "image/png")})
    assert r.status_code == 422
    assert {tuple(d["loc"]) for d in r.json()["detail"]} == {("body", "file"), ("body", "image")}
    empty = client.post("/v3/upload", files={"file": ("e.png", b"", "image/png")})
    assert empty.status_code == 422 and empty.json()["detail"][0]["type"] == "file_empty"
    two = client.post("/v3/upload", files=[("file", ("a.png", png(), "image/png"))] * 2)
    assert [d["type"] for d in two.json()["detail"]] == ["too_many_files"]
    assert client.post("/v3/upload", json={"file": "x"}).status_code == 415
    text = client.post("/v3/upload", data={"file": "not a file"}, files={"purpose": (None, "x")})
    assert [(d["loc"], d["type"]) for d in text.json()["detail"]] == [(["body", "file"], "file_expected")]
    broken = client.post(
        "/v3/upload", content=b"--x\r\nno", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert broken.status_code == 400 and broken.json()["error_code"] == "INVALID_BODY"


def test_uploads_expire_are_bounded_and_reset() -> None:
    # room for two uploads and what each costs beside its bytes (name, types, a fixed overhead), not three
    fake = EdenFake(clock=FROZEN, upload_store_bytes=2 * (len(png()) + ENTRY_OVERHEAD + 100))
    with TestClient(create_app(fake), headers=AUTH) as c:
        ids = [upload(c, name=f"{i}.png").json()["file_id"] for i in range(3)]
        assert len(fake.uploads) == 2 and fake.uploads.get(ids[0]) is None  # the oldest went first
        assert 2 * len(png()) < fake.uploads.size_bytes <= 2 * (len(png()) + ENTRY_OVERHEAD + 100)
        edit = {"model": "openai/gpt-image-1", "prompt": "x", "images": [{"file_id": ids[2]}]}
        assert c.post("/v3/images/edits", json=edit).status_code == 200
        fake.clock.advance(30 * DAY)
        assert c.post("/v3/images/edits", json=edit).json()["detail"][0]["type"] == "file_not_found"
        upload(c)
        fake.reset()
        assert len(fake.uploads) == 0


def test_the_store_caps_the_number_of_files() -> None:
    store = UploadStore(Clock(FROZEN), max_bytes=1024 * 1024, max_files=3)
    for i in range(5):
        store.put(f"{i}.txt", "text/plain", b"x", "general")
    assert len(store) == 3 and store.get(store.put("4.txt", "text/plain", b"x", "general").file_id) is not None


def test_delete_files_by_ids(client: TestClient, fake: EdenFake) -> None:
    a = upload(client, name="a.png").json()["file_id"]
    b = upload(client, name="b.png").json()["file_id"]
    unknown = str(uuid.UUID(int=7))
    r = client.post("/v3/upload/delete", json={"file_ids": [a, unknown, a.replace("-", "")]})
    assert r.status_code == 200 and r.json() == {"deleted_count": 1}  # unknown ids are ignored
    assert fake.uploads.get(a) is None and fake.uploads.get(b) is not None
    edit = {"model": "openai/gpt-image-1", "prompt": "x", "images": [{"file_id": a}]}
    assert client.post("/v3/images/edits", json=edit).json()["detail"][0]["type"] == "file_not_found"


@pytest.mark.parametrize(
    ("body", "type_"),
    [({}, "missing"), ({"file_ids": []}, "too_short"), ({"file_ids": ["nope"]}, "uuid_parsing")],
)
def test_delete_checks_its_body(client: TestClient, body: dict[str, object], type_: str) -> None:
    r = client.post("/v3/upload/delete", json=body)
    assert r.status_code == 422 and [d["type"] for d in r.json()["detail"]] == [type_]


def test_uploads_need_auth(fake: EdenFake) -> None:
    with TestClient(create_app(fake)) as c:
        assert c.post("/v3/upload", files={"file": ("a.png", png(), "image/png")}).status_code == 401
        assert c.post("/v3/upload/delete", json={"file_ids": [str(uuid.UUID(int=1))]}).status_code == 401
    assert len(fake.uploads) == 0


def test_the_journal_keeps_hashes_not_bytes(client: TestClient, fake: EdenFake) -> None:
    upload(client, purpose="image-edit", expires_in_days=2)
    call = fake.calls.last
    assert call.form == {"purpose": "image-edit", "expires_in_days": 2}
    assert call.files == [
        {
            "part": "file",
            "filename": "fox.png",
            "content_type": "image/png",
            "bytes": len(png()),
            "sha256": hashlib.sha256(png()).hexdigest(),
        }
    ]
    assert "IHDR" not in json.dumps([call.json, call.form, call.files, call.response])


def test_faults_match_upload_fields_and_apply_to_uploads() -> None:
    with edenfake.mock() as eden, httpx.Client(headers=AUTH) as c:
        eden.fail(503, match={"purpose": "flaky"})
        url = "https://api.edenai.run/v3/upload"
        files = {"file": ("a.png", png(), "image/png")}
        assert c.post(url, files=files, data={"purpose": "fine"}).status_code == 200
        assert c.post(url, files=files, data={"purpose": "flaky"}).status_code == 503
        eden.fail(402)
        assert c.post(url, files=files).status_code == 402
        assert [call.fault for call in eden.calls] == [None, "503", "402"]
