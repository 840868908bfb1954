"""What checks read: a run's evidence plus its decoded capture, parsed once."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bench.checks.verdict import Evidence
from bench.servers.transcript import Session, TranscriptLine
from bench.workload.evidence import RunEvidence


@dataclass
class CheckContext:
    run: RunEvidence
    _connections: list[Any] | None = field(default=None, repr=False)

    @cached_property
    def connections(self) -> list[Any]:
        """TCP connections in the run's capture (empty without a capture)."""
        if self.run.pcap is None or not self.run.pcap.exists():
            return []
        from bench.capture.tcpflow import read_connections

        return read_connections(self.run.pcap)

    def connections_to(self, protocol: str) -> list[Any]:
        port = self.run.server_ports.get(protocol)
        return [c for c in self.connections if c.server[1] == port]

    def connection_of(self, protocol: str, index: int) -> Any:
        """The capture's ``index``-th connection to the ``protocol`` server (the session's, by
        order), or None without a capture or past its end."""
        conns = self.connections_to(protocol)
        return conns[index] if 0 <= index < len(conns) else None

    def sessions(self, protocol: str) -> list[Session]:
        transcript = getattr(self.run, protocol)
        return [] if transcript is None else list(transcript.sessions)

    def transcript_path(self, protocol: str) -> Any:
        return self.run.artifact(f"{protocol}-transcript.txt")

    def line_evidence(self, protocol: str, session: Session, line: TranscriptLine, why: str = "") -> Evidence:
        return Evidence(
            source="transcript",
            locator=f"session {session.id} t={line.t:.6f} {line.direction}",
            excerpt=(why + ": " if why else "") + line.data[:200].decode("latin-1").rstrip("\r\n"),
            artifact=self.transcript_path(protocol),
        )

    def packet_evidence(self, packets: tuple[int, ...], excerpt: str) -> Evidence:
        shown = ", ".join(str(p) for p in packets[:8])
        return Evidence("pcap", f"packet {shown}", excerpt, self.run.pcap, packets)


def server_reply(session: Session, line: TranscriptLine) -> TranscriptLine | None:
    """The server's whole reply to ``line``: every write until the client's next line."""
    i = session.lines.index(line)
    data = b""
    first: TranscriptLine | None = None
    for ln in session.lines[i + 1 :]:
        if ln.direction == "c>s":
            break
        if ln.direction == "s>c":
            first = first or ln
            data += ln.data
    return None if first is None else TranscriptLine(first.t, first.session, "s>c", data, first.note)
