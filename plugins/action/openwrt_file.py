# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put a file on a router that has no Python: upload, validate there, then swap atomically.

Runs on the controller. The content travels through the shell (``printf`` with octal escapes),
so neither sftp nor scp is needed on the router.
"""

from __future__ import annotations

import hashlib
import posixpath
import secrets
import shlex
import time

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

from ansible_collections.spitikos.homelab.plugins.plugin_utils import _router_shell as router_shell

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "content": {"type": "str"},
    "src": {"type": "path"},
    "validate": {"type": "str"},
    "backup": {"type": "bool", "default": False},
    "mode": {"type": "raw"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
}
MUTUALLY_EXCLUSIVE = [["content", "src"]]
REQUIRED_ONE_OF = [["content", "src"]]
# Bytes of the file per command. Escaped, a chunk may grow fourfold; every command must stay
# below what an SSH server runs: dropbear, OpenWrt's server, refuses commands longer than 9000
# bytes (MAX_CMD_LEN in its sysoptions.h).
CHUNK = 2048
MAX_COMMAND = 9000
DEFAULT_NEW_MODE = "0644"
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("%"), ord("\\")}


class _Failure(Exception):
    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


def printf_format(data):
    """``data`` (bytes) as a printf format that prints exactly those bytes."""
    out = []
    for byte in data:
        if byte in _PLAIN:
            out.append(chr(byte))
        elif byte == ord("%"):
            out.append("%%")
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def write_commands(data, path):
    """Shell commands, run one after the other, that write ``data`` to ``path`` (created with
    mode 0600); each shorter than MAX_COMMAND bytes."""
    target = shlex.quote(path)
    commands = []
    for start in range(0, max(len(data), 1), CHUNK):
        chunk = printf_format(data[start : start + CHUNK])
        if start == 0:
            commands.append(f"umask 077 && printf {shlex.quote(chunk)} > {target}")
        else:
            commands.append(f"printf {shlex.quote(chunk)} >> {target}")
    return commands


def parse_mode(text):
    """``ls -l``'s permission string (``-rw-r--r--``) as an octal string (``0644``)."""
    perms = text[1:10]
    if len(perms) != 9:
        raise ValueError(f"unexpected permissions {text!r}")
    value = 0
    for index, char in enumerate(perms):
        who, position = divmod(index, 3)
        shift = 3 * (2 - who)
        if char == "-":
            continue
        if char == "rwx"[position]:
            value |= (4 >> position) << shift
        elif position == 2 and char in "sStT":
            value |= (0o4000, 0o2000, 0o1000)[who]
            if char in "st":
                value |= 1 << shift
        else:
            raise ValueError(f"unexpected permissions {text!r}")
    return f"{value:04o}"


def normalize_mode(mode):
    """A mode given as ``0644``, ``644`` or the integer 420 as a four-digit octal string."""
    if mode is None:
        return None
    if isinstance(mode, int) and not isinstance(mode, bool):
        return f"{mode:04o}"
    text = str(mode).strip()
    if not text or any(c not in "01234567" for c in text) or len(text) > 4:
        raise _Failure(f"mode {mode!r} is not an octal mode such as '0644'")
    return f"{int(text, 8):04o}"


def parse_probe(output):
    """The probe's answer: None (absent), or {mode, owner, group, checksum}."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or lines[0] == "absent":
        return None
    if lines[0] == "directory":
        raise _Failure("dest is a directory")
    if len(lines) < 2:
        raise _Failure(f"cannot read the file's state: {output!r}")
    fields = lines[0].split()
    return {
        "mode": parse_mode(fields[0]),
        "owner": fields[2],
        "group": fields[3],
        "checksum": lines[1].split()[0],
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=MUTUALLY_EXCLUSIVE,
            required_one_of=REQUIRED_ONE_OF,
        )[1]
        try:
            data = self._content(args)
            result.update(self._reconcile(args, data))
        except _Failure as exc:
            result["failed"] = True
            result["msg"] = str(exc)
            result.update(exc.details)
        except AnsibleError as exc:
            result["failed"] = True
            result["msg"] = to_text(exc)
        return result

    def _content(self, args):
        if args["content"] is not None:
            return to_bytes(args["content"], errors="surrogate_or_strict")
        source = self._find_needle("files", args["src"])
        with open(to_bytes(source, errors="surrogate_or_strict"), "rb") as handle:
            return handle.read()

    def _sh(self, command):
        return router_shell.run(self, command)

    def _probe(self, dest):
        quoted = shlex.quote(dest)
        rc, out, err = self._sh(
            f"if [ -d {quoted} ]; then echo directory; elif [ -e {quoted} ]; then "
            f"ls -ld {quoted} && sha256sum {quoted}; else echo absent; fi"
        )
        if rc != 0:
            raise _Failure(f"cannot read {dest} on the host (rc {rc})", stdout=out, stderr=err)
        try:
            return parse_probe(out)
        except ValueError as exc:
            raise _Failure(f"cannot read {dest} on the host: {exc}") from exc

    def _reconcile(self, args, data):
        dest = args["dest"]
        if args["validate"] is not None and "%s" not in args["validate"]:
            raise _Failure("validate must contain %s (the path of the file to check)")
        mode = normalize_mode(args["mode"])
        checksum = hashlib.sha256(data).hexdigest()
        current = self._probe(dest)
        content_changes = current is None or current["checksum"] != checksum
        if mode is None:
            mode = current["mode"] if current else DEFAULT_NEW_MODE
        owner = args["owner"] or (current["owner"] if current else None)
        group = args["group"] or (current["group"] if current else None)
        attribute_changes = current is not None and (
            current["mode"] != mode or current["owner"] != owner or current["group"] != group
        )
        out = {
            "changed": content_changes or attribute_changes,
            "dest": dest,
            "checksum": checksum,
            "mode": mode,
        }
        if self._task.diff and out["changed"]:
            out["diff"] = self._diff(dest, current, data, mode, content_changes)
        if not out["changed"] or self._task.check_mode:
            return out
        if content_changes:
            backup = self._replace(dest, data, args, mode, owner, group, current)
            if backup:
                out["backup_file"] = backup
        else:
            self._set_attributes(dest, mode, owner if args["owner"] else None, group)
        return out

    def _diff(self, dest, current, data, mode, content_changes):
        before = ""
        if current is not None and content_changes:
            rc, text, err = self._sh(f"cat {shlex.quote(dest)}")
            if rc != 0:
                raise _Failure(f"cannot read {dest} for the diff", stderr=err)
            before = text
        elif current is not None:
            before = to_text(data, errors="surrogate_or_replace")
        after = to_text(data, errors="surrogate_or_replace")
        return {
            "before_header": f"{dest} (mode {current['mode'] if current else 'absent'})",
            "after_header": f"{dest} (mode {mode})",
            "before": before,
            "after": after,
        }

    def _set_attributes(self, path, mode, owner, group):
        quoted = shlex.quote(path)
        commands = [f"chmod {mode} {quoted}"]
        if owner or group:
            who = shlex.quote(f"{owner or ''}{':' + group if group else ''}")
            commands.append(f"chown {who} {quoted}")
        rc, out, err = self._sh(" && ".join(commands))
        if rc != 0:
            raise _Failure(f"cannot set mode or owner of {path}", stdout=out, stderr=err)

    def _replace(self, dest, data, args, mode, owner, group, current):
        directory, name = posixpath.split(dest)
        temp = posixpath.join(directory or ".", f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            for command in write_commands(data, temp):
                rc, out, err = self._sh(command)
                if rc != 0:
                    raise _Failure(f"cannot write {temp} on the host", stdout=out, stderr=err)
            self._set_attributes(temp, mode, owner, group)
            if args["validate"] is not None:
                command = args["validate"].replace("%s", shlex.quote(temp))
                rc, out, err = self._sh(command)
                if rc != 0:
                    raise _Failure(
                        f"validation of the new {dest} failed; the file was left as it was. "
                        f"Command: {command} (rc {rc}). Output: {(err or out).strip()}",
                        validate_rc=rc,
                        validate_stdout=out,
                        validate_stderr=err,
                    )
            backup = None
            if args["backup"] and current is not None:
                backup = f"{dest}.{time.strftime('%Y-%m-%d@%H:%M:%S')}~"
                rc, out, err = self._sh(f"cp -p {shlex.quote(dest)} {shlex.quote(backup)}")
                if rc != 0:
                    raise _Failure(f"cannot back up {dest}", stdout=out, stderr=err)
            rc, out, err = self._sh(f"mv -f {shlex.quote(temp)} {shlex.quote(dest)}")
            if rc != 0:
                raise _Failure(f"cannot move the new file to {dest}", stdout=out, stderr=err)
            temp = None
            return backup
        finally:
            if temp is not None:
                self._sh(f"rm -f {shlex.quote(temp)}")
