"""Random catalogues for property tests, shared by the unit tests and the oracle tests.

``random_tunnel_catalogue(random.Random(seed), base)`` is a valid tunnel-edge catalogue (the
variables of ``base`` plus ``homelab_services``) with the tunnel wildcard on and a mix of
protocols, host depths and spellings; the same seed gives the same catalogue.
"""

from __future__ import annotations


def random_tunnel_catalogue(rng, base):
    """A valid tunnel-edge catalogue with the wildcard on and a mix of protocols."""
    services = []
    hosts = set()
    for i in range(rng.randint(0, 25)):
        protocol = rng.choice(["http", "https", "grpc", "passthrough", "tcp", "ssh"])
        depth = rng.choice(["", "lab.", "a.b."])
        host = f"{rng.choice(['s', 'svc', 'x'])}{i}.{depth}example.com"
        if rng.random() < 0.1 and "example.com" not in hosts:
            host = "example.com"
        hosts.add(host)
        if rng.random() < 0.2:
            host = host.upper() + "."
        svc = {"name": f"svc-{i}", "host": host, "protocol": protocol}
        if protocol in ("tcp", "ssh"):
            svc["expose"] = "public"
            svc["origin"] = f"{protocol}://10.0.1.{i + 1}:{rng.randint(1, 65535)}"
        else:
            svc["expose"] = "lan" if protocol == "passthrough" else rng.choice(["public", "lan"])
            svc["port"] = rng.randint(1, 65535)
        services.append(svc)
    return {
        **base,
        "homelab_services": services,
        "homelab_tunnel_wildcard": True,
        "homelab_tunnel_mode": rng.choice(["local", "remote"]),
        "homelab_dns_lan_records": rng.choice([True, False]),
    }
