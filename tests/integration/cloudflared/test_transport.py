"""Which transport the connector really dials, with the command line the role's unit runs.

The plan of ``inventories/home`` (a public gRPC service, so the protocol must be HTTP/2) is
rendered by ``playbooks/plan.yml`` from the role's own templates; the ``ExecStart`` of its
unit and drop-in, run by the real cloudflared, dials ``tests/harness/fake_edge.py`` instead of
Cloudflare. On the wire, the HTTP/2 transport is TCP+TLS with SNI ``h2.cftunnel.com``; QUIC is
UDP (SNI ``quic.cftunnel.com``, inside encrypted Initial packets the fake edge does not open).

What the fake edge cannot prove: registration with the edge, that a QUIC handshake would
succeed, or how Cloudflare's edge behaves (docs/testing.md).

cloudflared 2026.8.2 also runs connectivity pre-checks at startup, whatever ``--protocol``
says: a TLS probe (SNI ``probe.cftunnel.com``) and a QUIC probe over UDP. The tests below turn
them off (``TUNNEL_NO_PRECHECKS``, as ``--no-prechecks``) wherever they assert the tunnel's
own transport, and one test records the probes themselves.
"""

from __future__ import annotations

import pytest
from connector import Connector, FakeEdge, run_connector

H2 = "h2.cftunnel.com"
PROBE = "probe.cftunnel.com"
# Plan the documented example as it is (local tunnel: config.yml and credentials) and as a
# remotely managed tunnel (the token in the environment file).
MODES = {"local": {}, "remote": {"homelab_tunnel_mode": "remote"}}


def tls(events):
    return [e for e in events if e["transport"] == "tcp" and e["event"] == "open"]


def udp(events):
    return [e for e in events if e["transport"] == "udp"]


def h2_seen(events):
    return any(e.get("sni") == H2 for e in tls(events))


def settings(log):
    """cloudflared's "Settings: map[...]" line: the options it parsed from its command line."""
    return next((line for line in log.splitlines() if "Settings: map[" in line), log)


def anything_seen(events):
    return bool(tls(events) or udp(events))


@pytest.fixture(params=sorted(MODES))
def connector(request, planned, cloudflared, tmp_path):
    plan = planned("inventories/home", **MODES[request.param])
    scratch = tmp_path / "connector"
    scratch.mkdir()
    return Connector(plan, "pi1", cloudflared, scratch)


def test_the_role_runs_http2_over_tcp_tls_and_nothing_over_udp(connector, fake_edge):
    env = {**connector.env, **fake_edge.environment()}
    events, log, running = run_connector(
        connector.argv, env, fake_edge, connector.scratch, until=anything_seen, grace=3.0
    )
    assert udp(events) == [], f"UDP datagrams reached the edge: {udp(events)[:3]}\n{log}"
    assert h2_seen(events), (events, log)
    assert [e for e in tls(events) if e["sni"] != H2 or e["handshake"] != "ok"] == [], events
    # cloudflared's own account of the command line it was given: offline, a config.yml
    # tunnel without --protocol would also start with http2 (see VARIANTS below).
    assert "protocol:http2" in settings(log), settings(log)
    assert "Initial protocol http2" in log, log
    # The fake edge holds the connection open; the connector waits on it.
    assert running, log


# What cloudflared does with the other protocols, from the same plan and harness. Offline, the
# 'auto' choice differs by tunnel mode: with a token cloudflared starts with QUIC; with a
# config.yml it asks DNS (protocol-v2.argotunnel.com) which protocol to use and, the lookup
# failing here, starts with HTTP/2. Online that lookup decides (docs/cloudflared.md).
VARIANTS = [
    ("quic", "local", "udp"),
    ("quic", "remote", "udp"),
    ("auto", "local", "tcp"),
    ("auto", "remote", "udp"),
]


@pytest.mark.parametrize(("protocol", "mode", "wire"), VARIANTS)
def test_other_protocols_on_the_wire(protocol, mode, wire, planned, cloudflared, tmp_path):
    plan = planned("inventories/home", **MODES[mode])
    scratch = tmp_path / "connector"
    scratch.mkdir()
    connector = Connector(plan, "pi1", cloudflared, scratch)
    edge = FakeEdge(tmp_path / "edge")
    edge.directory.mkdir()
    edge.start()
    try:
        env = {**connector.env, **edge.environment()}
        events, log, _running = run_connector(
            connector.with_protocol(protocol), env, edge, scratch, until=anything_seen, grace=3.0
        )
    finally:
        edge.stop()
    assert f"protocol:{protocol}" in settings(log), log
    if wire == "udp":
        assert "Initial protocol quic" in log, log
        assert udp(events), (events, log)
        # QUIC version 1 Initial packets, padded to at least 1200 bytes (RFC 9000 14.1).
        assert all(e.get("quic_version") == "00000001" for e in udp(events)), events
        assert all(e["bytes"] >= 1200 for e in udp(events)), events
        assert tls(events) == [], events
    else:
        assert "Initial protocol http2" in log, log
        assert h2_seen(events), events
        assert udp(events) == [], events


def test_startup_prechecks_probe_both_transports(connector, fake_edge):
    """Recorded so that the others' TUNNEL_NO_PRECHECKS is not mistaken for hiding the
    tunnel's transport: the probes are cloudflared's, with --protocol http2 too."""
    env = {**connector.env, **fake_edge.environment(prechecks=True)}

    def probes_and_tunnel(events):
        snis = {e["sni"] for e in tls(events)}
        return {PROBE, H2} <= snis and udp(events)

    events, log, _running = run_connector(
        connector.argv, env, fake_edge, connector.scratch, until=probes_and_tunnel, grace=0.5
    )
    assert "Initial protocol http2" in log, log
    assert {e["sni"] for e in tls(events)} == {PROBE, H2}, events
    assert udp(events), events
