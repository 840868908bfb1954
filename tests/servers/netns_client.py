"""A scripted TCP client run inside a network namespace (``ip netns exec``) by the wire tests.

argv: host, port, and a JSON script of steps: ``["send", hex]`` writes bytes,
``["until", hex]`` reads until the bytes have arrived (3 s at most), ``["for", s]``
reads until the server closes or resets or ``s`` seconds pass, ``["close"]``
closes. Prints JSON: everything received (hex) and how reading ended.
Standard library only: it runs with any Python inside the namespace.
"""
from __future__ import annotations

import json
import socket
import sys
import time


def main() -> None:
    host, port, script = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    sock = socket.create_connection((host, port), timeout=5)
    got, end = b"", "open"
    for step in script:
        op = step[0]
        if op == "send":
            sock.sendall(bytes.fromhex(step[1]))
        elif op in ("until", "for"):
            deadline = time.monotonic() + (3.0 if op == "until" else float(step[1]))
            want = bytes.fromhex(step[1]) if op == "until" else None
            while end == "open" and not (want is not None and want in got):
                left = deadline - time.monotonic()
                if left <= 0:
                    end = "timeout" if op == "for" else "missing"
                    break
                sock.settimeout(left)
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    end = "reset"
                    break
                if not chunk:
                    end = "eof"
                    break
                got += chunk
            if end == "timeout":
                end = "open"
        elif op == "close":
            sock.close()
    print(json.dumps({"got": got.hex(), "end": end}))


if __name__ == "__main__":
    main()
