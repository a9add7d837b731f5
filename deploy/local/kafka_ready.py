"""Exit 0 when a Kafka broker answers an ApiVersions request, 1 otherwise.

    python kafka_ready.py [HOST [PORT [CAFILE]]]

A KRaft broker only starts answering requests once it is unfenced, so a valid
ApiVersions response means it is ready to create topics, produce and consume.
Plain sockets keep the probe cheap: no JVM and no client library per poll. With
CAFILE the probe speaks TLS, verified against that CA: a SASL_SSL listener
answers ApiVersions before the client authenticates, so no credentials are needed.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys

API_VERSIONS_KEY = 18
CORRELATION_ID = 7


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def broker_answers(host: str, port: int, timeout: float = 2.0, cafile: str | None = None) -> bool:
    client_id = b"kotaku-ready"
    # Request header v1 (api_key, api_version, correlation_id, client_id) with an empty v0 body.
    request = struct.pack(">hhih", API_VERSIONS_KEY, 0, CORRELATION_ID, len(client_id)) + client_id
    try:
        tls = ssl.create_default_context(cafile=cafile) if cafile else None
        # wrapping hands the connection over to the TLS socket, which then closes it
        with (
            socket.create_connection((host, port), timeout=timeout) as plain,
            tls.wrap_socket(plain, server_hostname=host) if tls else plain as sock,
        ):
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _read_exactly(sock, 4))
            correlation_id, error_code = struct.unpack(">ih", _read_exactly(sock, size)[:6])
    except (OSError, ConnectionError, struct.error):  # ssl.SSLError is an OSError
        return False
    return correlation_id == CORRELATION_ID and error_code == 0


if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 9092
    cafile = sys.argv[3] if len(sys.argv) > 3 else None
    sys.exit(0 if broker_answers(host, port, cafile=cafile) else 1)
