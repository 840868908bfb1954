"""Workloads against real Debian servers, named in a target file's ``[external]`` section.

dovecot-pop3d (APOP enabled) and aiosmtpd (AUTH PLAIN and LOGIN) run as their own
processes on loopback ports with their own configuration (``bench.servers.real``); the
reference firmware on mps2-an385 dials them through QEMU's user network
(10.0.2.2:P is the host's 127.0.0.1:P). No emulator runs for them: the
transcripts are rebuilt from the capture, and the verdicts must pass, agree with
what the real server stored, and fail on a wrong expectation.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.capture.wire_transcript import from_capture
from bench.checks.real_servers import SERVER_CLOSED
from bench.checks.verdict import Outcome, Verdict
from bench.config import load_target, project_root
from bench.servers import real as rs
from bench.servers.transcript import Session, Transcript
from bench.session import BenchSession, bench_session
from bench.workload.capabilities import NotApplicable
from bench.workload.evidence import RunEvidence
from bench.workload.model import Pop3Op, Pop3Open, Workload

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
import workloads as wl  # noqa: E402

HAVE_AIOSMTPD = Path(rs.SYSTEM_PYTHON).exists() and any(
    Path(p, "aiosmtpd").is_dir() for p in ("/usr/lib/python3/dist-packages",))
pytestmark = [
    pytest.mark.emulated,
    pytest.mark.skipif(not Path(rs.DOVECOT).exists(), reason="dovecot-pop3d not installed (scripts/setup installs it)"),
    pytest.mark.skipif(not HAVE_AIOSMTPD, reason="python3-aiosmtpd not installed (scripts/setup installs it)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="dovecot drops to its own users: run as root"),
]

SMTP_USER, SMTP_PASSWORD = "device", "s3cret-pw"
RCPT = "inbox@bench.test"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchSession]:
    run_dir = tmp_path_factory.mktemp("external")
    with bench_session(load_target("mps2-an385"), run_dir) as s:
        s.boot()
        yield s


@pytest.fixture
def dovecot() -> Iterator[rs.Dovecot]:
    with rs.dovecot(wl.USER, wl.PASSWORD, wl.MESSAGES) as d:
        yield d


@pytest.fixture(scope="module")
def aiosmtpd() -> Iterator[rs.Aiosmtpd]:
    with rs.aiosmtpd({SMTP_USER: SMTP_PASSWORD}) as a:
        yield a


def use_servers(session: BenchSession, tmp_path: Path, pop3: int = 0, smtp: int = 0, auth: str = "plain",
                apop: bool = True) -> None:
    """The emulated board's target file plus an ``[external]`` section for these ports."""
    text = (project_root() / "targets" / "mps2-an385.toml").read_text()
    if pop3:
        text += (f'\n[external.pop3]\nhost = "10.0.2.2"\nport = {pop3}\nuser = "{wl.USER}"\n'
                 f'password = "{wl.PASSWORD}"\napop = {str(apop).lower()}\n')
    if smtp:
        text += (f'\n[external.smtp]\nhost = "10.0.2.2"\nport = {smtp}\nuser = "{SMTP_USER}"\n'
                 f'password = "{SMTP_PASSWORD}"\nauth = "{auth}"\nmail_from = "device@bench.test"\nrcpt = "{RCPT}"\n')
    path = tmp_path / "external.toml"
    path.write_text(text)
    cfg = load_target(path)
    assert cfg.external is not None
    session.config = cfg.model_copy(update={"network": session.config.network})


def judge(session: BenchSession, workload: Workload, *criteria: str) -> tuple[RunEvidence, list[Verdict]]:
    return session.run(dataclasses.replace(workload, criteria=criteria), workload.name)


def assert_passed(verdicts: list[Verdict]) -> None:
    """Every verdict passes, but for the closing order the real server decided itself (bench.checks.real_servers)."""
    bad = [f"{v.criterion} {v.outcome.value}: {v.summary} {[e.excerpt for e in v.evidence][:3]}" for v in verdicts
           if v.outcome is not Outcome.PASS and not (v.outcome is Outcome.INCONCLUSIVE and v.summary.startswith(SERVER_CLOSED))]
    assert verdicts and not bad, bad


def assert_redacted(directory: Path, *secrets: str) -> None:
    for name in ("pop3-transcript.txt", "smtp-transcript.txt"):
        p = directory / name
        if p.exists():
            text = p.read_text()
            assert text.startswith("# external"), text[:200]
            for secret in secrets:
                assert secret not in text, f"{secret!r} in {p}"


def test_pop3_session_with_apop_against_dovecot(session: BenchSession, dovecot: rs.Dovecot, tmp_path: Path) -> None:
    use_servers(session, tmp_path, pop3=dovecot.port)
    ev, verdicts = judge(session, wl.pop3_session(apop=True), *wl.POP_SESSION, "POP-AUTH-2")
    assert_passed(verdicts)
    t = ev.pop3
    assert t is not None and t.source == "wire" and not ev.server_ports.get("pop3") is None
    (s,) = t.sessions
    assert (s.auth_method, s.auth_user, s.auth_ok) == ("apop", wl.USER, True)
    assert s.retrieved == [1, 2, 3] and s.deleted == [1] and s.closed_by in ("client", "server")
    # what dovecot served (from the wire) is the Maildir's messages, and the device read them all
    assert ev.workload.pop3_server is not None
    assert ev.workload.pop3_server.maildrops[wl.USER][1] == wl.MESSAGES
    retr = [sr.final.data for sr in ev.steps if isinstance(sr.step, Pop3Op) and sr.step.op == "retr"]
    assert retr == list(wl.MESSAGES)
    # dovecot really deleted item 1 at UPDATE
    left = sorted(p.name for sub in ("new", "cur") for p in (dovecot.directory / "home" / wl.USER / "Maildir" / sub).iterdir())
    assert len(left) == 2 and not any(n.startswith("1001.") for n in left), left
    assert_redacted(ev.directory, wl.PASSWORD)
    assert b"APOP " + wl.USER.encode() + b" ********" in b"".join(ln.data for ln in s.lines)


def test_pop3_user_pass_rset_against_dovecot(session: BenchSession, dovecot: rs.Dovecot, tmp_path: Path) -> None:
    use_servers(session, tmp_path, pop3=dovecot.port, apop=False)
    ev, verdicts = judge(session, wl.pop3_rset(), "POP-AUTH-1", "POP-TRANS-4")
    assert_passed(verdicts)
    (s,) = ev.pop3.sessions  # type: ignore[union-attr]
    assert (s.auth_method, s.auth_user, s.auth_ok) == ("user", wl.USER, True)
    assert s.deleted == [] and "RSET" in s.commands
    assert len(list((dovecot.directory / "home" / wl.USER / "Maildir").rglob("*.bench*"))) == 3


@pytest.mark.parametrize("auth", ["plain", "login"])
def test_smtp_against_aiosmtpd(session: BenchSession, aiosmtpd: rs.Aiosmtpd, tmp_path: Path, auth: str) -> None:
    use_servers(session, tmp_path, smtp=aiosmtpd.port, auth=auth)
    before = len(aiosmtpd.stored())
    criteria = wl.ONE_MAIL if auth == "plain" else ("SMTP-AUTH-2", "SMTP-MAIL-1", "SMTP-MAIL-2", "SMTP-MAIL-3")
    ev, verdicts = judge(session, wl.one_mail(), *criteria)
    assert_passed(verdicts)
    (s,) = ev.smtp.sessions  # type: ignore[union-attr]
    assert (s.auth_method, s.auth_user, s.auth_ok) == (auth, SMTP_USER, True)
    (msg,) = s.messages
    stored = aiosmtpd.stored()[before:]
    assert len(stored) == 1
    envelope, content = stored[0]
    # the mail as the wire carried it, unstuffed, is the mail aiosmtpd stored
    assert msg.data == content and b"\r\n..first line starts with a dot" in msg.raw_wire
    assert b"\r\n.first line starts with a dot" in content and b"\r\n..first" not in content
    assert (msg.mail_from, msg.rcpt_to) == (envelope["mail_from"], envelope["rcpt_tos"]) == ("device@bench.test", [RCPT])
    assert envelope["login"] == SMTP_USER
    assert_redacted(ev.directory, SMTP_PASSWORD)


def test_wrong_expectation_fails(session: BenchSession, dovecot: rs.Dovecot, tmp_path: Path) -> None:
    use_servers(session, tmp_path, pop3=dovecot.port)
    wrong = Workload("pop3-retr-missing", "RETR of an item dovecot does not have, expected to work",
                     steps=(Pop3Open(wl.USER, wl.PASSWORD), Pop3Op("retr", 9), Pop3Op("quit")),
                     pop3_server=wl.pop3_session().pop3_server)
    _, verdicts = judge(session, wrong, "POP-TRANS-3")
    assert [v.outcome for v in verdicts if v.criterion == "POP-TRANS-3"] == [Outcome.FAIL], verdicts


def test_faults_are_not_applicable_against_a_real_server(session: BenchSession, dovecot: rs.Dovecot,
                                                         tmp_path: Path) -> None:
    use_servers(session, tmp_path, pop3=dovecot.port)
    with pytest.raises(NotApplicable, match="external"):
        judge(session, wl.pop3_bad_password(), "POP-AUTH-5")


# -- the wire-derived transcript against the emulator's own ---------------------------
def _same(wire: Session, emu: Session) -> None:
    # peer differs: the emulator sees QEMU's user network from the host side (127.0.0.1), the wire the device
    for f in ("protocol", "auth_method", "auth_user", "auth_ok", "commands", "retrieved", "deleted", "closed_by"):
        assert getattr(wire, f) == getattr(emu, f), (f, getattr(wire, f), getattr(emu, f))
    for d in ("c>s", "s>c"):
        assert b"".join(ln.data for ln in wire.lines if ln.direction == d) == \
               b"".join(ln.data for ln in emu.lines if ln.direction == d), d
    assert [dataclasses.astuple(m) for m in wire.messages] == [dataclasses.astuple(m) for m in emu.messages]


def _compare(ev: RunEvidence, protocol: str) -> Transcript:
    emu: Transcript = getattr(ev, protocol)
    derived = from_capture(ev.pcap, protocol, ev.server_ports[protocol]).transcript
    assert emu.source == "emulator" and derived.source == "wire"
    assert len(derived.sessions) == len(emu.sessions) >= 1
    for w, e in zip(derived.sessions, emu.sessions):
        _same(w, e)
    return derived


def test_wire_transcript_equals_the_emulators(session: BenchSession) -> None:
    session.config = load_target("mps2-an385").model_copy(update={"network": session.config.network})
    ev, _ = judge(session, wl.pop3_session(apop=True))
    assert _compare(ev, "pop3").sessions[0].auth_method == "apop"
    ev, _ = judge(session, wl.pop3_rset())
    _compare(ev, "pop3")
    ev, _ = judge(session, wl.two_mails(4))
    assert len(_compare(ev, "smtp").sessions) == 2
    ev, _ = judge(session, wl.auth("login"))
    assert _compare(ev, "smtp").sessions[0].auth_method == "login"



# -- bench run --external: the suite's own tests against the real servers --------------
def test_bench_run_with_external_servers(aiosmtpd: rs.Aiosmtpd, dovecot: rs.Dovecot, tmp_path: Path) -> None:
    import json
    import subprocess

    run_dir = tmp_path / "run"
    smtp = f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@10.0.2.2:{aiosmtpd.port}?auth=plain&from=device@bench.test&rcpt={RCPT}"
    pop3 = f"pop3://{wl.USER}:{wl.PASSWORD}@10.0.2.2:{dovecot.port}?apop=1"
    before = len(aiosmtpd.stored())
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("bench")), "run", "--external", smtp, "--external", pop3,
         "--run-dir", str(run_dir), "--", "tests/acceptance/test_smtp.py::test_auth",
         "tests/acceptance/test_smtp.py::test_auth_refused", "tests/acceptance/test_pop3.py::test_full_session"],
        cwd=project_root(), capture_output=True, text=True, timeout=300)
    record = json.loads((run_dir / "verdicts.json").read_text())
    by_test = {t["nodeid"].split("::")[1]: t for t in record["tests"]}
    # a fault plan cannot run against a real server: skipped with the reason, not failed
    refused = [t for k, t in by_test.items() if k.startswith("test_auth_refused")]  # one per mechanism
    assert refused and all(t["outcome"] == "skipped" for t in refused), refused
    outcomes = {(v["criterion"], v["outcome"]) for k in ("test_auth[plain]", "test_auth[login]")
                for v in by_test[k]["verdicts"]}
    assert {("SMTP-AUTH-1", "pass"), ("SMTP-AUTH-2", "pass"), ("SMTP-MAIL-1", "pass")} <= outcomes, outcomes
    # aiosmtpd sends its FIN as soon as the 221 is out: when it beats the device's FIN the closing order
    # is not shown (INCONCLUSIVE, and the run is not accepted); when the device's FIN came first, it passes
    mail_1 = {o for c, o in outcomes if c == "SMTP-MAIL-1"}
    assert mail_1 <= {"pass", "inconclusive"}, outcomes
    assert len(aiosmtpd.stored()) == before + 2
    # POP3 over IPv4 against dovecot: judged from the wire; the IPv6 variant does not apply to an IPv4 server
    assert by_test["test_full_session[6]"]["outcome"] == "skipped"
    pop = {v["criterion"]: v["outcome"] for v in by_test["test_full_session[4]"]["verdicts"]}
    assert all(pop[c] == "pass" for c in ("POP-AUTH-1", "POP-TRANS-1", "POP-TRANS-2", "POP-TRANS-3")), pop
    assert pop["POP-TRANS-4"] in ("pass", "inconclusive"), pop  # dovecot also closes at once after +OK to QUIT
    shown = "inconclusive" not in mail_1 and pop["POP-TRANS-4"] == "pass"
    assert proc.returncode == (0 if shown else 1), (proc.returncode, proc.stdout[-2000:])  # never accepted unseen
    target = run_dir / "target-external.toml"
    assert "[external.smtp]" in target.read_text() and record["target"]
    for text in [p.read_text() for p in run_dir.rglob("*-transcript.txt")] + [(run_dir / "verdicts.json").read_text()]:
        assert SMTP_PASSWORD not in text
