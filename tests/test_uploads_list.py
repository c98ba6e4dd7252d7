"""GET /v3/upload (the files not yet expired, newest first, by purpose, one page at a time) and DELETE /v3/upload
(all of them): the v3 API reference's routes, through the mock (httpx and httpx2) and a live server, with
hostile query strings and the guard's rules."""

from __future__ import annotations

import httpx
import httpx2
import pytest
from starlette.testclient import TestClient

import edenfake
from edenfake import Catalog, EdenFake, create_app
from edenfake._core import Clock, UploadStore
from tests.helpers import AUTH, FROZEN, png

EDEN = "https://api.edenai.run/v3"
DAY = 24 * 3600


def upload(client: TestClient | httpx.Client, name: str, purpose: str | None = None, **fields: object) -> str:
    data = {**({"purpose": purpose} if purpose else {}), **{k: str(v) for k, v in fields.items()}}
    r = client.post(
        "/v3/upload" if isinstance(client, TestClient) else "/upload",
        files={"file": (name, png() + name.encode(), "image/png")},
        data=data,
    )
    assert r.status_code == 200, r.text
    file_id: str = r.json()["file_id"]
    return file_id


def test_the_listing_is_newest_first_in_the_upload_answers_shape(client: TestClient) -> None:
    ids = [upload(client, f"f{i}.png") for i in range(3)]  # a frozen clock: the order of uploads decides
    body = client.get("/v3/upload").json()
    assert [f["file_id"] for f in body["items"]] == ids[::-1]
    assert (body["total"], body["page"], body["limit"], body["total_pages"]) == (3, 1, 100, 1)
    answered = client.post("/v3/upload", files={"file": ("f2.png", png() + b"f2.png", "image/png")}).json()
    assert body["items"][0] == answered  # the item is what POST /v3/upload answered


def test_pages_limits_and_purposes(client: TestClient) -> None:
    ids = [upload(client, f"p{i}.png", "ocr" if i % 2 else "general") for i in range(5)]
    page = client.get("/v3/upload", params={"limit": 2, "page": 2}).json()
    assert [f["file_id"] for f in page["items"]] == [ids[2], ids[1]] and page["total_pages"] == 3
    last = client.get("/v3/upload", params={"limit": 2, "page": 3}).json()
    assert [f["file_id"] for f in last["items"]] == [ids[0]]
    past = client.get("/v3/upload", params={"limit": 2, "page": 1000000}).json()
    assert past["items"] == [] and past["total"] == 5
    ocr = client.get("/v3/upload", params={"purpose": "ocr"}).json()
    assert [f["file_id"] for f in ocr["items"]] == [ids[3], ids[1]] and ocr["total"] == 2
    assert client.get("/v3/upload", params={"purpose": ""}).json()["total"] == 5  # empty: no filter
    assert client.get("/v3/upload", params={"purpose": "ocré"}).json()["total"] == 0  # non-ASCII: no match
    assert client.get("/v3/upload?limit=1&limit=3").json()["limit"] == 3  # repeated: the last, as FastAPI


@pytest.mark.parametrize(
    ("query", "name", "type_"),
    [
        ("page=0", "page", "greater_than_equal"),
        ("page=1000001", "page", "less_than_equal"),
        ("page=" + "9" * 5000, "page", "less_than_equal"),
        ("page=" + "0" * 5000 + "1", None, None),
        ("limit=-1", "limit", "greater_than_equal"),
        ("limit=1001", "limit", "less_than_equal"),
        ("limit=ten", "limit", "int_parsing"),
        ("limit=%C2%B2", "limit", "int_parsing"),  # a superscript two: a digit to str.isdigit, not to int
        ("limit=1.5", "limit", "int_parsing"),
        ("limit=", "limit", "int_parsing"),
        ("purpose=" + "p" * 51, "purpose", "string_too_long"),
        ("purpose=%FF%FE", None, None),  # not UTF-8: replaced, then no match
    ],
)
def test_hostile_queries_are_422s_naming_the_parameter(
    client: TestClient, query: str, name: str | None, type_: str | None
) -> None:
    r = client.get(f"/v3/upload?{query}")
    if name is None:
        assert r.status_code == 200
        return
    assert r.status_code == 422
    [entry] = r.json()["detail"]
    assert entry["loc"] == ["query", name] and entry["type"] == type_
    assert len(entry["input"]) <= 41  # a clipped echo


def test_a_query_of_too_many_parameters_is_refused(client: TestClient) -> None:
    r = client.get("/v3/upload?" + "&".join(f"x{i}=1" for i in range(101)))
    [entry] = r.json()["detail"]
    assert r.status_code == 422 and (entry["type"], entry["loc"]) == ("too_many_parameters", ["query"])


def test_expired_files_leave_the_listing_and_the_edits(fake: EdenFake, client: TestClient) -> None:
    short = upload(client, "short.png", expires_in_days=1)
    long = upload(client, "long.png")
    fake.clock.advance(DAY)
    assert [f["file_id"] for f in client.get("/v3/upload").json()["items"]] == [long]
    edit = {"model": "openai/gpt-image-1", "prompt": "a hat", "images": [{"file_id": short}]}
    r = client.post("/v3/images/edits", json=edit)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "file_not_found"


def test_the_catalog_chooses_the_retention() -> None:
    guide = EdenFake(catalog=Catalog.from_data({"upload_retention_days": 7}), clock=FROZEN)
    with TestClient(create_app(guide), base_url="http://testserver", headers=AUTH) as client:
        r = client.post("/v3/upload", files={"file": ("a.png", png(), "image/png")})
        assert r.json()["expires_at"] == "2026-06-02T10:41:43Z"  # seven days, the upload guide's figure
        guide.clock.advance(7 * DAY)
        assert client.get("/v3/upload").json()["total"] == 0


def test_delete_all_answers_the_count_and_empties_the_store(fake: EdenFake, client: TestClient) -> None:
    ids = [upload(client, f"d{i}.png") for i in range(3)]
    upload(client, "gone.png", expires_in_days=1)
    fake.clock.advance(DAY)  # an expired file is not counted
    r = client.delete("/v3/upload")
    assert r.status_code == 200 and r.json() == {"deleted_count": 3}
    assert client.get("/v3/upload").json()["total"] == 0 and len(fake.uploads) == 0
    edit = {"model": "openai/gpt-image-1", "prompt": "a hat", "images": [{"file_id": ids[0]}]}
    assert client.post("/v3/images/edits", json=edit).status_code == 422
    assert client.delete("/v3/upload").json() == {"deleted_count": 0}
    # Eden documents no per-file routes
    assert client.get(f"/v3/upload/{ids[0]}").status_code == 404


def test_the_routes_take_a_token_and_are_journalled() -> None:
    fake = EdenFake(clock=FROZEN, tokens=["t"])
    with TestClient(create_app(fake), base_url="http://testserver") as client:
        assert client.get("/v3/upload").status_code == 401
        assert client.delete("/v3/upload").status_code == 401
        assert client.get("/v3/upload?limit=5", headers={"Authorization": "Bearer t"}).status_code == 200
    assert [(c.method, c.path, c.status) for c in fake.calls] == [
        ("GET", "/v3/upload", 401),
        ("DELETE", "/v3/upload", 401),
        ("GET", "/v3/upload", 200),
    ]


def test_through_the_mock_with_httpx_and_httpx2() -> None:
    with edenfake.mock(clock=FROZEN):
        with httpx.Client(base_url=EDEN, headers=AUTH) as client:
            first = upload(client, "a.png", "ocr")
        with httpx2.Client(base_url=EDEN, headers=AUTH) as client2:  # the openai SDK's transport
            listed = client2.get("/upload", params={"purpose": "ocr"}).json()
            assert [f["file_id"] for f in listed["items"]] == [first]
            assert client2.get("/upload", params={"page": -1}).status_code == 422
            assert client2.delete("/upload").json() == {"deleted_count": 1}


def test_a_live_server_lists_and_deletes_and_no_other_site_can() -> None:
    with edenfake.serve(clock=FROZEN) as server, httpx.Client(base_url=server.url + "/v3", headers=AUTH) as client:
        file_id = upload(client, "a.png")
        assert client.get("/upload").json()["items"][0]["file_id"] == file_id
        for method in ("GET", "DELETE"):
            r = client.request(method, "/upload", headers={"origin": "https://evil.example"})
            assert r.status_code == 403 and r.json()["error_code"] == "ORIGIN_NOT_ALLOWED"
            r = client.request(method, "/upload", headers={"sec-fetch-site": "cross-site"})
            assert r.status_code == 403 and r.json()["error_code"] == "CROSS_SITE_REQUEST"
            r = client.request(method, "/upload", headers={"host": "attacker.example"})
            assert r.status_code == 403 and r.json()["error_code"] == "HOST_NOT_ALLOWED"
        assert client.get("/upload").json()["total"] == 1  # nothing was deleted
        assert client.delete("/upload").json() == {"deleted_count": 1}


def test_the_listing_is_bounded_by_the_store_and_drops_what_expired() -> None:
    clock = Clock(FROZEN)
    store = UploadStore(clock, max_bytes=10_000, max_files=3)
    for i in range(5):
        store.put(f"f{i}.png", "image/png", b"x" * 10, "general", ttl=DAY if i else 1.0)
    assert [u.filename for u in store.listing()] == ["f4.png", "f3.png", "f2.png"]  # the oldest were evicted
    held = store.size_bytes
    store.put("soon.png", "image/png", b"y" * 10, "ocr", ttl=1.0)
    clock.advance(2.0)
    assert [u.filename for u in store.listing()] == ["f4.png", "f3.png"]  # soon.png expired, f2 was evicted
    assert store.size_bytes < held  # an expired file's bytes are freed as the listing passes it
    assert store.listing("ocr") == [] and store.delete_all() == 2 and store.listing() == []
