"""cloudflare_public_address, the cloudflare_dns role and the public_address playbook, run by
ansible-playbook against the emulator, with the address source a real HTTP server of the test:
bad input -> check mode -> create -> unchanged re-run -> a new address (diff) -> failures."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

MARKER = "managed by spitikos.homelab"
LIST = "/zones/{zone_id}/dns_records"
BATCH = "/zones/{zone_id}/dns_records/batch"
FIRST = "81.2.69.160"
SECOND = "81.2.69.161"
NAMES = ["home.example.com", "api.example.com"]
TRACE = "fl=12f1\nh=1.1.1.1\nip={address}\nts=1764697200.123\nvisit_scheme=https\nloc=NL\n"


class AddressSource:
    """A real HTTP server standing in for the address source: answers every GET with the
    status and body set last, and counts the requests."""

    def __init__(self):
        self.status = 200
        self.body = FIRST + "\n"
        self.requests = 0
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                source.requests += 1
                data = source.body.encode()
                self.send_response(source.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/cdn-cgi/trace"

    def answer(self, body, status=200):
        self.body = body
        self.status = status

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def source():
    stub = AddressSource()
    try:
        yield stub
    finally:
        stub.stop()


def update(ansible, source, names=None, check=False, diff=False, **extra):
    args = {
        "zone": "example.com",
        "records": [{"name": n} if isinstance(n, str) else n for n in names or NAMES],
        "address_source": source.url,
        **extra,
    }
    return ansible.module("cloudflare_public_address", args, check=check, diff=diff)


def stored(emulator, zone):
    return {(r["name"], r["type"]): r for r in emulator.zone_records(zone["id"])}


def test_bad_input_is_refused_before_anything_is_asked(ansible, emulator, zone, source):
    result = update(
        ansible,
        source,
        names=["home", "api.example.org", "*.example.com", "home.example.com"],
        address_source="ftp://127.0.0.1/ip",
    )
    assert result["failed"]
    assert result["msg"].startswith("Invalid options, nothing was changed: ")
    assert result["problems"] == [
        "records[0].name 'home' is not a fully qualified domain name",
        "records[1].name 'api.example.org' is not inside zone example.com",
        "records[2].name '*.example.com' is a wildcard; only concrete names are kept current",
        "address_source 'ftp://127.0.0.1/ip' is not an http:// or https:// URL",
    ]
    result = update(ansible, source, address="192.168.1.20")
    assert result["failed"]
    assert result["problems"] == [
        "the address '192.168.1.20' from option address is a private address (RFC 1918)"
    ]
    result = update(ansible, source, address_source="http://")
    assert result["problems"] == ["address_source 'http://' has no host"]
    assert emulator.calls() == 0
    assert source.requests == 0


def test_zone_given_by_id_checks_the_names_after_the_lookup(ansible, emulator, zone, source):
    result = update(ansible, source, names=["home.example.org"], zone=zone["id"])
    assert result["failed"]
    assert result["msg"] == (
        "Invalid records for zone example.com, nothing was changed: "
        "records[0].name 'home.example.org' is not inside zone example.com"
    )
    assert emulator.call_summary() == {"GET /zones/{zone_id}": 1}


def test_check_create_rerun_and_a_new_address(ansible, emulator, zone, source):
    # an unrelated record of the zone, owned, stays as it is throughout
    lan = emulator.add_record(
        zone["id"], name="wiki.example.com", type="A", content="10.0.0.200", comment=MARKER
    )

    # check mode: the change is predicted, nothing is written
    result = update(ansible, source, check=True, diff=True)
    assert result["changed"] is True
    assert result["address"] == FIRST
    assert result["address_source"] == source.url
    assert sorted(result["changes"]["created"]) == sorted(f"{n} A {FIRST}" for n in NAMES)
    assert [r["id"] for r in result["records"]] == [None, None]
    assert [d["before"] for d in result["diff"]] == [{}, {}]
    assert {d["after"]["content"] for d in result["diff"]} == {FIRST}
    assert emulator.calls(template=BATCH) == 0
    assert list(stored(emulator, zone)) == [("wiki.example.com", "A")]

    # first run: the zone lookup, one listing, one batch
    emulator.reset_calls()
    source.requests = 0
    result = update(ansible, source)
    assert result["changed"] is True
    assert emulator.call_summary() == {"GET /zones": 1, f"GET {LIST}": 1, f"POST {BATCH}": 1}
    assert source.requests == 1
    records = stored(emulator, zone)
    for name in NAMES:
        assert records[(name, "A")]["content"] == FIRST
        assert records[(name, "A")]["comment"] == MARKER
        assert records[(name, "A")]["proxied"] is False
    assert [r["id"] for r in result["records"]] == [records[(n, "A")]["id"] for n in NAMES]
    assert all(r["owned"] for r in result["records"])

    # unchanged re-run: two API requests, no batch
    emulator.reset_calls()
    result = update(ansible, source)
    assert result["changed"] is False
    assert result["changes"] == {"created": [], "updated": [], "deleted": []}
    assert emulator.call_summary() == {"GET /zones": 1, f"GET {LIST}": 1}

    # the address moves (and the source now answers in the /cdn-cgi/trace format): check mode
    # shows it, then the records are updated by id, in one batch, shown in the diff
    source.answer(TRACE.format(address=SECOND))
    result = update(ansible, source, check=True, diff=True)
    assert result["changed"] is True
    assert sorted(result["changes"]["updated"]) == sorted(f"{n} A {SECOND}" for n in NAMES)
    assert stored(emulator, zone)[("home.example.com", "A")]["content"] == FIRST
    emulator.reset_calls()
    result = update(ansible, source, diff=True)
    assert result["changed"] is True
    assert result["address"] == SECOND
    assert emulator.call_summary() == {"GET /zones": 1, f"GET {LIST}": 1, f"POST {BATCH}": 1}
    home = records[("home.example.com", "A")]
    assert result["diff"][0] == {
        "before": {
            "name": "home.example.com",
            "type": "A",
            "content": FIRST,
            "proxied": False,
            "ttl": 1,
            "comment": MARKER,
            "tags": [],
        },
        "after": {
            "name": "home.example.com",
            "type": "A",
            "content": SECOND,
            "proxied": False,
            "ttl": 1,
            "comment": MARKER,
            "tags": [],
        },
        "before_header": f"home.example.com A (id {home['id']})",
        "after_header": f"home.example.com A (id {home['id']})",
    }
    after = stored(emulator, zone)
    assert len(after) == 3, "an update must not add a record"
    for name in NAMES:
        assert after[(name, "A")]["id"] == records[(name, "A")]["id"]
        assert after[(name, "A")]["content"] == SECOND
    assert after[("wiki.example.com", "A")] == lan

    # and again: nothing to do
    emulator.reset_calls()
    result = update(ansible, source, diff=True)
    assert result["changed"] is False
    assert result["diff"] == []
    assert emulator.calls() == 2


def test_person_text_and_unset_options_are_kept(ansible, emulator, zone, source):
    record = emulator.add_record(
        zone["id"],
        name="home.example.com",
        type="A",
        content="81.2.69.1",
        ttl=120,
        comment=f"Owner: ada; {MARKER}",
    )
    result = update(ansible, source, names=["home.example.com"])
    assert result["changed"] is True
    (after,) = emulator.zone_records(zone["id"])
    assert after["id"] == record["id"]
    assert (after["content"], after["ttl"], after["comment"]) == (
        FIRST,
        120,
        f"Owner: ada; {MARKER}",
    )
    # the catalogue's comment and a TTL, given: applied, the marker not doubled
    result = update(
        ansible,
        source,
        names=[{"name": "home.example.com", "comment": f"service home; {MARKER}", "ttl": 60}],
    )
    assert result["changed"] is True
    (after,) = emulator.zone_records(zone["id"])
    assert (after["ttl"], after["comment"]) == (60, f"service home; {MARKER}")


def test_foreign_record_fails_before_anything_changes(ansible, emulator, zone, source):
    owned = emulator.add_record(
        zone["id"], name="home.example.com", type="A", content="81.2.69.1", comment=MARKER
    )
    foreign = emulator.add_record(
        zone["id"], name="api.example.com", type="A", content="81.2.69.2", comment="by hand"
    )
    before = emulator.zone_records(zone["id"])
    emulator.reset_calls()
    result = update(ansible, source)
    assert result["failed"]
    assert result["msg"].startswith("Nothing was changed in zone example.com: api.example.com A: ")
    conflict = f"api.example.com A 81.2.69.2 (id {foreign['id']}) without the ownership marker"
    assert conflict in result["msg"]
    assert emulator.calls(template=BATCH) == 0
    assert emulator.zone_records(zone["id"]) == before
    assert owned in before
    # another type at the name (AAAA) is no conflict and is left alone
    aaaa = emulator.add_record(
        zone["id"], name="home.example.com", type="AAAA", content="2001:db8::1", comment="hand"
    )
    result = update(ansible, source, names=["home.example.com"])
    assert result["changed"] is True
    assert stored(emulator, zone)[("home.example.com", "AAAA")] == aaaa


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, "<html><body>Service unavailable</body></html>\n<p>retry</p>\n", "holds no address"),
        (200, "not-an-address\n", "the address 'not-an-address' from address_source"),
        (200, "10.20.30.40\n", "the address '10.20.30.40' from address_source"),
        (200, "ip=100.64.3.4\n", "the address '100.64.3.4' from address_source"),
        (500, "oops\n", "HTTP 500 Internal Server Error"),
    ],
)
def test_address_source_failures(ansible, emulator, zone, source, status, body, message):
    record = emulator.add_record(
        zone["id"], name="home.example.com", type="A", content=FIRST, comment=MARKER
    )
    source.answer(body, status)
    result = update(ansible, source, names=["home.example.com"])
    assert result["failed"]
    assert message in result["msg"]
    assert source.url in result["msg"]
    assert "nothing was changed" in result["msg"]
    assert emulator.calls() == 0, "the API is not contacted without a valid address"
    assert emulator.zone_records(zone["id"]) == [record]


def test_unreachable_source(ansible, emulator, zone, source):
    url = source.url
    source.stop()
    result = ansible.module(
        "cloudflare_public_address",
        {"zone": "example.com", "records": [{"name": "home.example.com"}], "address_source": url},
    )
    assert result["failed"]
    assert result["msg"].startswith(f"Could not read the public address from address_source {url}")
    assert emulator.calls() == 0


def test_explicit_address_asks_no_source(ansible, emulator, zone, source):
    result = update(ansible, source, names=["home.example.com"], address=" 81.2.69.170 ")
    assert result["changed"] is True
    assert result["address"] == "81.2.69.170"
    assert result["address_source"] is None
    assert source.requests == 0


def test_secrets_never_appear_in_verbose_output(ansible, emulator, zone, source, api_token):
    task = {
        "name": "Public address, token given as an option",
        "spitikos.homelab.cloudflare_public_address": {
            "zone": "example.com",
            "records": [{"name": n} for n in NAMES],
            "address_source": source.url,
            "api_token": api_token,
            "api_retry_delay": 0.01,
        },
    }
    emulator.inject_fault(status=429, times=1, method="GET", template=LIST, retry_after=0)
    rc, _results, output = ansible.playbook(
        [task], diff=True, verbosity=3, env={"CLOUDFLARE_API_TOKEN": None}
    )
    assert rc == 0, output
    assert "home.example.com" in output
    assert FIRST in output
    assert api_token not in output
    # a failing run (a foreign record) does not print it either
    emulator.add_record(zone["id"], name="www.example.com", type="A", content="81.2.69.9")
    task["spitikos.homelab.cloudflare_public_address"]["records"].append(
        {"name": "www.example.com"}
    )
    rc, _results, output = ansible.playbook(
        [task], diff=True, verbosity=3, env={"CLOUDFLARE_API_TOKEN": None}
    )
    assert rc != 0
    assert "without the ownership marker" in output
    assert api_token not in output


# --------------------------------------------------------------------------- role and playbook
SERVICES = [
    {"name": "web", "host": "web.example.com", "expose": "public"},
    {"name": "api", "host": "api.example.com", "expose": "public", "protocol": "grpc", "port": 1},
    {"name": "wiki", "host": "wiki.example.com"},
]


def catalogue(emulator, source, **extra):
    return {
        "homelab_domain": "example.com",
        "homelab_edge": "router",
        "homelab_public_address": "auto",
        "homelab_ingress_address": "10.0.0.200",
        "homelab_services": SERVICES,
        "homelab_cloudflare_api_base_url": emulator.base_url,
        "cloudflare_dns_public_address_source": source.url,
        **extra,
    }


def dns_role(variables):
    return [
        {
            "name": "The role",
            "vars": variables,
            "ansible.builtin.include_role": {"name": "spitikos.homelab.cloudflare_dns"},
        }
    ]


@pytest.mark.parametrize("policy", ["upsert-only", "sync"])
def test_dns_role_resolves_the_placeholder(ansible, emulator, zone, source, policy):
    variables = catalogue(emulator, source, homelab_dns_policy=policy)
    rc, results, output = ansible.playbook(dns_role(variables), check=True, diff=True)
    assert rc == 0, output
    assert emulator.zone_records(zone["id"]) == []
    (planned,) = (r for r in results if "address" in r)
    assert planned["changed"] is True
    assert sorted(planned["changes"]["created"]) == [
        f"api.example.com A {FIRST}",
        f"web.example.com A {FIRST}",
    ]

    rc, results, output = ansible.playbook(dns_role(variables))
    assert rc == 0, output
    records = stored(emulator, zone)
    assert sorted(records) == [("api.example.com", "A"), ("web.example.com", "A")]
    assert records[("api.example.com", "A")]["content"] == FIRST
    assert records[("api.example.com", "A")]["comment"] == f"service api; {MARKER}"
    assert "<public-address>" not in json.dumps(emulator.zone_records(zone["id"]))

    # unchanged: the records module, when it runs (sync), does not take them for leftovers
    source.answer(SECOND + "\n")
    rc, results, output = ansible.playbook(dns_role(variables))
    assert rc == 0, output
    assert {r["content"] for r in emulator.zone_records(zone["id"])} == {SECOND}
    assert {r["id"] for r in emulator.zone_records(zone["id"])} == {
        r["id"] for r in records.values()
    }
    emulator.reset_calls()
    rc, results, output = ansible.playbook(dns_role(variables))
    assert rc == 0, output
    assert not any(r.get("changed") for r in results if "records" in r)
    assert emulator.calls(template=BATCH) == 0


def run_playbook(ansible, inventory, *args):
    path = ansible.workdir / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    cmd = [str(ANSIBLE_PLAYBOOK), "spitikos.homelab.public_address", "-i", str(path), *args]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        # the token comes from the inventory's vault variable only
        env=ansible.env({"ANSIBLE_STDOUT_CALLBACK": "default", "CLOUDFLARE_API_TOKEN": None}),
        cwd=ansible.workdir,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def inventory_of(variables, api_token):
    return {
        "all": {
            "vars": {**variables, "vault_cloudflare_api_token": api_token},
            "children": {"k3s_servers": {"hosts": {"pi": {"ansible_host": "10.0.0.2"}}}},
        }
    }


def test_public_address_playbook(ansible, emulator, zone, source, api_token):
    inventory = inventory_of(catalogue(emulator, source), api_token)
    rc, output = run_playbook(ansible, inventory, "-vvv")
    assert rc == 0, output
    assert api_token not in output
    records = stored(emulator, zone)
    assert sorted(records) == [("api.example.com", "A"), ("web.example.com", "A")]

    emulator.reset_calls()
    rc, output = run_playbook(ansible, inventory)
    assert rc == 0, output
    assert "changed=0" in output
    assert emulator.call_summary() == {"GET /zones": 1, f"GET {LIST}": 1}

    source.answer(TRACE.format(address=SECOND))
    emulator.reset_calls()
    rc, output = run_playbook(ansible, inventory, "--diff")
    assert rc == 0, output
    assert "changed=1" in output
    assert SECOND in output
    assert emulator.call_summary() == {"GET /zones": 1, f"GET {LIST}": 1, f"POST {BATCH}": 1}
    assert {r["content"] for r in emulator.zone_records(zone["id"])} == {SECOND}

    # a catalogue with a static address has nothing for the playbook to do, and says so
    inventory = inventory_of(
        catalogue(emulator, source, homelab_public_address="81.2.69.200"), api_token
    )
    emulator.reset_calls()
    rc, output = run_playbook(ansible, inventory)
    assert rc != 0
    assert "The catalogue plans no record that follows the public address" in output
    assert emulator.calls() == 0
