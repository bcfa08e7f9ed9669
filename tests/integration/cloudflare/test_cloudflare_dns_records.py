"""cloudflare_dns_records and cloudflare_dns_records_info, run by ansible-playbook against the
emulator: bad input -> check mode -> apply -> unchanged re-run -> diff -> removal."""

from __future__ import annotations

import pytest

MARKER = "managed by spitikos.homelab"
LIST = "/zones/{zone_id}/dns_records"
BATCH = "/zones/{zone_id}/dns_records/batch"
TUNNEL_TARGET = "6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com"

RECORDS = [
    {"name": "api.example.com", "type": "CNAME", "content": TUNNEL_TARGET, "proxied": True},
    {"name": "grafana.example.com", "type": "A", "content": "10.0.0.200", "proxied": False},
    {"name": "git.example.com", "type": "A", "content": "10.0.0.200"},
]


def dns(ansible, records, check=False, diff=False, **extra):
    args = {"zone": "example.com", "records": records, **extra}
    return ansible.module("cloudflare_dns_records", args, check=check, diff=diff)


def by_name(records):
    return {(r["name"], r["type"]): r for r in records}


def test_bad_input_is_refused_before_anything_changes(ansible, emulator, zone):
    result = dns(
        ansible,
        [
            {"name": "api.other.org", "type": "A", "content": "10.0.0.1"},
            {"name": "web.example.com", "type": "A", "content": "not-an-address"},
            {"name": "txt.example.com", "type": "TXT", "content": "hello", "proxied": True},
            {"name": "mx.example.com", "type": "MX", "content": "mail.example.com"},
        ],
    )
    assert result["failed"]
    msg = result["msg"]
    assert "records[0] (api.other.org A): name must be '@' or a name inside zone example.com" in msg
    assert "records[1] (web.example.com A): content 'not-an-address' is not an IPv4 address" in msg
    assert "records[2] (txt.example.com TXT): TXT records cannot be proxied" in msg
    assert "records[3] (mx.example.com MX): MX records need a priority" in msg
    assert len(result["problems"]) == 4
    assert emulator.calls(template=BATCH) == 0
    assert emulator.calls(template=LIST) == 0
    assert emulator.zone_records(zone["id"]) == []


def test_unknown_record_type_is_refused_by_the_argument_spec(ansible, emulator, zone):
    result = dns(ansible, [{"name": "a.example.com", "type": "SPF", "content": "x"}])
    assert result["failed"]
    assert "type" in result["msg"]
    assert "SPF" in result["msg"]
    assert emulator.calls() == 0


def test_missing_token_and_wrong_token(ansible, emulator, zone):
    result = ansible.module(
        "cloudflare_dns_records",
        {"zone": "example.com", "records": []},
        env={"CLOUDFLARE_API_TOKEN": None},
    )
    assert result["failed"]
    assert result["msg"] == "missing required arguments: api_token"
    result = ansible.module(
        "cloudflare_dns_records",
        {"zone": "example.com", "records": []},
        env={"CLOUDFLARE_API_TOKEN": ""},
    )
    assert result["failed"]
    assert result["msg"] == (
        "No Cloudflare API token: set api_token or the environment variable CLOUDFLARE_API_TOKEN"
    )
    assert emulator.calls() == 0
    result = ansible.module(
        "cloudflare_dns_records", {"zone": "example.com", "records": [], "api_token": "wrong-token"}
    )
    assert result["failed"]
    assert result["msg"] == (
        "Failed to look up zone example.com: HTTP 403: Authentication error (code 10000)"
    )
    assert result["status"] == 403


def test_unknown_zone(ansible, emulator, zone):
    result = ansible.module("cloudflare_dns_records", {"zone": "example.org", "records": []})
    assert result["failed"]
    assert result["msg"] == (
        "Failed to look up zone example.org: no zone of that name is visible to this API token"
    )


def test_check_apply_rerun_diff_and_sync(ansible, emulator, zone):
    # check mode: the change is reported, nothing is written
    result = dns(ansible, RECORDS, check=True, diff=True)
    assert result["changed"] is True
    assert sorted(result["changes"]["created"]) == sorted(
        f"{r['name']} {r['type']} {r['content']}" for r in RECORDS
    )
    assert [r["id"] for r in result["records"]] == [None, None, None]
    assert len(result["diff"]) == 3
    assert emulator.zone_records(zone["id"]) == []
    assert emulator.calls(template=BATCH) == 0

    # apply
    result = dns(ansible, RECORDS)
    assert result["changed"] is True
    assert emulator.calls(template=BATCH) == 1
    stored = by_name(emulator.zone_records(zone["id"]))
    assert len(stored) == 3
    api = stored[("api.example.com", "CNAME")]
    assert api["proxied"] is True
    assert api["content"] == TUNNEL_TARGET
    assert api["comment"] == MARKER
    assert all(r["id"] for r in result["records"])
    assert {r["id"] for r in result["records"]} == {r["id"] for r in stored.values()}

    # unchanged re-run: zone lookup + one listing, nothing else
    emulator.reset_calls()
    result = dns(ansible, RECORDS)
    assert result["changed"] is False
    assert result["changes"] == {"created": [], "updated": [], "deleted": []}
    assert emulator.call_summary() == {"GET /zones": 1, f"GET {LIST}": 1}

    # the same in check mode with --diff: no change, empty diff
    result = dns(ansible, RECORDS, check=True, diff=True)
    assert result["changed"] is False
    assert result["diff"] == []

    # a changed address is an update by id, shown in the diff
    changed = [dict(r) for r in RECORDS]
    changed[1]["content"] = "10.0.0.201"
    old_id = stored[("grafana.example.com", "A")]["id"]
    result = dns(ansible, changed, diff=True)
    assert result["changed"] is True
    assert result["changes"]["updated"] == ["grafana.example.com A 10.0.0.201"]
    assert result["diff"] == [
        {
            "before": {
                "name": "grafana.example.com",
                "type": "A",
                "content": "10.0.0.200",
                "proxied": False,
                "ttl": 1,
                "comment": MARKER,
                "tags": [],
            },
            "after": {
                "name": "grafana.example.com",
                "type": "A",
                "content": "10.0.0.201",
                "proxied": False,
                "ttl": 1,
                "comment": MARKER,
                "tags": [],
            },
            "before_header": f"grafana.example.com A (id {old_id})",
            "after_header": f"grafana.example.com A (id {old_id})",
        }
    ]
    stored = emulator.zone_records(zone["id"])
    grafana = [r for r in stored if r["name"] == "grafana.example.com"]
    assert len(grafana) == 1, "an update must not add a duplicate"
    assert grafana[0]["id"] == old_id
    assert grafana[0]["content"] == "10.0.0.201"

    # upsert-only keeps owned records that left the list
    result = dns(ansible, changed[:1])
    assert result["changed"] is False
    assert len(emulator.zone_records(zone["id"])) == 3

    # sync removes them, check mode first
    emulator.add_record(zone["id"], name="www.example.com", type="A", content="192.0.2.1")
    result = dns(ansible, changed[:1], check=True, diff=True, policy="sync")
    assert result["changed"] is True
    assert sorted(result["changes"]["deleted"]) == [
        "git.example.com A 10.0.0.200",
        "grafana.example.com A 10.0.0.201",
    ]
    assert [d["after"] for d in result["diff"]] == [{}, {}]
    assert len(emulator.zone_records(zone["id"])) == 4
    result = dns(ansible, changed[:1], policy="sync")
    assert result["changed"] is True
    names = sorted(r["name"] for r in emulator.zone_records(zone["id"]))
    assert names == ["api.example.com", "www.example.com"], "the foreign record stays"
    result = dns(ansible, changed[:1], policy="sync")
    assert result["changed"] is False


@pytest.mark.parametrize("policy", ["upsert-only", "sync"])
def test_foreign_record_with_the_same_name_is_never_touched(ansible, emulator, zone, policy):
    foreign = emulator.add_record(
        zone["id"], name="api.example.com", type="A", content="192.0.2.10", comment="set by hand"
    )
    other = emulator.add_record(
        zone["id"], name="mail.example.com", type="MX", content="mx.example.net", priority=10
    )
    result = dns(ansible, RECORDS, policy=policy)
    assert result["failed"]
    assert (
        "api.example.com CNAME: the zone already has api.example.com A 192.0.2.10 "
        f"(id {foreign['id']}) without the ownership marker" in result["msg"]
    )
    assert result["msg"].startswith("Nothing was changed in zone example.com")
    assert emulator.calls(template=BATCH) == 0
    assert emulator.zone_records(zone["id"]) == sorted([foreign, other], key=lambda r: r["name"])

    # without the colliding name, the foreign records survive even a sync
    result = dns(ansible, RECORDS[1:], policy=policy)
    assert result["changed"] is True
    stored = by_name(emulator.zone_records(zone["id"]))
    assert stored[("api.example.com", "A")] == foreign
    assert stored[("mail.example.com", "MX")] == other


def test_foreign_record_of_another_type_at_the_name_is_no_conflict(ansible, emulator, zone):
    emulator.add_record(zone["id"], name="git.example.com", type="TXT", content="v=spf1 -all")
    result = dns(ansible, RECORDS[2:])
    assert result["changed"] is True
    assert len(emulator.zone_records(zone["id"])) == 2


def test_hand_written_comment_survives_updates(ansible, emulator, zone):
    dns(ansible, RECORDS[1:2])
    record = emulator.zone_records(zone["id"])[0]
    emulator.records[zone["id"]][record["id"]]["comment"] = f"Owner: ada; {MARKER}"

    changed = [dict(RECORDS[1], content="10.0.0.9", ttl=300)]
    result = dns(ansible, changed)
    assert result["changed"] is True
    stored = emulator.zone_records(zone["id"])
    assert len(stored) == 1
    assert stored[0]["comment"] == f"Owner: ada; {MARKER}"
    assert stored[0]["ttl"] == 300
    assert stored[0]["content"] == "10.0.0.9"

    # a comment option sets the text beside the marker; the same text again is no change
    result = dns(ansible, [dict(changed[0], comment="Owner: bob")])
    assert result["changed"] is True
    assert emulator.zone_records(zone["id"])[0]["comment"] == f"Owner: bob; {MARKER}"
    result = dns(ansible, [dict(changed[0], comment="Owner: bob")])
    assert result["changed"] is False


def test_comment_already_ending_with_the_marker_is_taken_without_it(ansible, emulator, zone):
    # The catalogue plan's comments end with the marker; they are stored once, not doubled.
    planned = [dict(RECORDS[0], ttl=1, comment=f"service api; {MARKER}")]
    result = dns(ansible, planned)
    assert result["changed"] is True
    assert emulator.zone_records(zone["id"])[0]["comment"] == f"service api; {MARKER}"
    emulator.reset_calls()
    assert dns(ansible, planned)["changed"] is False
    assert emulator.calls(template=BATCH) == 0
    # the same text without the marker is the same record
    assert dns(ansible, [dict(planned[0], comment="service api")])["changed"] is False
    # the marker elsewhere in the comment is refused
    result = dns(ansible, [dict(planned[0], comment=f"{MARKER} (api)")])
    assert result["failed"]
    assert "must not contain it elsewhere" in result["msg"]


def test_unset_options_are_left_alone(ansible, emulator, zone):
    dns(ansible, [dict(RECORDS[2], ttl=600)])
    emulator.reset_calls()
    # ttl, proxied, comment and tags unset: the stored values stay and nothing changes
    result = dns(ansible, [{"name": "git.example.com", "type": "A", "content": "10.0.0.200"}])
    assert result["changed"] is False
    assert emulator.zone_records(zone["id"])[0]["ttl"] == 600


def test_type_change_is_an_update_by_id(ansible, emulator, zone):
    dns(ansible, RECORDS[1:2])
    old = emulator.zone_records(zone["id"])[0]
    result = dns(
        ansible,
        [
            {
                "name": "grafana.example.com",
                "type": "CNAME",
                "content": TUNNEL_TARGET,
                "proxied": True,
            }
        ],
    )
    assert result["changed"] is True
    stored = emulator.zone_records(zone["id"])
    assert len(stored) == 1
    assert stored[0]["id"] == old["id"]
    assert stored[0]["type"] == "CNAME"


def test_rate_limit_is_retried_honouring_retry_after(ansible, emulator, zone):
    emulator.inject_fault(status=429, times=2, method="GET", template=LIST, retry_after=1)
    emulator.inject_fault(status=429, times=1, method="POST", template=BATCH, retry_after=1)
    result = dns(ansible, RECORDS)
    assert result["changed"] is True, result
    assert emulator.calls("GET", LIST) == 3
    assert emulator.calls("POST", BATCH) == 2
    assert len(emulator.zone_records(zone["id"])) == 3


def test_server_errors_on_reads_are_retried(ansible, emulator, zone):
    emulator.inject_fault(status=503, times=2, method="GET", template="/zones")
    result = dns(ansible, RECORDS)
    assert result["changed"] is True, result
    assert emulator.calls("GET", "/zones") == 3


def test_timeout_on_a_read_is_retried(ansible, emulator, zone):
    emulator.inject_fault(status=None, delay=2.5, times=1, method="GET", template=LIST)
    result = ansible.module(
        "cloudflare_dns_records",
        {"zone": "example.com", "records": RECORDS, "api_timeout": 1, "api_retry_delay": 0.01},
        fast=False,
    )
    assert result["changed"] is True, result
    assert emulator.calls("GET", LIST) == 2


def test_retries_give_up_with_a_clear_error(ansible, emulator, zone):
    emulator.inject_fault(status=429, times=10, method="GET", template=LIST, retry_after=0)
    result = dns(ansible, RECORDS, api_retries=2)
    assert result["failed"]
    assert result["msg"] == (
        "Failed to list DNS records of zone example.com: HTTP 429: Please "
        "wait and consider throttling your request speed (code 1015) "
        "(after 3 attempts)"
    )
    assert emulator.calls("GET", LIST) == 3


def test_lost_answer_to_a_batch_is_not_repeated_and_a_rerun_converges(ansible, emulator, zone):
    # the batch is applied but its answer is a 500: not retried (it is not idempotent)
    emulator.inject_fault(status=500, times=1, method="POST", template=BATCH, apply=True)
    result = dns(ansible, RECORDS)
    assert result["failed"]
    assert result["msg"].startswith(
        "Failed to update DNS records of zone example.com "
        "(api.example.com, git.example.com, grafana.example.com): "
        "HTTP 500"
    )
    assert emulator.calls("POST", BATCH) == 1
    assert len(emulator.zone_records(zone["id"])) == 3
    result = dns(ansible, RECORDS)
    assert result["changed"] is False
    assert len(emulator.zone_records(zone["id"])) == 3, "nothing duplicated"


def test_batch_failing_part_way_is_rolled_back_and_a_rerun_converges(ansible, emulator, zone):
    emulator.inject_fault(status=400, times=1, method="POST", template=BATCH, fail_at=1)
    result = dns(ansible, RECORDS)
    assert result["failed"]
    assert "posts[1]: injected failure" in result["msg"]
    assert emulator.zone_records(zone["id"]) == []
    result = dns(ansible, RECORDS)
    assert result["changed"] is True
    assert len(emulator.zone_records(zone["id"])) == 3
    assert dns(ansible, RECORDS)["changed"] is False


def test_paginated_listing(ansible, emulator, zone):
    for i in range(5):
        emulator.add_record(
            zone["id"], name=f"host{i}.example.com", type="A", content=f"192.0.2.{i + 1}"
        )
    records = [
        {"name": f"svc{i}.example.com", "type": "A", "content": "10.0.0.200"} for i in range(4)
    ]
    dns(ansible, records)
    emulator.max_per_page = 2
    emulator.reset_calls()
    result = dns(ansible, records)
    assert result["changed"] is False
    assert emulator.calls("GET", LIST) == 5  # 9 records, 2 per page
    result = dns(ansible, records[:2], policy="sync")
    assert result["changed"] is True
    assert sorted(result["changes"]["deleted"]) == [
        "svc2.example.com A 10.0.0.200",
        "svc3.example.com A 10.0.0.200",
    ]
    assert len(emulator.zone_records(zone["id"])) == 7


def test_zone_by_id(ansible, emulator, zone):
    result = ansible.module("cloudflare_dns_records", {"zone": zone["id"], "records": RECORDS})
    assert result["changed"] is True
    assert result["zone"] == {"id": zone["id"], "name": "example.com"}


def test_secrets_never_appear_in_verbose_output(ansible, emulator, zone, api_token):
    task = {
        "name": "Records, token given as an option",
        "spitikos.homelab.cloudflare_dns_records": {
            "zone": "example.com",
            "records": RECORDS,
            "api_token": api_token,
            "api_retry_delay": 0.01,
        },
    }
    info = {
        "name": "Read them back",
        "spitikos.homelab.cloudflare_dns_records_info": {
            "zone": "example.com",
            "api_token": api_token,
        },
    }
    emulator.inject_fault(status=429, times=1, method="GET", template=LIST, retry_after=0)
    rc, _results, output = ansible.playbook(
        [task, info], diff=True, verbosity=3, env={"CLOUDFLARE_API_TOKEN": None}
    )
    assert rc == 0, output
    assert "api.example.com" in output
    assert api_token not in output
    # and a failing run (wrong zone) does not print it either
    task["spitikos.homelab.cloudflare_dns_records"]["zone"] = "example.org"
    rc, _results, output = ansible.playbook(
        [task], diff=True, verbosity=3, env={"CLOUDFLARE_API_TOKEN": None}
    )
    assert rc != 0
    assert "Failed to look up zone example.org" in output
    assert api_token not in output


def test_info_module(ansible, emulator, zone):
    dns(ansible, RECORDS)
    emulator.add_record(zone["id"], name="www.example.com", type="A", content="192.0.2.1")
    result = ansible.module("cloudflare_dns_records_info", {"zone": "example.com"}, check=True)
    assert result["changed"] is False
    assert [r["name"] for r in result["records"]] == [
        "api.example.com",
        "git.example.com",
        "grafana.example.com",
        "www.example.com",
    ]
    assert [r["owned"] for r in result["records"]] == [True, True, True, False]
    result = ansible.module(
        "cloudflare_dns_records_info", {"zone": "example.com", "owned_only": True, "type": "A"}
    )
    assert [r["name"] for r in result["records"]] == ["git.example.com", "grafana.example.com"]
    result = ansible.module(
        "cloudflare_dns_records_info", {"zone": "example.com", "name": "WWW.example.com."}
    )
    assert [r["content"] for r in result["records"]] == ["192.0.2.1"]
    assert emulator.log[-1]["query"]["name"] == ["www.example.com"]
