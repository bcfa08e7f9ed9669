"""The kernel command line a Raspberry Pi boots k3s with, on a Bookworm /boot layout."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = [
    f"podman://{name}"
    for name in AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")
]
ORIGINAL = (
    "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 "
    "fsck.repair=yes rootwait"
)


def test_bookworm_cmdline_gets_the_cgroup_flags_once(host):
    f = host.file("/boot/firmware/cmdline.txt")
    assert f.content_string == ORIGINAL + " cgroup_memory=1 cgroup_enable=memory\n"
    # The firmware reads one line; the file keeps its mode.
    assert f.mode == 0o755


def test_the_older_cmdline_is_left_alone(host):
    assert host.file("/boot/cmdline.txt").content_string == ORIGINAL + "\n"


def test_a_backup_of_the_old_command_line_is_kept(host):
    backups = host.check_output("ls /boot/firmware").split()
    backups = [name for name in backups if name.startswith("cmdline.txt.") and name.endswith("~")]
    assert len(backups) == 1
    assert host.file(f"/boot/firmware/{backups[0]}").content_string == ORIGINAL + "\n"
