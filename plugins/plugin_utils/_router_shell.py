# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One shell command on a router without Python, for the openwrt_* action plugins."""

from __future__ import annotations


def run(action, command, stdin=None):
    """Run ``command`` through ``action``'s connection, with ``stdin`` (text) as its standard
    input if given; returns (rc, stdout, stderr).

    The command may escalate only when the task does (a Debian router with become). Over ssh, a
    command that may escalate runs in a terminal (``ssh -tt``): its stderr then comes back inside
    stdout, with CRLF line ends, and stderr holds ssh's own "Shared connection to ... closed."
    instead, so a command's errors could not be told from its output.
    """
    res = action._low_level_execute_command(
        command,
        sudoable=action._connection.become is not None,
        in_data=None if stdin is None else stdin.encode("utf-8"),
    )
    return res.get("rc", 1), res.get("stdout", ""), res.get("stderr", "")
