"""What a user of the common role relies on, checked inside the converged container."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = [
    f"podman://{name}"
    for name in AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")
]


def test_base_and_extra_packages_are_installed(host):
    for name in ("ca-certificates", "curl", "gnupg", "iproute2", "tzdata", "less"):
        assert host.package(name).is_installed, name


def test_clock_reports_the_configured_zone(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Athens"
    assert host.file("/etc/timezone").content_string == "Europe/Athens\n"
    # Athens is UTC+2 in winter and UTC+3 in summer; UTC would print +0000.
    assert host.check_output("date +%z") in ("+0200", "+0300")


def test_journald_applies_the_drop_in(host):
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "/etc/systemd/journald.conf.d/50-homelab.conf" in config
    assert "Storage=persistent" in config
    assert "SystemMaxUse=64M" in config


def test_journald_was_restarted_and_writes_to_disk(host):
    # Debian's default (Storage=auto, no /var/log/journal) keeps the journal in /run. Only a
    # journald restarted with Storage=persistent creates the persistent journal directory.
    machine_id = host.file("/etc/machine-id").content_string.strip()
    assert host.file(f"/var/log/journal/{machine_id}").is_directory
    header = host.check_output("journalctl --header --no-pager")
    assert f"/var/log/journal/{machine_id}/" in header
    assert host.service("systemd-journald").is_running
