"""The lab's stand-in for the ingress controller: HTTPS on the ingress address with one
certificate per host name, chosen by the TLS client's SNI name, as ingress-nginx does with the
certificates cert-manager issued. An unknown name gets the default certificate
(CN=k8s-ingress, like the controller's fake certificate).

    python3 ingress-standin.py CERT_DIR PORT

CERT_DIR holds <name>.crt and <name>.key per host name, and k8s-ingress.crt/.key. Every request
is answered with its Host header.
"""

import http.server
import ssl
import sys
from pathlib import Path


def context(directory, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(directory / f"{name}.crt", directory / f"{name}.key")
    return ctx


def main(directory, port):
    directory = Path(directory)
    names = sorted(p.stem for p in directory.glob("*.crt"))
    per_name = {name: context(directory, name) for name in names}
    default = per_name["k8s-ingress"]

    def choose(sock, server_name, _ctx):
        sock.context = per_name.get(server_name or "", default)

    default.sni_callback = choose

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"ingress stand-in: host={self.headers.get('Host')}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, address = self.socket.accept()
            return default.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            ), address

        def handle_error(self, request, client_address):
            return  # handshakes a client aborts are not the server's problem

    Server(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
