#!/usr/bin/env python3
"""A stand-in for the Cloudflare edge that records how a tunnel connector dials it.

cloudflared's hidden ``--edge HOST:PORT`` and ``--cacert FILE`` flags make the connector dial a
listener of our own instead of the edge it discovers through DNS. This script is that listener:

- TCP on ``--host``:``--port`` with TLS, serving a certificate for ``cftunnel.com`` and
  ``*.cftunnel.com`` signed by a CA of its own, written to ``--ca-out`` for ``--cacert``;
- UDP on the same address and port, where a QUIC connector would send its Initial packets.

Each TLS connection is logged as one JSON line when its ClientHello has been read and the
handshake has run (``event: "open"``), then once more when the peer closes it (``event:
"close"``, with the bytes received after the handshake). The ClientHello is read from the wire
(``sni`` and the offered ``alpn`` list), so a connection is recorded even when the peer refuses
our certificate. UDP datagrams are logged (``event: "datagram"``) and never answered, so a QUIC
handshake can never succeed against this listener.

TLS connections are held open. Over the HTTP/2 transport the edge is the HTTP/2 client and the
connector the server, and a Go HTTP/2 server drops a connection whose client sends no preface
within 10 s; so, unless ``--no-h2-preface``, the edge sends the client preface, an empty
SETTINGS frame and the acknowledgement of the connector's SETTINGS, and then nothing. The
connector then waits, connected but unregistered, for a control stream that never comes.

What it cannot prove: registration with the edge (it speaks no tunnel protocol), that a QUIC
handshake would succeed, or anything about the real edge's behaviour.

Standalone, standard library only (Python 3.9+, so Debian 12's python3 runs it in a system
container); certificates are made with the ``openssl`` program.

Usage::

    fake_edge.py --port 7844 --ca-out /tmp/edge-ca.pem --log /tmp/edge.jsonl
    fake_edge.py --port 7844 --ca-out ca.pem --log edge.jsonl --cert-dir /var/lib/fake-edge
    fake_edge.py --init --ca-out ca.pem --cert-dir /var/lib/fake-edge   # certificates only
    fake_edge.py --port 7844 --cert server.pem --key server.key --log edge.jsonl

It prints ``ready HOST PORT`` on standard output once both listeners are bound, and runs until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

NAMES = ("cftunnel.com", "*.cftunnel.com")
# An HTTP/2 client's connection preface, an empty SETTINGS frame, and a SETTINGS acknowledgement.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = bytes.fromhex("000000040000000000")
H2_SETTINGS_ACK = bytes.fromhex("000000040100000000")
_LOCK = threading.Lock()


# ------------------------------------------------------------------------------ certificates


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certificates(directory):
    """A CA and a server certificate for NAMES in DIRECTORY, kept when already there.

    Returns ``(ca, cert, key)`` paths. Reusing them means a restarted edge is still trusted by a
    connector started with the earlier CA.
    """
    os.makedirs(directory, exist_ok=True)
    ca_key = os.path.join(directory, "ca.key")
    ca = os.path.join(directory, "ca.pem")
    key = os.path.join(directory, "server.key")
    cert = os.path.join(directory, "server.pem")
    if all(os.path.exists(p) for p in (ca, key, cert)):
        return ca, cert, key
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "3650",
        "-subj", "/CN=fake edge CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    csr = os.path.join(directory, "server.csr")
    _openssl("req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=cftunnel.com")
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w", encoding="utf-8") as handle:
        handle.write(
            "subjectAltName=" + ",".join("DNS:" + name for name in NAMES) + "\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
        )
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "3650", "-extfile", ext,
    )  # fmt: skip
    return ca, cert, key


# ------------------------------------------------------------------------------ ClientHello


def _recv_peek(conn, size, deadline):
    """Up to SIZE bytes at the head of CONN's stream, without consuming them."""
    data = b""
    while len(data) < size and time.monotonic() < deadline:
        data = conn.recv(size, socket.MSG_PEEK)
        if not data:
            break
        if len(data) < size:
            time.sleep(0.01)
    return data


def read_client_hello(conn, timeout=5.0):
    """SNI and offered ALPN protocols of the TLS ClientHello waiting on CONN (not consumed).

    Returns ``{"tls": bool, "sni": str|None, "alpn": [str]}``; ``tls`` is False when the first
    bytes are not a TLS handshake record.
    """
    deadline = time.monotonic() + timeout
    head = _recv_peek(conn, 5, deadline)
    if len(head) < 5 or head[0] != 0x16:
        return {"tls": False, "sni": None, "alpn": [], "first_bytes": head.hex()}
    length = struct.unpack("!H", head[3:5])[0]
    record = _recv_peek(conn, 5 + length, deadline)[5:]
    found = {"tls": True, "sni": None, "alpn": []}
    try:
        if record[0] != 0x01:  # not a ClientHello
            return found
        pos = 4 + 2 + 32  # handshake header, client version, random
        pos += 1 + record[pos]  # session id
        pos += 2 + struct.unpack("!H", record[pos : pos + 2])[0]  # cipher suites
        pos += 1 + record[pos]  # compression methods
        end = pos + 2 + struct.unpack("!H", record[pos : pos + 2])[0]
        pos += 2
        while pos + 4 <= end:
            kind, size = struct.unpack("!HH", record[pos : pos + 4])
            body = record[pos + 4 : pos + 4 + size]
            pos += 4 + size
            if kind == 0 and len(body) > 5:  # server_name: list length, type, name length, name
                name_len = struct.unpack("!H", body[3:5])[0]
                found["sni"] = body[5 : 5 + name_len].decode("ascii", "replace")
            elif kind == 16:  # application_layer_protocol_negotiation
                at = 2
                while at < len(body):
                    n = body[at]
                    found["alpn"].append(body[at + 1 : at + 1 + n].decode("ascii", "replace"))
                    at += 1 + n
    except (IndexError, struct.error):
        found["truncated"] = True
    return found


# ------------------------------------------------------------------------------ listeners


class Log:
    def __init__(self, path):
        self.path = path

    def write(self, **entry):
        entry["time"] = round(time.time(), 3)
        line = json.dumps(entry, sort_keys=True)
        with _LOCK:
            if self.path in (None, "-"):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
                return
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")


def _serve_tls(conn, peer, context, log, number, h2_client):
    hello = read_client_hello(conn)
    entry = {
        "transport": "tcp",
        "connection": number,
        "peer": f"{peer[0]}:{peer[1]}",
        "tls": hello["tls"],
        "sni": hello["sni"],
        "alpn": hello["alpn"],
    }
    received = 0
    try:
        conn.settimeout(10)
        tls = context.wrap_socket(conn, server_side=True)
        entry["handshake"] = "ok"
        entry["tls_version"] = tls.version()
        entry["alpn_selected"] = tls.selected_alpn_protocol()
    except (OSError, ssl.SSLError) as error:
        entry["handshake"] = f"failed: {error}"
        log.write(event="open", **entry)
        conn.close()
        return
    log.write(event="open", **entry)
    tls.settimeout(None)
    acked = not h2_client
    try:
        if h2_client:
            tls.sendall(H2_PREFACE + H2_SETTINGS)
        while True:  # hold the connection; write nothing but the HTTP/2 preface
            data = tls.recv(65536)
            if not data:
                break
            received += len(data)
            if not acked and received >= 9:  # the connector's SETTINGS frame header
                tls.sendall(H2_SETTINGS_ACK)
                acked = True
    except (OSError, ssl.SSLError):
        pass
    finally:
        tls.close()
    log.write(event="close", transport="tcp", connection=number, bytes=received)


def serve_tcp(server, context, log, stop, h2_client):
    number = 0
    while not stop.is_set():
        try:
            conn, peer = server.accept()
        except OSError:
            continue
        number += 1
        args = (conn, peer, context, log, number, h2_client)
        threading.Thread(target=_serve_tls, args=args, daemon=True).start()


def serve_udp(server, log, stop):
    while not stop.is_set():
        try:
            data, peer = server.recvfrom(65536)
        except OSError:
            continue
        entry = {"transport": "udp", "peer": f"{peer[0]}:{peer[1]}", "bytes": len(data)}
        if data and data[0] & 0x80 and len(data) >= 5:  # QUIC long header: version follows
            entry["quic_long_header"] = True
            entry["quic_version"] = data[1:5].hex()
        log.write(event="datagram", **entry)  # and never answer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP (TLS) and UDP port to listen on")
    parser.add_argument("--log", default="-", help="JSON lines file to append to (- = stdout)")
    parser.add_argument("--ca-out", help="write the CA certificate here (for --cacert)")
    parser.add_argument("--cert-dir", help="keep generated keys here and reuse them (temporary)")
    parser.add_argument("--cert", help="serve this certificate instead of generating one")
    parser.add_argument("--key", help="the key of --cert")
    parser.add_argument("--init", action="store_true", help="only make the certificates")
    parser.add_argument(
        "--no-h2-preface",
        dest="h2_client",
        action="store_false",
        help="send nothing at all on TLS connections (cloudflared then drops them after 10 s)",
    )
    args = parser.parse_args(argv)
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    if not args.init and args.port is None:
        parser.error("--port is required")

    scratch = None
    if args.cert:
        cert, key = args.cert, args.key
    else:
        directory = args.cert_dir or (scratch := tempfile.mkdtemp(prefix="fake-edge-"))
        ca, cert, key = make_certificates(directory)
        if args.ca_out and os.path.abspath(args.ca_out) != os.path.abspath(ca):
            shutil.copyfile(ca, args.ca_out)
    if args.init:
        return 0

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2", "http/1.1"])
    log = Log(args.log)
    stop = threading.Event()

    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((args.host, args.port))
    tcp.listen(64)
    tcp.settimeout(0.5)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((args.host, args.port))
    udp.settimeout(0.5)

    def _stop(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threads = [
        threading.Thread(
            target=serve_tcp, args=(tcp, context, log, stop, args.h2_client), daemon=True
        ),
        threading.Thread(target=serve_udp, args=(udp, log, stop), daemon=True),
    ]
    for thread in threads:
        thread.start()
    print(f"ready {args.host} {args.port}", flush=True)
    while not stop.is_set():
        stop.wait(0.5)
    tcp.close()
    udp.close()
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
