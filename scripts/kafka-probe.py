#!/usr/bin/env python3
"""Tiny Kafka readiness probe and helpers (stdlib only).

  kafka-probe.py probe HOST:PORT [--timeout S]
      Sends ApiVersions v0; then Metadata v0 and checks that at least one
      broker is registered. Exit 0 when both succeed, 1 otherwise.
  kafka-probe.py free-ports N
      Prints N distinct free TCP ports on 127.0.0.1, space separated.
  kafka-probe.py cluster-id
      Prints a random Kafka cluster id (base64url UUID, no padding).
"""
import base64
import socket
import struct
import sys
import uuid


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d/%d bytes" % (len(buf), n))
        buf += chunk
    return buf


def _request(sock, api_key, api_version, correlation_id, body=b""):
    client_id = b"kafka-suite-probe"
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    if size < 4 or size > 64 * 1024 * 1024:
        raise ValueError("bad response size %d" % size)
    resp = _recv_exact(sock, size)
    (cid,) = struct.unpack(">i", resp[:4])
    if cid != correlation_id:
        raise ValueError("correlation id mismatch %d != %d" % (cid, correlation_id))
    return resp[4:]


def probe(host, port, timeout):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        # ApiVersions v0: empty body. Response: error_code int16, [api_key, min, max].
        resp = _request(sock, 18, 0, 1)
        (err, count) = struct.unpack(">hi", resp[:6])
        if err != 0 or count <= 0:
            raise ValueError("ApiVersions error_code=%d apis=%d" % (err, count))
        # Metadata v0 with an empty topic array. Response starts with brokers array.
        resp = _request(sock, 3, 0, 2, struct.pack(">i", 0))
        (nbrokers,) = struct.unpack(">i", resp[:4])
        if nbrokers < 1:
            raise ValueError("Metadata lists no brokers yet")
    return count, nbrokers


def free_ports(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "probe":
        host, _, port = argv[2].rpartition(":")
        timeout = 3.0
        if "--timeout" in argv:
            timeout = float(argv[argv.index("--timeout") + 1])
        try:
            apis, brokers = probe(host or "127.0.0.1", int(port), timeout)
        except Exception as e:  # noqa: BLE001 - any failure means "not ready"
            print("not ready: %s" % e, file=sys.stderr)
            return 1
        print("ready: %d apis, %d broker(s)" % (apis, brokers))
        return 0
    if cmd == "free-ports":
        print(" ".join(str(p) for p in free_ports(int(argv[2]))))
        return 0
    if cmd == "cluster-id":
        # An id starting with '-' would be read as an option by the storage tool's argument
        # parser (seen: "--cluster-id: expected one argument"), so draw again in that case.
        while True:
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            if not cid.startswith("-"):
                print(cid)
                return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
