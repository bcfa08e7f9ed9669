"""Every HelmChart and HelmChartConfig the plan writes, rendered by the real helm against the
published charts.

The inputs are the plan's own files: ``playbooks/plan.yml`` runs on every example inventory and
on catalogue variants written here (both ingress controllers; ServiceLB, MetalLB with one pool
and with two; oauth2 on and off; a passthrough service and none). Each HelmChart is rendered with
``helm template`` from the archive of the same chart name and version in the shared chart folder
(``../shared/data/charts``, see its README), with its ``valuesContent`` and ``set`` as k3s'
helm-controller passes them; each HelmChartConfig onto every chart k3s may bundle under that
name. helm enforces the chart's own ``values.schema.json``. Then:

- every key of our values must exist in the chart's own ``values.yaml``, or sit under a map the
  chart leaves free-form (empty in ``values.yaml``: annotations, ``extraArgs``, ...); the few keys
  a chart reads without listing them are in ``NOT_IN_VALUES_YAML`` with the template reading them;
- the rendered objects must do what the catalogue input asks for: the ingress classes and their
  controller values, one LoadBalancer Service per class on the planned address and pool, the
  ssl-passthrough flag exactly where a passthrough service needs it, oauth2-proxy reading the
  Secret the role writes and serving where the catalogue sends forward authentication.

The expectations (``EXPECTED``, ``VARIANTS``) are written here from the catalogue inputs, never
taken from the role or the catalogue code.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import oracles
import pytest
import yaml
from plan_inventory import write_inventory

REPO = Path(__file__).resolve().parents[3]
SHARED_DATA = Path(os.environ.get("SPITIKOS_SHARED_DATA", REPO.parent / "shared" / "data"))
CHART_DIR = SHARED_DATA / "charts"
# The Kubernetes release of the k3s the roles pin (v1.34.9+k3s1).
KUBE_VERSION = "1.34.9"
ADDONS = "var/lib/rancher/k3s/server/manifests"
# A HelmChartConfig changes a chart k3s installs itself: (namespace, name) of k3s' HelmChart ->
# the charts it may be. k3s v1.34.9 bundles Traefik chart 40.3.0 (Traefik v3.7.4); the v1.34 line
# bundled 39.0.5 earlier in 2026. Both must accept our values.
BUNDLED = {("kube-system", "traefik"): (("traefik", "40.3.0"), ("traefik", "39.0.5"))}
# Keys a chart reads although its values.yaml does not list them (there only in a comment),
# each with the template that reads it; test_listed_exceptions_are_read_by_the_chart checks both.
NOT_IN_VALUES_YAML = {
    ("oauth2-proxy", "fullnameOverride"): ("templates/_helpers.tpl", ".Values.fullnameOverride"),
    ("oauth2-proxy", "config.existingSecret"): (
        "templates/_helpers.tpl",
        ".Values.config.existingSecret",
    ),
}
CLUSTER_SCOPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
}
# What the role's readiness step waits for before it writes the pools and issuers
# (roles/cluster_addons/tasks/readiness.yml): the charts must make these, in their namespace.
READINESS = {
    "cert-manager": {
        "CustomResourceDefinition": {
            "certificates.cert-manager.io",
            "clusterissuers.cert-manager.io",
        },
        "Deployment": {"cert-manager-webhook"},
        "Service": {"cert-manager-webhook"},
    },
    "metallb": {
        "CustomResourceDefinition": {"ipaddresspools.metallb.io", "l2advertisements.metallb.io"},
        "Deployment": {"metallb-controller"},
        "Service": {"metallb-webhook-service"},
    },
}
METALLB_POOL = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")
METALLB_IPS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")


# ================================================================================ the inputs


@dataclass(frozen=True)
class IngressClass:
    """One ingress class as the catalogue input asks for it."""

    # The address pinned through MetalLB; None with ServiceLB (the nodes' own addresses).
    address: str | None = None
    # A service of this class has protocol: passthrough.
    passthrough: bool = False


@dataclass(frozen=True)
class Expected:
    controller: str
    classes: dict[str, IngressClass]
    # homelab_oauth2's (namespace, service, port) when a service has auth: oauth2.
    oauth2: tuple[str, str, int] | None = None
    load_balancer: str = "servicelb"


# Written from each inventory's group_vars (inventories/home, inventories/examples/*). The lab
# inventories are left out: they need the addresses `scripts/lab up` generates.
EXPECTED = {
    "inventories/home": Expected("ingress-nginx", {"nginx": IngressClass()}),
    "inventories/examples/lan-only": Expected(
        "ingress-nginx", {"nginx": IngressClass(passthrough=True)}
    ),
    "inventories/examples/router-metallb": Expected(
        "ingress-nginx",
        {
            "nginx": IngressClass("10.0.0.200", passthrough=True),
            "nginx-internal": IngressClass("10.0.0.210"),
        },
        oauth2=("oauth2-proxy", "oauth2-proxy", 4180),
        load_balancer="metallb",
    ),
    "inventories/examples/router-port-forward": Expected(
        "ingress-nginx",
        {"nginx": IngressClass("192.168.1.200"), "nginx-internal": IngressClass("192.168.1.210")},
        load_balancer="metallb",
    ),
    "inventories/examples/tunnel-passthrough": Expected(
        "traefik", {"traefik": IngressClass(passthrough=True)}
    ),
    "inventories/examples/tunnel-pod": Expected("traefik", {"traefik": IngressClass()}),
}


@dataclass(frozen=True)
class Variant:
    """A catalogue written here: its settings, services and what they ask for."""

    settings: dict
    services: list
    expected: Expected
    oauth2: dict = field(default_factory=dict)


def _service(name, **fields):
    return {"name": name, "host": f"{name}.example.com", "namespace": name, **fields}


ONE_POOL = {"external": {"addresses": ["192.0.2.200/32"]}}
TWO_POOLS = {
    "external": {"addresses": ["192.0.2.200/32"]},
    "internal": {
        "addresses": ["192.0.2.210-192.0.2.219"],
        "ingress_address": "192.0.2.211",
        "ingress_class": "lan",
    },
}
VARIANTS = {
    # ingress-nginx, one pool, a class name of our own, a public passthrough service, oauth2
    # with its own namespace, Service name and port.
    "nginx-one-pool-passthrough-oauth2": Variant(
        {
            "homelab_ingress_controller": "ingress-nginx",
            "homelab_load_balancer": "metallb",
            "homelab_ingress_address": "192.0.2.200",
            "homelab_ingress_class": "web",
            "homelab_metallb_pools": ONE_POOL,
        },
        [
            _service("vault", expose="public", protocol="passthrough", port=8200),
            _service("wiki", expose="public", auth="oauth2", port=3000),
            _service("sso", expose="public", port=8080),
        ],
        Expected(
            "ingress-nginx",
            {"web": IngressClass("192.0.2.200", passthrough=True)},
            oauth2=("sso", "sso-proxy", 8080),
            load_balancer="metallb",
        ),
        oauth2={
            "url": "https://sso.example.com",
            "namespace": "sso",
            "service": "sso-proxy",
            "port": 8080,
        },
    ),
    # ingress-nginx, two pools: the passthrough service is LAN-only, so only the internal
    # controller needs the flag; no oauth2.
    "nginx-two-pools-internal-passthrough": Variant(
        {
            "homelab_ingress_controller": "ingress-nginx",
            "homelab_load_balancer": "metallb",
            "homelab_ingress_address": "192.0.2.200",
            "homelab_metallb_pools": TWO_POOLS,
        },
        [
            _service("www", expose="public", port=80),
            _service("nas", protocol="passthrough", port=5001),
        ],
        Expected(
            "ingress-nginx",
            {
                "nginx": IngressClass("192.0.2.200"),
                "lan": IngressClass("192.0.2.211", passthrough=True),
            },
            load_balancer="metallb",
        ),
    ),
    # Traefik, one pool, a class name of our own, passthrough, oauth2.
    "traefik-one-pool-passthrough-oauth2": Variant(
        {
            "homelab_ingress_controller": "traefik",
            "homelab_load_balancer": "metallb",
            "homelab_ingress_address": "192.0.2.200",
            "homelab_ingress_class": "edge",
            "homelab_metallb_pools": ONE_POOL,
        },
        [
            _service("vault", expose="public", protocol="passthrough", port=8200),
            _service("wiki", expose="public", auth="oauth2", port=3000),
        ],
        Expected(
            "traefik",
            {"edge": IngressClass("192.0.2.200", passthrough=True)},
            oauth2=("oauth2-proxy", "oauth2-proxy", 4180),
            load_balancer="metallb",
        ),
        oauth2={"url": "https://auth.example.com"},
    ),
    # Traefik, two pools: k3s' Traefik for the external class, a second one for the internal.
    "traefik-two-pools-passthrough-oauth2": Variant(
        {
            "homelab_ingress_controller": "traefik",
            "homelab_load_balancer": "metallb",
            "homelab_ingress_address": "192.0.2.200",
            "homelab_metallb_pools": TWO_POOLS,
        },
        [
            _service("vault", expose="public", protocol="passthrough", port=8200),
            _service("wiki", auth="oauth2", port=3000),
        ],
        Expected(
            "traefik",
            {
                "traefik": IngressClass("192.0.2.200", passthrough=True),
                "lan": IngressClass("192.0.2.211"),
            },
            oauth2=("oauth2-proxy", "oauth2-proxy", 4180),
            load_balancer="metallb",
        ),
        oauth2={"url": "https://auth.example.com"},
    ),
}
INPUTS = sorted([*EXPECTED, *VARIANTS])


def expected(name):
    return EXPECTED[name] if name in EXPECTED else VARIANTS[name].expected


def write_variant(root, variant):
    """An inventory of one k3s server and a router holding the variant's catalogue."""
    catalogue = {
        "homelab_domain": "example.com",
        "homelab_edge": "router",
        "homelab_public_address": "203.0.113.7",
        **variant.settings,
        "homelab_services": variant.services,
    }
    if variant.oauth2:
        catalogue["homelab_oauth2"] = variant.oauth2
    return write_inventory(root, yaml.safe_dump(catalogue))


# ================================================================================ the charts


@cache
def archives():
    """{(chart name, version): archive} of the shared chart folder, from each Chart.yaml."""
    index = {}
    for path in sorted(CHART_DIR.glob("*.tgz")):
        meta = yaml.safe_load(chart_files(path)["Chart.yaml"])
        index[(meta["name"], str(meta["version"]))] = path
    return index


@cache
def chart_files(archive):
    """{path inside the chart: text} of an archive's YAML, templates and schema files."""
    files = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith((".yaml", ".yml", ".tpl", ".json")):
                inner = member.name.partition("/")[2]
                files[inner] = tar.extractfile(member).read().decode()
    return files


def merged(base, extra):
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@cache
def default_values_json(archive):
    """The chart's values.yaml tree, each subchart's under its name, as JSON (cacheable)."""
    files = chart_files(archive)

    def load(prefix):
        values = yaml.safe_load(files.get(prefix + "values.yaml", "")) or {}
        meta = yaml.safe_load(files[prefix + "Chart.yaml"])
        for dependency in meta.get("dependencies") or []:
            sub = f"{prefix}charts/{dependency['name']}/"
            if sub + "Chart.yaml" in files:
                key = dependency.get("alias") or dependency["name"]
                values[key] = merged(load(sub), values.get(key) or {})
        return values

    return json.dumps(load(""))


def unknown_keys(ours, chart, chart_name, path=()):
    """Our values keys that the chart's default values tree does not know."""
    problems = []
    for key, value in ours.items():
        where = (*path, str(key))
        dotted = ".".join(where)
        if (chart_name, dotted) in NOT_IN_VALUES_YAML:
            continue
        if not isinstance(chart, dict) or key not in chart:
            problems.append(f"{dotted}: not in the chart's values.yaml")
            continue
        default = chart[key]
        if isinstance(value, dict):
            if isinstance(default, dict):
                # An empty map in values.yaml is free-form (annotations, extraArgs, ...).
                if default:
                    problems += unknown_keys(value, default, chart_name, where)
            else:
                problems.append(f"{dotted}: a map, where the chart's default is {default!r}")
    return problems


def nested(sets):
    """helm-controller's spec.set (dotted keys) as a values tree."""
    tree = {}
    for key, value in sets:
        *parents, last = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


@dataclass(frozen=True)
class Release:
    """One chart install the plan asks k3s' helm-controller for."""

    source: str
    kind: str
    name: str
    namespace: str
    chart: str
    version: str
    repo: str | None
    values_text: str
    sets: tuple = ()

    @property
    def archive(self):
        return archives().get((self.chart, self.version))

    @property
    def values(self):
        return merged(yaml.safe_load(self.values_text) or {}, nested(self.sets))


def manifests(plan_dir):
    """{file name: documents} of the add-on manifests the plan writes for the first server."""
    files = sorted(plan_dir.glob(f"hosts/*/{ADDONS}/homelab-*.yaml"))
    return {path.name: [d for d in yaml.safe_load_all(path.read_text()) if d] for path in files}


def releases(plan_dir):
    """Every HelmChart, and every HelmChartConfig on each chart k3s may bundle for it."""
    found = []
    for file, docs in manifests(plan_dir).items():
        for doc in docs:
            if doc.get("apiVersion") != "helm.cattle.io/v1":
                continue
            meta, spec = doc["metadata"], doc["spec"]
            source = f"{file}: {doc['kind']} {meta.get('namespace')}/{meta['name']}"
            common = {
                "source": source,
                "kind": doc["kind"],
                "name": meta["name"],
                "values_text": spec.get("valuesContent") or "",
                "sets": tuple(sorted((spec.get("set") or {}).items())),
            }
            if doc["kind"] == "HelmChart":
                found.append(
                    Release(
                        **common,
                        namespace=spec.get("targetNamespace") or meta["namespace"],
                        chart=spec["chart"],
                        version=str(spec.get("version", "")),
                        repo=spec.get("repo"),
                    )
                )
            elif doc["kind"] == "HelmChartConfig":
                bundled = BUNDLED.get((meta["namespace"], meta["name"]))
                if bundled is None:
                    pytest.fail(f"{source}: no chart k3s bundles under that name")
                for chart, version in bundled:
                    found.append(
                        Release(
                            **common,
                            namespace=meta["namespace"],
                            chart=chart,
                            version=version,
                            repo=None,
                        )
                    )
    return found


@cache
def helm_template(helm, archive, name, namespace, values_text, sets):
    """(return code, objects, stderr) of ``helm template`` as helm-controller would install."""
    with tempfile.TemporaryDirectory(prefix="helm-") as tmp:
        values = Path(tmp) / "values.yaml"
        values.write_text(values_text)
        command = [helm, "template", name, str(archive), "--namespace", namespace]
        command += ["--kube-version", KUBE_VERSION, "--values", str(values)]
        for key, value in sets:
            # helm-controller: strings with --set-string, numbers and booleans with --set.
            plain = not isinstance(value, str) or value in ("true", "false")
            command += ["--set" if plain else "--set-string", f"{key}={value}"]
        env = dict(os.environ)
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            env[var] = str(Path(tmp) / var.lower())
        proc = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=120, check=False
        )
    objects = [d for d in yaml.safe_load_all(proc.stdout) if d] if proc.returncode == 0 else []
    return proc.returncode, tuple(json.dumps(o, sort_keys=True) for o in objects), proc.stderr


def render(helm, release):
    rc, objects, stderr = helm_template(
        str(helm),
        release.archive,
        release.name,
        release.namespace,
        release.values_text,
        release.sets,
    )
    return rc, [json.loads(o) for o in objects], stderr


# ================================================================================ fixtures


@pytest.fixture(scope="module")
def helm():
    return oracles.require("helm")


@pytest.fixture(scope="module")
def chart_dir():
    if not archives():
        oracles.missing(f"the published chart archives in {CHART_DIR} (SPITIKOS_SHARED_DATA)")
    return CHART_DIR


@pytest.fixture(scope="module")
def plans(run_playbook, tmp_path_factory):
    """{input: plan directory} for every input, planned in parallel."""
    root = tmp_path_factory.mktemp("chart-plans")

    def plan(name):
        inventory = (
            name if name in EXPECTED else write_variant(root / name / "inventory", VARIANTS[name])
        )
        out = root / name.replace("/", "_") / "plan"
        result = run_playbook("playbooks/plan.yml", "-i", inventory, "-e", f"plan_dir={out}")
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"
        return name, out

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(plan, INPUTS))


@pytest.fixture(scope="module")
def rendered(helm, chart_dir, plans):
    """{input: [(release, return code, objects, stderr)]}, every release rendered once."""
    work = [(name, r) for name in INPUTS for r in releases(plans[name]) if r.archive]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda item: render(helm, item[1]), work))
    out = {name: [] for name in INPUTS}
    for (name, release), result in zip(work, results, strict=True):
        out[name].append((release, *result))
    return out


def objects_of(rendered_input, chart):
    return [(r, objs) for r, rc, objs, _output in rendered_input if r.chart == chart and rc == 0]


def of_kind(objects, kind):
    return [o for o in objects if o.get("kind") == kind]


def container_args(objects):
    args = []
    for workload in of_kind(objects, "Deployment") + of_kind(objects, "DaemonSet"):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            args += container.get("args") or []
    return args


def flag(args, name):
    """The value of ``--name=value`` (case-insensitive name), True for a bare flag, else None."""
    for arg in args:
        key, sep, value = arg.partition("=")
        if key.lower() == f"--{name}".lower():
            return value if sep else True
    return None


# ================================================================================ every chart


@pytest.mark.parametrize("name", INPUTS)
def test_every_chart_has_its_published_archive(chart_dir, plans, name):
    missing = [
        f"{r.source}: chart {r.chart} version {r.version} (repo {r.repo})"
        for r in releases(plans[name])
        if r.archive is None
    ]
    assert not missing, f"no archive in {chart_dir} for: {missing}; available: {sorted(archives())}"


@pytest.mark.parametrize("name", INPUTS)
def test_helm_accepts_the_values(rendered, name):
    refused = [
        f"{r.source} on {r.chart} {r.version}:\n{stderr.strip()}"
        for r, rc, _objects, stderr in rendered[name]
        if rc != 0
    ]
    assert not refused, "helm template refused the values:\n" + "\n".join(refused)
    assert rendered[name], "the plan holds no chart"


@pytest.mark.parametrize("name", INPUTS)
def test_values_keys_are_known_to_the_chart(chart_dir, plans, name):
    problems = []
    for release in releases(plans[name]):
        if release.archive is None:
            continue
        chart = json.loads(default_values_json(release.archive))
        for problem in unknown_keys(release.values, chart, release.chart):
            problems.append(f"{release.source} on {release.chart} {release.version}: {problem}")
    assert not problems, "\n".join(problems)


def test_listed_exceptions_are_read_by_the_chart(chart_dir):
    for (chart_name, dotted), (template, reference) in NOT_IN_VALUES_YAML.items():
        found = [path for (name, _v), path in archives().items() if name == chart_name]
        assert found, f"no archive of {chart_name}"
        for archive in found:
            files = chart_files(archive)
            assert reference in files.get(template, ""), f"{archive.name}: {template}"
            tree = json.loads(default_values_json(archive))
            *parents, last = dotted.split(".")
            for part in parents:
                tree = tree.get(part) or {}
            assert last not in tree, f"{archive.name} lists {dotted} now: drop the exception"


# ================================================================================ the judges judge


def test_helm_enforces_the_chart_schema(helm, chart_dir):
    # ports.websecure.tls is what chart 38 moved to ports.websecure.http.tls.
    archive = archives()[("traefik", "40.3.0")]
    values = "ports:\n  websecure:\n    tls:\n      enabled: true\n"
    rc, _objects, stderr = helm_template(str(helm), archive, "traefik", "kube-system", values, ())
    assert rc != 0
    assert "additional properties 'tls' not allowed" in stderr


def test_unknown_keys_are_found(chart_dir):
    archive = archives()[("ingress-nginx", "4.15.1")]
    chart = json.loads(default_values_json(archive))
    ours = {
        "controller": {
            "extraArgs": {"anything": "goes"},
            "service": {"annotations": {"a": "b"}, "tpye": "LoadBalancer"},
            "metrics": {"enabled": True, "port": {"number": 1}},
        },
        "contoller": {},
    }
    assert unknown_keys(ours, chart, "ingress-nginx") == [
        "controller.service.tpye: not in the chart's values.yaml",
        "controller.metrics.port: a map, where the chart's default is 10254",
        "contoller: not in the chart's values.yaml",
    ]


# ================================================================================ intent


def check_load_balancer(objects, cls, pools, where):
    """One LoadBalancer Service; on the class' address and a pool holding it, with MetalLB."""
    services = [s for s in of_kind(objects, "Service") if s["spec"].get("type") == "LoadBalancer"]
    assert len(services) == 1, f"{where}: LoadBalancer Services {services}"
    service = services[0]
    annotations = service["metadata"].get("annotations") or {}
    addresses = [annotations[k] for k in METALLB_IPS if k in annotations]
    addresses += [service["spec"]["loadBalancerIP"]] if "loadBalancerIP" in service["spec"] else []
    pool_names = [annotations[k] for k in METALLB_POOL if k in annotations]
    if cls.address is None:
        assert addresses == [], f"{where}: ServiceLB, yet an address is pinned: {addresses}"
        assert pool_names == [], f"{where}: ServiceLB, yet a MetalLB pool: {pool_names}"
        return
    assert addresses == [cls.address], f"{where}: {service['metadata']}"
    assert len(pool_names) == 1, f"{where}: pool annotations {annotations}"
    assert pool_names[0] in pools, f"{where}: pool {pool_names[0]} not planned ({sorted(pools)})"
    address = ipaddress.ip_address(cls.address)
    assert any(address in network for network in pools[pool_names[0]]), (
        f"{where}: {cls.address} is not in the pool {pool_names[0]}"
    )


def planned_pools(plan_dir):
    """{IPAddressPool name: [networks]} of the plan's homelab-metallb-pools.yaml."""
    pools = {}
    for doc in manifests(plan_dir).get("homelab-metallb-pools.yaml", []):
        if doc["kind"] != "IPAddressPool":
            continue
        networks = []
        for entry in doc["spec"]["addresses"]:
            if "-" in entry:
                first, last = (ipaddress.ip_address(a.strip()) for a in entry.split("-"))
                networks += ipaddress.summarize_address_range(first, last)
            else:
                networks.append(ipaddress.ip_network(entry, strict=False))
        pools[doc["metadata"]["name"]] = networks
    return pools


def by_class(found, where):
    """{IngressClass name: (release, objects)} over releases; a class made twice fails."""
    classes = {}
    for release, objects in found:
        for ingress_class in of_kind(objects, "IngressClass"):
            name = ingress_class["metadata"]["name"]
            assert name not in classes, f"{where}: IngressClass {name} made twice"
            classes[name] = (release, objects, ingress_class)
    return classes


@pytest.mark.parametrize("name", INPUTS)
def test_ingress_classes_services_and_passthrough(plans, rendered, name):
    want = expected(name)
    pools = planned_pools(plans[name])
    assert bool(pools) == (want.load_balancer == "metallb")
    if want.controller == "ingress-nginx":
        assert objects_of(rendered[name], "traefik") == []
        classes = by_class(objects_of(rendered[name], "ingress-nginx"), name)
        assert sorted(classes) == sorted(want.classes)
        controller_values = set()
        for class_name, cls in want.classes.items():
            release, objects, ingress_class = classes[class_name]
            where = f"{name}: {release.source}"
            args = container_args(objects)
            value = ingress_class["spec"]["controller"]
            controller_values.add(value)
            assert flag(args, "controller-class") == value, where
            assert flag(args, "ingress-class") == class_name, where
            passthrough = flag(args, "enable-ssl-passthrough")
            assert (passthrough in (True, "true")) == cls.passthrough, f"{where}: {args}"
            check_load_balancer(objects, cls, pools, where)
        assert len(controller_values) == len(want.classes), "controller values must differ"
        return
    # Traefik: k3s' own (the HelmChartConfig) and, for a second class, a HelmChart; the
    # HelmChartConfig on each chart k3s may bundle.
    assert objects_of(rendered[name], "ingress-nginx") == []
    traefiks = objects_of(rendered[name], "traefik")
    configs = [(r, o) for r, o in traefiks if r.kind == "HelmChartConfig"]
    charts = [(r, o) for r, o in traefiks if r.kind == "HelmChart"]
    assert configs, f"{name}: no HelmChartConfig for k3s' Traefik"
    for config in configs:
        bundled = f"{config[0].chart} {config[0].version}"
        classes = by_class([config, *charts], f"{name} ({bundled})")
        assert sorted(classes) == sorted(want.classes), bundled
        for class_name, cls in want.classes.items():
            release, objects, ingress_class = classes[class_name]
            where = f"{name}: {release.source} on {release.chart} {release.version}"
            assert ingress_class["spec"]["controller"] == "traefik.io/ingress-controller", where
            args = container_args(objects)
            # The catalogue's IngressRoutes carry kubernetes.io/ingress.class: <class>; with no
            # class of its own Traefik takes only those without one or with "traefik".
            crd_class = flag(args, "providers.kubernetescrd.ingressClass")
            assert crd_class == class_name or (crd_class is None and class_name == "traefik"), (
                f"{where}: IngressRoutes of class {class_name} are not taken: {args}"
            )
            if len(want.classes) > 1:
                assert flag(args, "providers.kubernetesingress.ingressClass") == class_name, where
            assert flag(args, "entryPoints.websecure.http.tls") == "true", f"{where}: {args}"
            check_load_balancer(objects, cls, pools, where)


@pytest.mark.parametrize("name", INPUTS)
def test_oauth2_proxy_reads_the_secret_the_role_writes(plans, rendered, name):
    want = expected(name).oauth2
    found = objects_of(rendered[name], "oauth2-proxy")
    docs = manifests(plans[name])
    if want is None:
        assert found == []
        assert "homelab-oauth2-proxy-credentials.yaml" not in docs
        return
    namespace, service_name, port = want
    (secret,) = docs["homelab-oauth2-proxy-credentials.yaml"]
    assert (secret["kind"], secret["metadata"]["namespace"]) == ("Secret", namespace)
    ((release, objects),) = found
    (deployment,) = of_kind(objects, "Deployment")
    assert deployment["metadata"]["namespace"] == namespace
    refs = [
        env["valueFrom"]["secretKeyRef"]
        for container in deployment["spec"]["template"]["spec"]["containers"]
        for env in container.get("env") or []
        if "secretKeyRef" in (env.get("valueFrom") or {})
    ]
    assert refs, f"{release.source}: the Deployment reads no Secret"
    for ref in refs:
        assert ref["name"] == secret["metadata"]["name"], ref
        assert ref["key"] in secret["stringData"], ref
    assert {ref["key"] for ref in refs} >= {"client-id", "client-secret", "cookie-secret"}
    # Forward authentication asks http://<service>.<namespace>.svc.cluster.local:<port>.
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}
    assert service_name in services, sorted(services)
    service = services[service_name]
    assert service["metadata"]["namespace"] == namespace
    assert port in [p["port"] for p in service["spec"]["ports"]]


@pytest.mark.parametrize("name", INPUTS)
def test_cluster_scoped_objects_do_not_collide(rendered, name):
    # Two controllers of one kind (two ingress classes) must not overwrite each other's
    # cluster-wide objects. k3s' Traefik counts once per bundled chart.
    groups = {}
    for release, rc, objects, _output in rendered[name]:
        if rc != 0:
            continue
        keys = [f"{release.chart} {release.version}"] if release.kind == "HelmChartConfig" else []
        for key in keys or [f"{c} {v}" for c, v in BUNDLED[("kube-system", "traefik")]]:
            groups.setdefault(key, []).append((release, objects))
    for group in groups.values():
        seen = {}
        for release, objects in group:
            for obj in objects:
                if obj["kind"] in CLUSTER_SCOPED:
                    key = (obj["kind"], obj["metadata"]["name"])
                    assert key not in seen, f"{key}: {seen.get(key)} and {release.source}"
                    seen[key] = release.source


@pytest.mark.parametrize("name", INPUTS)
def test_charts_make_what_the_readiness_step_waits_for(rendered, name):
    want = expected(name)
    charts = {r.chart: (r, objs) for r, rc, objs, _output in rendered[name] if rc == 0}
    assert ("metallb" in charts) == (want.load_balancer == "metallb")
    for chart, kinds in READINESS.items():
        if chart not in charts:
            continue
        release, objects = charts[chart]
        for kind, names in kinds.items():
            made = {o["metadata"]["name"] for o in of_kind(objects, kind)}
            assert names <= made, f"{release.source}: {kind} {sorted(names - made)} not made"
            for obj in of_kind(objects, kind):
                if kind != "CustomResourceDefinition" and obj["metadata"]["name"] in names:
                    assert obj["metadata"]["namespace"] == release.namespace
    # crds.keep: uninstalling cert-manager must not delete the certificates with their CRDs.
    release, objects = charts["cert-manager"]
    for crd in of_kind(objects, "CustomResourceDefinition"):
        annotations = crd["metadata"].get("annotations") or {}
        assert annotations.get("helm.sh/resource-policy") == "keep", crd["metadata"]["name"]
