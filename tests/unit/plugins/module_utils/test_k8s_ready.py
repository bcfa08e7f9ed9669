"""The readiness judgements of _k8s_ready, table-driven."""

from __future__ import annotations

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils._k8s_ready import (
    certificate_state,
    crd_state,
    deployment_state,
    endpoints_state,
    format_events,
    helm_chart_state,
    job_state,
)


def cond(kind, status, reason=None, message=None):
    data = {"type": kind, "status": status}
    if reason:
        data["reason"] = reason
    if message:
        data["message"] = message
    return data


def with_conditions(*conditions, **status):
    return {"status": {"conditions": list(conditions), **status}}


@pytest.mark.parametrize(
    ("crd", "expected"),
    [
        (None, (False, "not found (the chart that brings it is not installed yet)")),
        ({}, (False, "not Established (no conditions yet)")),
        (with_conditions(cond("Established", "True")), (True, "Established")),
        (
            with_conditions(cond("NamesAccepted", "False", "Conflict", "plural in use")),
            (False, "not Established (NamesAccepted=False (Conflict: plural in use))"),
        ),
    ],
)
def test_crd_state(crd, expected):
    assert crd_state(crd) == expected


def slice_of(*ready):
    return {"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": r}} for r in ready]}


@pytest.mark.parametrize(
    ("slices", "expected"),
    [
        ([], (False, "no EndpointSlice (the Service or its pods do not exist yet)")),
        ([{"endpoints": []}],
         (False, "no endpoints (no pod matches the Service, or none is running)")),
        ([slice_of(False)], (False, "1 endpoint(s), none ready (pods not ready)")),
        ([slice_of(False, True)], (True, "1 ready endpoint(s)")),
        # A missing ready condition means ready (EndpointSlice API semantics).
        ([{"endpoints": [{"addresses": ["10.0.0.1"]}]}], (True, "1 ready endpoint(s)")),
    ],
)  # fmt: skip
def test_endpoints_state(slices, expected):
    assert endpoints_state(slices) == expected


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (None, (False, "its install job does not exist yet")),
        ({"status": {}}, (False, "install job running")),
        ({"status": {"succeeded": 1}}, (True, "install job complete")),
        (with_conditions(cond("Complete", "True")), (True, "install job complete")),
        ({"status": {"failed": 2}}, (False, "install job running, 2 failed attempt(s)")),
        (
            with_conditions(cond("Failed", "True", "BackoffLimitExceeded")),
            (False, "install job failed (Failed=True (BackoffLimitExceeded))"),
        ),
    ],
)
def test_job_state(job, expected):
    assert job_state(job) == expected


def test_helm_chart_state():
    assert helm_chart_state(None, None)[0] is False
    assert helm_chart_state({"status": {}}, None) == (
        False,
        "helm-controller has not started an install job yet",
    )
    chart = {"status": {"jobName": "helm-install-x"}}
    assert helm_chart_state(chart, {"status": {"succeeded": 1}}) == (True, "install job complete")
    failed = with_conditions(cond("Failed", "True", "Error", "boom"), jobName="helm-install-x")
    assert helm_chart_state(failed, {"status": {"succeeded": 1}}) == (
        False,
        "HelmChart failed (Failed=True (Error: boom))",
    )


def deployment(replicas=1, updated=1, available=1, total=None, generation=1, observed=1):
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "replicas": replicas if total is None else total,
        },
    }


@pytest.mark.parametrize(
    ("dep", "expected"),
    [
        (None, (False, "not found")),
        (deployment(), (True, "1/1 replicas available")),
        (deployment(generation=2), (False, "the controller has not seen the latest spec yet")),
        (deployment(replicas=3, updated=1), (False, "1/3 replicas updated")),
        (deployment(replicas=2, updated=2, total=3), (False, "1 old replica(s) still terminating")),
        (deployment(replicas=2, updated=2, available=1), (False, "1/2 replicas available")),
    ],
)
def test_deployment_state(dep, expected):
    assert deployment_state(dep) == expected


def test_stuck_deployment():
    dep = deployment(available=0)
    dep["status"]["conditions"] = [
        cond("Progressing", "False", "ProgressDeadlineExceeded", "took too long")
    ]
    assert deployment_state(dep) == (
        False,
        "rollout stuck (Progressing=False (ProgressDeadlineExceeded: took too long))",
    )


@pytest.mark.parametrize(
    ("cert", "expected"),
    [
        (None, (False, "not found")),
        ({}, (False, "not Ready (no condition yet)")),
        (with_conditions(cond("Ready", "True")), (True, "Ready")),
        (
            with_conditions(cond("Ready", "False", "Pending", "waiting for DNS-01")),
            (False, "not Ready (Ready=False (Pending: waiting for DNS-01))"),
        ),
    ],
)
def test_certificate_state(cert, expected):
    assert certificate_state(cert) == expected


def test_events_newest_first_warnings_first():
    events = [
        {"type": "Normal", "reason": "A", "message": "old",
         "lastTimestamp": "2026-01-01T00:00:00Z"},
        {"type": "Normal", "reason": "B", "message": "new",
         "lastTimestamp": "2026-01-02T00:00:00Z"},
        {"type": "Warning", "reason": "C", "message": "bad ", "count": 4,
         "lastTimestamp": "2026-01-01T00:00:00Z"},
    ]  # fmt: skip
    assert format_events(events) == ["Warning C: bad (x4)", "Normal B: new", "Normal A: old"]
    assert format_events(events, limit=1) == ["Warning C: bad (x4)"]
    assert format_events(None) == []
