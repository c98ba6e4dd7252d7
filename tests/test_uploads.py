"""POST /v3/upload: files stored by the fake, usable as file_id in edits, bounded and cleared by reset."""

from __future__ import annotations

from starlette.testclient import TestClient

from edenfake import EdenFake, create_app
from tests.conftest import AUTH, FROZEN
from tests.test_edits import png


def test_upload_answers_the_real_shape(client: TestClient) -> None:
    r = client.post("/v3/upload", files={"file": ("fox.png", png(), "image/png")}, data={"purpose": "image-edit"})
    assert r.status_code == 200
    body = r.json()
    assert body["filename"] == "fox.png" and body["bytes"] == len(png()) and body["purpose"] == "image-edit"
    assert body["created_at"] == "2026-05-26T10:41:43Z"  # the frozen clock
    assert body["expires_at"] == "2026-06-02T10:41:43Z"  # seven days later
    again = client.post("/v3/upload", files={"file": ("fox.png", png(), "image/png")}).json()
    assert again["file_id"] == body["file_id"]  # the same content and name: the same id


def test_upload_refusals_name_the_part(client: TestClient) -> None:
    r = client.post("/v3/upload", files={"image": ("fox.png", png(), "image/png")})
    assert r.status_code == 422
    assert {tuple(d["loc"]) for d in r.json()["detail"]} == {("body", "file"), ("body", "image")}
    empty = client.post("/v3/upload", files={"file": ("e.png", b"", "image/png")})
    assert empty.status_code == 422 and empty.json()["detail"][0]["type"] == "file_empty"
    assert client.post("/v3/upload", json={"file": "x"}).status_code == 415


def test_uploads_expire_are_bounded_and_reset() -> None:
    fake = EdenFake(clock=FROZEN, upload_store_bytes=len(png()) * 2)
    with TestClient(create_app(fake), headers=AUTH) as c:
        ids = [
            c.post("/v3/upload", files={"file": (f"{i}.png", png(), "image/png")}).json()["file_id"] for i in range(3)
        ]
        assert len(fake.uploads) == 2 and fake.uploads.get(ids[0]) is None  # the oldest went first
        edit = {"model": "openai/gpt-image-1", "prompt": "x", "images": [{"file_id": ids[2]}]}
        assert c.post("/v3/images/edits", json=edit).status_code == 200
        fake.clock.advance(7 * 24 * 3600)
        assert c.post("/v3/images/edits", json=edit).json()["detail"][0]["type"] == "file_not_found"
        c.post("/v3/upload", files={"file": ("x.png", png(), "image/png")})
        fake.reset()
        assert len(fake.uploads) == 0


def test_uploads_need_auth(fake: EdenFake) -> None:
    with TestClient(create_app(fake)) as c:
        assert c.post("/v3/upload", files={"file": ("a.png", png(), "image/png")}).status_code == 401
