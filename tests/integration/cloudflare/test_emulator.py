"""The emulator itself: it rejects what the API description rejects, like the live API."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def http(emulator, api_token):
    with httpx.Client(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {api_token}"}
    ) as client:
        yield client


def test_invalid_requests_get_400_and_are_recorded(emulator, http, zone):
    url = f"/zones/{zone['id']}/dns_records"
    cases = [
        http.post(url, json={"type": "A", "name": "a.example.com", "content": "not-an-ip"}),
        http.post(
            url, json={"type": "A", "name": "a.example.com", "content": "10.0.0.1", "proxyed": True}
        ),
        http.get(url, params={"per_page": "0"}),
        http.get(url, params={"name.exact": "a.example.com"}),
        http.post(f"{url}/batch", json={"posts": [{"type": "A", "name": "x", "content": "1"}]}),
        http.post(f"{url}/batch", json={"creates": []}),
    ]
    for response in cases:
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["success"] is False
        assert body["errors"][0]["message"].startswith("Invalid request: ")
    assert len(emulator.validation_errors) == len(cases)
    assert emulator.zone_records(zone["id"]) == []
    emulator.validation_errors.clear()


def test_authentication(emulator, zone):
    with httpx.Client(base_url=emulator.base_url) as client:
        missing = client.get("/zones")
        wrong = client.get("/zones", headers={"Authorization": "Bearer nope"})
    assert missing.status_code == 400
    assert wrong.status_code == 403
    assert wrong.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]


def test_records_behave_like_the_live_api(emulator, http, zone):
    url = f"/zones/{zone['id']}/dns_records"
    created = http.post(
        url, json={"type": "A", "name": "a", "content": "10.0.0.1", "proxied": True, "ttl": 300}
    ).json()["result"]
    assert created["name"] == "a.example.com"
    assert created["ttl"] == 1, "proxied records are automatic TTL"
    clash = http.post(
        url, json={"type": "CNAME", "name": "a.example.com", "content": "b.example.com"}
    )
    assert clash.status_code == 400
    assert clash.json()["errors"][0]["code"] == 81053
    same = http.post(url, json={"type": "A", "name": "a.example.com", "content": "10.0.0.1"})
    assert same.json()["errors"][0]["code"] == 81058
    for i in range(4):
        http.post(
            url,
            json={
                "type": "TXT",
                "name": f"t{i}.example.com",
                "content": "x",
                "comment": "hello" if i % 2 else "",
            },
        )
    page = http.get(url, params={"per_page": 2, "page": 3}).json()
    assert page["result_info"] == {
        "page": 3,
        "per_page": 2,
        "count": 1,
        "total_count": 5,
        "total_pages": 3,
    }
    found = http.get(url, params={"comment.present": "", "type": "TXT"}).json()["result"]
    assert [r["name"] for r in found] == ["t1.example.com", "t3.example.com"]
    batch = http.post(
        f"{url}/batch",
        json={
            "deletes": [{"id": created["id"]}],
            "posts": [{"type": "CNAME", "name": "a.example.com", "content": "b.example.com"}],
        },
    )
    assert batch.status_code == 200, batch.text
    assert [
        r["type"] for r in emulator.zone_records(zone["id"]) if r["name"] == "a.example.com"
    ] == ["CNAME"]
    assert emulator.calls("POST", "/zones/{zone_id}/dns_records/batch") == 1
