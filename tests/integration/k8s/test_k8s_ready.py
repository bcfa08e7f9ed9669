"""spitikos.homelab.k8s_ready over real HTTP against the Kubernetes API emulator.

The emulator's objects change state as they are read, the way a cluster's do while k3s installs
the add-ons; the module is run through ansible-playbook, in normal and check mode.
"""

from __future__ import annotations

import pytest

CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ipaddresspools.metallb.io"
CHART = "/apis/helm.cattle.io/v1/namespaces/kube-system/helmcharts/metallb"
JOB = "/apis/batch/v1/namespaces/kube-system/jobs/helm-install-metallb"
DEPLOYMENT = "/apis/apps/v1/namespaces/metallb-system/deployments/metallb-controller"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/metallb-system/endpointslices"
CERT = "/apis/cert-manager.io/v1/namespaces/web/certificates/www"
EVENTS = "/api/v1/namespaces/metallb-system/events"

METALLB = {
    "crds": ["ipaddresspools.metallb.io"],
    "helm_charts": [{"namespace": "kube-system", "name": "metallb"}],
    "deployments": [{"namespace": "metallb-system", "name": "metallb-controller"}],
    "endpoints": [{"namespace": "metallb-system", "name": "metallb-webhook-service"}],
}


def crd(established):
    conditions = [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"}]
    if established is not None:
        conditions.append(
            {
                "type": "Established",
                "status": "True" if established else "False",
                "reason": "Installing" if not established else "InitialNamesAccepted",
            }
        )
    return {
        "metadata": {"name": "ipaddresspools.metallb.io"},
        "status": {"conditions": conditions},
    }


def chart(job_name=None, failed=None):
    status = {}
    if job_name:
        status["jobName"] = job_name
    if failed:
        status["conditions"] = [
            {"type": "Failed", "status": "True", "reason": "Error", "message": failed}
        ]
    return {"metadata": {"name": "metallb", "namespace": "kube-system"}, "status": status}


def job(succeeded=0, failed=False):
    status = {"succeeded": succeeded}
    if failed:
        status["conditions"] = [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"}
        ]  # fmt: skip
    return {"metadata": {"name": "helm-install-metallb"}, "status": status}


def deployment(available, replicas=1, generation=1, observed=1):
    return {
        "metadata": {"name": "metallb-controller", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": available,
        },
    }


def endpoint_slice(ready):
    return {
        "metadata": {
            "name": "metallb-webhook-service-abcde",
            "labels": {"kubernetes.io/service-name": "metallb-webhook-service"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.42.0.7"], "conditions": {"ready": ready}}],
    }


def event(name, kind, reason, message, kind_of_event="Warning"):
    return {
        "metadata": {"name": f"{name}.1"},
        "type": kind_of_event,
        "reason": reason,
        "message": message,
        "count": 3,
        "lastTimestamp": "2026-11-01T10:00:00Z",
        "involvedObject": {"name": name, "kind": kind},
    }


def install_metallb(emu, slow=3):
    """MetalLB installing: each object becomes ready after a few reads."""
    emu.groups.append("helm.cattle.io/v1")
    emu.put(CRD, None, crd(None), *[crd(False)] * slow, crd(True))
    emu.put(CHART, chart(), chart("helm-install-metallb"))
    emu.put(JOB, job(0), job(0), job(1))
    emu.put(DEPLOYMENT, deployment(0), deployment(0), deployment(1))
    emu.put(f"{SLICES}/metallb-webhook-service-abcde", None, None, endpoint_slice(False),
            endpoint_slice(True))  # fmt: skip


def test_waits_until_everything_is_ready(emulator, run_module):
    install_metallb(emulator)
    rc, result, output = run_module({**METALLB, "timeout": 30})
    assert rc == 0, output
    assert result["changed"] is False
    assert result["ready"] == {
        "crd ipaddresspools.metallb.io": "Established",
        "helmchart kube-system/metallb": "install job complete",
        "deployment metallb-system/metallb-controller": "1/1 replicas available",
        "endpoints metallb-system/metallb-webhook-service": "1 ready endpoint(s)",
    }
    # The CRD took five reads to become Established: the module polled until it did.
    assert result["polls"] >= 5
    assert emulator.reads(CRD) == 6
    assert emulator.writes == []
    # One discovery request per run.
    assert [p for m, p in emulator.requests if p == "/apis"] == ["/apis"]


def test_check_mode_reads_only(emulator, run_module):
    install_metallb(emulator, slow=1)
    rc, result, output = run_module({**METALLB, "timeout": 30}, check=True)
    assert rc == 0, output
    assert result["changed"] is False
    assert len(result["ready"]) == 4
    assert emulator.writes == []


def test_timeout_names_what_is_not_ready_and_why(emulator, run_module):
    install_metallb(emulator)
    emulator.put(DEPLOYMENT, deployment(0, replicas=2))
    emulator.put(f"{SLICES}/metallb-webhook-service-abcde", endpoint_slice(False))
    emulator.put(
        f"{EVENTS}/controller.1",
        event("metallb-controller", "Deployment", "FailedCreate",
              "pods \"metallb-controller-\" is forbidden: exceeded quota"),
    )  # fmt: skip
    rc, result, _output = run_module({**METALLB, "timeout": 2})
    assert rc != 0
    msg = result["msg"]
    assert msg.startswith("not ready after ")
    assert "deployment metallb-system/metallb-controller: 0/2 replicas available" in msg
    assert "endpoints metallb-system/metallb-webhook-service: 1 endpoint(s), none ready" in msg
    # Ready objects are not blamed.
    assert "ipaddresspools" not in msg
    detail = result["not_ready"]["deployment metallb-system/metallb-controller"]
    assert detail["events"] == [
        'Warning FailedCreate: pods "metallb-controller-" is forbidden: exceeded quota (x3)'
    ]
    assert emulator.writes == []


def test_a_failed_chart_install_shows_its_job_log(emulator, run_module):
    emulator.groups.append("helm.cattle.io/v1")
    emulator.put(CHART, chart("helm-install-metallb"))
    emulator.put(JOB, job(0, failed=True))
    emulator.put(
        "/api/v1/namespaces/kube-system/pods/helm-install-metallb-xyz",
        {"metadata": {"name": "helm-install-metallb-xyz",
                      "labels": {"job-name": "helm-install-metallb"}}},
    )  # fmt: skip
    emulator.put_text(
        "/api/v1/namespaces/kube-system/pods/helm-install-metallb-xyz/log",
        'Installing helm chart\nError: chart "metallb" version "9.9.9" not found\n',
    )
    rc, result, _output = run_module({"helm_charts": METALLB["helm_charts"], "timeout": 1})
    assert rc != 0
    assert "helmchart kube-system/metallb: install job failed (Failed=True" in result["msg"]
    detail = result["not_ready"]["helmchart kube-system/metallb"]
    assert detail["job_log"][-1] == 'Error: chart "metallb" version "9.9.9" not found'


def test_crd_never_established(emulator, run_module):
    emulator.put(CRD, crd(False))
    rc, result, _output = run_module({"crds": ["ipaddresspools.metallb.io"], "timeout": 1})
    assert rc != 0
    assert (
        "crd ipaddresspools.metallb.io: not Established (NamesAccepted=True (NoConflicts), "
        "Established=False (Installing))" in result["msg"]
    )


def test_certificates_ready(emulator, run_module):
    emulator.groups.append("cert-manager.io/v1")
    not_ready = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Issuing", "message": "in progress"}
            ]
        }
    }
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    emulator.put(CERT, None, not_ready, ready)  # fmt: skip
    rc, result, output = run_module(
        {"certificates": [{"namespace": "web", "name": "www"}], "timeout": 30}
    )
    assert rc == 0, output
    assert result["ready"] == {"certificate web/www": "Ready"}


def test_helm_charts_need_k3s(emulator, run_module):
    rc, result, _output = run_module({"helm_charts": METALLB["helm_charts"], "timeout": 30})
    assert rc != 0
    assert "does not serve helm.cattle.io/v1" in result["msg"]
    assert emulator.reads(CHART) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"timeout": -1}, "timeout must be 0 or more"),
        ({"crds": "x", "deployments": [{"name": "a"}]}, "namespace"),
        ({"unknown": 1}, "Unsupported parameters"),
    ],
)
def test_bad_input(emulator, run_module, args, message):
    rc, result, _output = run_module(args)
    assert rc != 0
    assert message in result["msg"]
    assert emulator.requests == []


def test_wrong_token_is_reported(emulator, run_module, tmp_path):
    bad = emulator.kubeconfig(tmp_path / "bad", token="not-the-token")
    rc, result, _output = run_module({"crds": ["x.example.com"]}, kubeconfig_path=bad)
    assert rc != 0
    assert "HTTP 401" in result["msg"]


def test_missing_kubeconfig(run_module, tmp_path):
    rc, result, _output = run_module({"crds": []}, kubeconfig_path=tmp_path / "nope")
    assert rc != 0
    assert "cannot load kubeconfig" in result["msg"]
