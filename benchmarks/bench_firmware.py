"""Benchmark: the SMTP client's overhead on the device, and image sizes per core.

In one QEMU run per board: send a 1 MiB body (generated on the device) with
``smtp.send`` to the SMTP emulator, and send the same 1 MiB with ``tcp.bulk``
(plain TCP, full-size segments) to a sink; print both times and their ratio.
Prints figures; judges nothing. Usage: python benchmarks/bench_firmware.py [board ...]
"""
from __future__ import annotations

import hashlib
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.config import load_target, project_root
from bench.servers.smtp import SmtpEmulator
from bench.session import bench_session
from bench.workload.fill import fill_pattern

SIZE = 1 << 20
REPEAT = 5


class Sink:
    """Accepts one connection on 127.0.0.1 and hashes what arrives."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.digest = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.sock.accept()
        h = hashlib.md5()
        with conn:
            while chunk := conn.recv(65536):
                h.update(chunk)
                self.received += len(chunk)
        self.digest = h.hexdigest()
        self.sock.close()


def measure(board: str) -> dict[str, object]:
    cfg = load_target(board)
    with tempfile.TemporaryDirectory() as tmp, bench_session(cfg, Path(tmp)) as session:
        t0 = time.time()
        dev = session.boot("benchmark")
        boot_s = session.boots[-1].banner - t0
        want = fill_pattern(SIZE)
        want = want if want.endswith(b"\r\n") else want + b"\r\n"
        smtp_times, bulk_times, smtp_ok, bulk_ok = [], [], True, True
        with SmtpEmulator(users={"device": "pw"}, bind=cfg.network.bind) as smtp:
            dev.op("smtp.config", host=cfg.network.server_ip, port=smtp.port, user="device",
                   **{"pass": "pw", "from": "dev@bench.test"}, domain="dev.bench.test", auth="plain",
                   timeout_ms=20000)  # fmt: skip
            dev.op("smtp.body", reset=1, fill=SIZE)
            for i in range(REPEAT):  # interleaved, so both see the same machine load
                send = dev.op("smtp.send", to="sink@bench.test", subject="1 MiB")
                smtp.wait_sessions(i + 1, 10)
                smtp_ok &= send.ok and smtp.messages[-1].data.endswith(want)
                smtp_times.append(send.t_end - send.t_start)
                sink = Sink()
                bulk = dev.op("tcp.bulk", host=cfg.network.server_ip, port=sink.port, octets=SIZE, timeout_ms=20000)
                sink.thread.join(10)
                bulk_ok &= bulk.ok and sink.received == SIZE and sink.digest == hashlib.md5(fill_pattern(SIZE)).hexdigest()
                bulk_times.append(bulk.t_end - bulk.t_start)
    smtp_s, bulk_s = statistics.median(smtp_times), statistics.median(bulk_times)
    return {
        "board": board,
        "boot_to_banner_s": round(boot_s, 3),
        "smtp_send_s": round(smtp_s, 3),
        "smtp_ok": smtp_ok,
        "tcp_bulk_s": round(bulk_s, 3),
        "tcp_bulk_ok": bulk_ok,
        "overhead_ratio": round(smtp_s / bulk_s, 2) if bulk_s else None,
    }


def image_sizes() -> dict[str, object]:
    manifest = project_root() / "firmware_images" / "manifest.json"
    if not manifest.exists():
        return {}
    data = json.loads(manifest.read_text())
    return {b: {k: v for k, v in e.items() if k in ("text", "data", "bss")} for b, e in data.items()}


def main(argv: list[str]) -> int:
    boards = argv or ["mps2-an385", "mps2-an386", "mps2-an500"]
    print(f"1 MiB ({SIZE} octets) body over SMTP vs plain TCP bulk, same firmware, same QEMU run; median of {REPEAT}")
    print(f"{'board':12} {'boot s':>7} {'smtp s':>7} {'bulk s':>7} {'ratio':>6}  ok")
    for board in boards:
        r = measure(board)
        print(f"{board:12} {r['boot_to_banner_s']:7} {r['smtp_send_s']:7} {r['tcp_bulk_s']:7} {r['overhead_ratio']:6}  "
              f"smtp={r['smtp_ok']} bulk={r['tcp_bulk_ok']}")
    print("image sizes (bytes):")
    for board, sizes in image_sizes().items():
        print(f"  {board:12} {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
