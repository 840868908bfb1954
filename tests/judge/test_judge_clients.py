"""``bench judge`` on captures of real third-party clients (root).

Each client runs in a network namespace and talks to the bench's emulators
across a veth pair; the bench captures live on the host's end and ``bench
judge`` judges the pcap as if the client were the device. Each verdict is
asserted against what the client was seen to do on the wire (the captured
dialogues, looked at first):

- smtplib ``sendmail`` to one recipient: one RCPT, each command after its reply,
  QUIT, the client closes: every SMTP wire criterion passes.
- smtplib and swaks with two recipients: two RCPTs for one mail: SMTP-MAIL-1 fails.
- msmtp and ``swaks --pipeline`` send MAIL, RCPT and DATA in one segment only when
  the server advertises PIPELINING (RFC 2920), and SMTP-WIRE-1 allows exactly
  that; without the keyword they wait for each reply.
- curl (SMTP): AUTH PLAIN without an initial response, then the credentials line.
- poplib, curl (POP3, APOP since the greeting has a timestamp) and fetchmail
  (CAPA, USER/PASS, STAT, LIST/RETR/DELE per message) never pipeline: POP-WIRE-1
  passes. A poplib client that writes USER and PASS in one segment before
  reading (pipelining) fails POP-WIRE-1. (Two ``_putcmd`` calls in a row were not
  enough: the +OK to USER came back before the PASS segment left.)
- Offloads (TSO/GSO) turned back on at the client: frames of tens of kilobytes in
  the capture, NET-WIRE-1 and SMTP-MAIL-3 INCONCLUSIVE naming the offload.
- Segment sizes: the largest client payload in SMTP-MAIL-3's measurement is the
  one scapy reads from the same pcap, within the MSS with offloads off.
"""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from judge_lab import Lab

from bench.capture.annotate import read_comments
from bench.checks.verdict import Outcome
from bench.judge import CaptureLimits, Judgement, judge_capture
from bench.servers.maildrop import Maildrop
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator

pytestmark = pytest.mark.root

PW = "tanstaaf"
BODY = b"From: dev@board.test\r\nTo: host@bench.test\r\nSubject: hello\r\n\r\nline 1\r\n"
SMTPLIB = ("import smtplib, sys\n"
           "c = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname='board.test')\n"
           f"c.login('device', '{PW}')\n"
           "c.sendmail('dev@board.test', sys.argv[3].split(','), b'Subject: x\\r\\n\\r\\n' + b'y' * int(sys.argv[4]))\n"
           "c.quit()\n")
SMTP_CRITERIA = ("NET-WIRE-1", "NET-WIRE-2", "SMTP-WIRE-1", "SMTP-CONN-1", "SMTP-MAIL-1", "SMTP-MAIL-3", "SMTP-ERR-1")
POP_CRITERIA = ("NET-WIRE-1", "NET-WIRE-2", "POP-WIRE-1", "POP-WIRE-2", "POP-TRANS-4")


def need(binary: str) -> str:
    import shutil

    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (scripts/setup installs curl, fetchmail, swaks, msmtp)")
    return path


def outcomes(j: Judgement) -> dict[str, str]:
    out = {}
    for cid, vs in j.by_criterion().items():
        out[cid] = "fail" if any(v.outcome is Outcome.FAIL for v in vs) else vs[0].outcome.value
    return out


def c2s_lines(pcap: Path) -> list[tuple[tuple[int, ...], bytes]]:
    from bench.capture.tcpflow import lines, read_connections

    (conn,) = read_connections(pcap)
    return [(ln.packets, ln.text) for ln in lines(conn.c2s)]


def smtp_session(lab: Lab, name: str, argv: list[str], *, input: bytes | None = None,
                 pipelining: bool = False, **limits: object) -> tuple[Judgement, SmtpEmulator]:
    ext = ("8BITMIME", "PIPELINING") if pipelining else ("8BITMIME",)
    with SmtpEmulator(users={"device": PW}, bind=[lab.host_ip], extensions=ext) as srv:
        with lab.capture(name) as cap:
            r = lab.run([a.replace("{port}", str(srv.port)) for a in argv], input=input)
            assert r.returncode == 0, r.stdout[-500:] + r.stderr[-500:]
            assert srv.wait_sessions(1, 5)
        srv.transcript.write(lab.tmp / f"{name}-smtp-transcript.txt")
    assert cap.stats is not None and cap.stats.dropped == 0
    j = judge_capture(cap.path, CaptureLimits(**limits), lab.tmp / f"judge-{name}",  # type: ignore[arg-type]
                      transcripts=[lab.tmp / f"{name}-smtp-transcript.txt"])
    return j, srv


def smtplib_argv(lab: Lab, rcpts: str, size: int = 10) -> list[str]:
    return [sys.executable, "-c", SMTPLIB, lab.host_ip, "{port}", rcpts, str(size)]


def test_smtplib_one_recipient_passes_every_smtp_wire_criterion(lab: Lab):
    j, srv = smtp_session(lab, "smtplib1", smtplib_argv(lab, "host@bench.test"))
    assert srv.messages[0].rcpt_to == ["host@bench.test"]
    assert outcomes(j) == dict.fromkeys(SMTP_CRITERIA, "pass")
    assert j.passed and j.record.tests[0].outcome == "passed"
    # the same files a run writes
    data = json.loads((lab.tmp / "judge-smtplib1" / "verdicts.json").read_text())
    assert {v["criterion"] for v in data["tests"][0]["verdicts"]} == set(SMTP_CRITERIA)
    assert data["tests"][0]["artifacts"][0]["transcripts"][0].endswith("smtplib1-smtp-transcript.txt")
    suite = ET.parse(lab.tmp / "judge-smtplib1" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and int(suite.get("tests") or 0) == len(SMTP_CRITERIA)
    assert j.report is not None and "SMTP-MAIL-1" in j.report.read_text()


@pytest.mark.parametrize("client", ["smtplib", "swaks"])
def test_two_rcpts_for_one_mail_fail_smtp_mail_1(lab: Lab, client: str):
    if client == "smtplib":
        argv = smtplib_argv(lab, "a@bench.test,b@bench.test")
    else:
        argv = [need("swaks"), "--server", lab.host_ip, "--port", "{port}", "--helo", "board.test", "-a", "PLAIN",
                "-au", "device", "-ap", PW, "--from", "dev@board.test", "--to", "a@bench.test,b@bench.test"]
    j, srv = smtp_session(lab, f"{client}-2rcpt", argv)
    rcpts = [(p, t) for p, t in c2s_lines(Path(j.record.tests[0].artifacts[0]["pcap"]))
             if t.upper().startswith(b"RCPT")]  # smtplib writes "rcpt TO:", swaks "RCPT TO:"
    assert [t.upper() for _, t in rcpts] == [b"RCPT TO:<A@BENCH.TEST>\r\n", b"RCPT TO:<B@BENCH.TEST>\r\n"]
    assert srv.messages[0].rcpt_to == ["a@bench.test", "b@bench.test"]
    got = outcomes(j)
    assert got.pop("SMTP-MAIL-1") == "fail"
    assert got == dict.fromkeys(set(SMTP_CRITERIA) - {"SMTP-MAIL-1"}, "pass")
    (bad,) = [v for v in j.verdicts if v.criterion == "SMTP-MAIL-1" and v.outcome is Outcome.FAIL]
    second_rcpt = rcpts[1][0][0]
    assert any(second_rcpt in e.packets for e in bad.evidence), bad.evidence
    # JUnit fails that criterion; the annotated pcapng marks the packet
    suite = ET.parse(j.junit).getroot().find("testsuite")  # type: ignore[arg-type]
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]  # type: ignore[union-attr]
    assert failed == ["SMTP-MAIL-1"]
    annotated = j.record.tests[0].artifacts[0]["annotated_pcap"]
    assert any("SMTP-MAIL-1" in c for cs in read_comments(Path(annotated)).values() for c in cs)


@pytest.mark.parametrize("pipelining", [False, True])
@pytest.mark.parametrize("client", ["msmtp", "swaks"])
def test_pipelining_only_where_advertised(lab: Lab, client: str, pipelining: bool):
    if client == "msmtp":
        argv = [need("msmtp"), f"--host={lab.host_ip}", "--port={port}", "--auth=plain", "--user=device",
                f"--passwordeval=echo {PW}", "--tls=off", "--from=dev@board.test", "--domain=board.test", "--",
                "host@bench.test"]
    else:
        argv = [need("swaks"), "--pipeline", "--server", lab.host_ip, "--port", "{port}", "--helo", "board.test",
                "-a", "PLAIN", "-au", "device", "-ap", PW, "--from", "dev@board.test", "--to", "host@bench.test"]
    j, _ = smtp_session(lab, f"{client}-{pipelining}", argv, input=BODY, pipelining=pipelining)
    lines = c2s_lines(Path(j.record.tests[0].artifacts[0]["pcap"]))
    frame = {t.split(b" ")[0].split(b":")[0].rstrip(b"\r\n"): p[0] for p, t in lines
             if t.startswith((b"MAIL", b"RCPT", b"DATA"))}
    if pipelining:  # RCPT and DATA ride in one segment (swaks: MAIL too)
        assert frame[b"RCPT"] == frame[b"DATA"]
    else:
        assert len(set(frame.values())) == 3
    assert outcomes(j) == dict.fromkeys(SMTP_CRITERIA, "pass")


def test_curl_smtp_auth_plain_without_initial_response(lab: Lab):
    mail = lab.tmp / "mail.eml"
    mail.write_bytes(BODY)
    j, _ = smtp_session(lab, "curl-smtp", [need("curl"), "-sS", f"smtp://{lab.host_ip}:{{port}}/board.test",
                                           "--mail-from", "dev@board.test", "--mail-rcpt", "host@bench.test",
                                           "-T", str(mail), "-u", f"device:{PW}"])
    texts = [t for _, t in c2s_lines(Path(j.record.tests[0].artifacts[0]["pcap"]))]
    assert texts[1] == b"AUTH PLAIN\r\n" and texts[2].endswith(b"==\r\n")
    assert outcomes(j) == dict.fromkeys(SMTP_CRITERIA, "pass")


def test_segment_sizes_agree_with_the_capture(lab: Lab):
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    j, _ = smtp_session(lab, "smtplib-big", smtplib_argv(lab, "host@bench.test", 200_000))
    pcap = Path(j.record.tests[0].artifacts[0]["pcap"])
    client_sizes = [len(p[TCP].payload) for p in rdpcap(str(pcap)) if TCP in p and p[TCP].dport != p[TCP].sport
                    and p["IP"].src == lab.client_ip and len(p[TCP].payload)]
    (mail3,) = [v for v in j.verdicts if v.criterion == "SMTP-MAIL-3"]
    largest = next(m for m in mail3.measurements if m.name == "largest client segment payload")
    assert largest.value == max(client_sizes) and largest.limit == 1460 and max(client_sizes) <= 1460
    assert sum(client_sizes) > 200_000 and mail3.outcome is Outcome.PASS
    # the same capture held to a smaller payload limit, given on the command line
    out = lab.tmp / "judge-small"
    r = subprocess.run([sys.executable, "-m", "bench.cli", "judge", str(pcap), "--smtp-payload", "536",
                        "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    data = json.loads((out / "verdicts.json").read_text())
    small = [v for v in data["tests"][0]["verdicts"] if v["criterion"] == "SMTP-MAIL-3"]
    assert [v["outcome"] for v in small] == ["fail"]
    m = next(m for m in small[0]["measurements"] if m["name"] == "largest client segment payload")
    assert (m["value"], m["limit"]) == (max(client_sizes), 536)
    assert "SMTP-MAIL-3" in r.stdout and (out / "report.html").exists() and (out / "junit.xml").exists()


POPLIB = ("import poplib, sys\n"
          "c = poplib.POP3(sys.argv[1], int(sys.argv[2]))\n"
          "if sys.argv[3] == 'pipelined':\n"
          f"    c.sock.sendall(b'USER device\\r\\nPASS {PW}\\r\\n'); c._getresp(); c._getresp()\n"
          "else:\n"
          f"    c.user('device'); c.pass_('{PW}')\n"
          "c.stat(); c.retr(1); c.quit()\n")
MESSAGES = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\n" + b"x" * 5000 + b"\r\n"]


def pop3_session(lab: Lab, name: str, argv: list[str], env: dict[str, str] | None = None,
                 rc: Path | None = None) -> Judgement:
    with Pop3Emulator(maildrops={"device": Maildrop(password=PW, messages=list(MESSAGES))}, bind=[lab.host_ip]) as srv:
        if rc is not None:
            rc.write_text(rc.read_text().replace("{port}", str(srv.port)))
            rc.chmod(0o600)
        with lab.capture(name) as cap:
            r = lab.run([a.replace("{port}", str(srv.port)) for a in argv], env=env)
            assert r.returncode == 0, r.stdout[-500:] + r.stderr[-500:]
            assert srv.wait_sessions(1, 5)
    assert cap.stats is not None and cap.stats.dropped == 0
    return judge_capture(cap.path, CaptureLimits(), lab.tmp / f"judge-{name}")


def test_poplib_pipelining_user_and_pass_fails_pop_wire_1(lab: Lab):
    j = pop3_session(lab, "poplib-pipelined", [sys.executable, "-c", POPLIB, lab.host_ip, "{port}", "pipelined"])
    from bench.capture.tcpflow import lines as stream_lines, read_connections

    (conn,) = read_connections(Path(j.record.tests[0].artifacts[0]["pcap"]))
    lines = [(ln.packets, ln.text) for ln in stream_lines(conn.c2s)]
    replies = [(ln.packets, ln.text) for ln in stream_lines(conn.s2c)]
    assert lines[0][1] == b"USER device\r\n" and lines[1][1].startswith(b"PASS")
    assert lines[0][0] == lines[1][0] and lines[1][0][0] < replies[1][0][0]  # one segment, before the +OK to USER
    got = outcomes(j)
    assert got.pop("POP-WIRE-1") == "fail"
    assert got == dict.fromkeys(set(POP_CRITERIA) - {"POP-WIRE-1"}, "pass")
    (bad,) = [v for v in j.verdicts if v.criterion == "POP-WIRE-1"]
    assert any(lines[1][0][0] in e.packets for e in bad.evidence)


@pytest.mark.parametrize("client", ["poplib", "curl", "fetchmail"])
def test_pop3_clients_that_wait_for_each_reply_pass(lab: Lab, client: str):
    env = rc = None
    if client == "poplib":
        argv = [sys.executable, "-c", POPLIB, lab.host_ip, "{port}", "lockstep"]
        expect = [b"USER", b"PASS", b"STAT", b"RETR", b"QUIT"]
    elif client == "curl":
        argv = [need("curl"), "-sS", "-u", f"device:{PW}", f"pop3://{lab.host_ip}:{{port}}/1"]
        expect = [b"CAPA", b"APOP", b"RETR", b"QUIT"]  # the greeting has a timestamp: curl prefers APOP
    else:
        rc = lab.tmp / "fetchmailrc"
        rc.write_text(f'set no syslog\npoll {lab.host_ip} service {{port}} protocol pop3\n'
                      f'  user "device" there with password "{PW}" is "root" here\n'
                      f'  sslproto "" fetchall bsmtp "{lab.tmp}/out.bsmtp"\n')
        argv = [need("fetchmail"), "-f", str(rc), "--nodetach", "-i", str(lab.tmp / "ids")]
        env = {"HOME": str(lab.tmp), "FETCHMAILHOME": str(lab.tmp)}
        expect = [b"CAPA", b"USER", b"PASS", b"STAT"] + [b"LIST", b"RETR", b"DELE"] * 2 + [b"QUIT"]
    j = pop3_session(lab, f"{client}-pop3", argv, env, rc)
    lines = c2s_lines(Path(j.record.tests[0].artifacts[0]["pcap"]))
    assert [t.split(b" ")[0].rstrip(b"\r\n") for _, t in lines] == expect
    assert len({p for p, _ in lines}) == len(lines)  # one command per segment
    assert outcomes(j) == dict.fromkeys(POP_CRITERIA, "pass")


def test_offloads_left_on_make_size_verdicts_inconclusive(lab: Lab):
    """TSO/GSO turned back on at the client's end: the host's capture holds frames of tens of
    kilobytes that no wire carried; judge calls the size verdicts INCONCLUSIVE and names the offload."""
    from bench.capture.offload import read_offloads

    ethtool = need("ethtool")
    on = lab.run([ethtool, "-K", lab.peer, "tso", "on", "gso", "on"])
    assert on.returncode == 0, on.stderr
    assert read_offloads(lab.host).honest  # the capture side stays off: the artefact comes from the sender
    j, _ = smtp_session(lab, "smtplib-tso", smtplib_argv(lab, "host@bench.test", 200_000))
    from bench.capture.tcpflow import read_connections

    (conn,) = read_connections(Path(j.record.tests[0].artifacts[0]["pcap"]))
    largest = max(s.payload_len for s in conn.c2s.segments)
    assert largest > 1500  # a super-frame in the capture
    got = outcomes(j)
    assert got["NET-WIRE-1"] == got["SMTP-MAIL-3"] == "inconclusive"
    (mail3,) = [v for v in j.verdicts if v.criterion == "SMTP-MAIL-3"]
    assert "offload" in mail3.summary and "ethtool -K" in mail3.evidence[0].excerpt
    assert got["SMTP-MAIL-1"] == "pass"  # the dialogue is still judged
