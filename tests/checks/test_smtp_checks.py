"""SMTP checks on evidence made by real clients (smtplib) against the real emulator:
a correct session passes, and each defect is caught by the criterion it breaks."""
from __future__ import annotations

import smtplib
import time
from pathlib import Path

from bench.capture.synth import Trace, smtp_session
from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome
from bench.servers.smtp import SmtpEmulator
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.message import dot_stuff, expected_message
from bench.workload.model import Mail, SendMail, SmtpClientSettings, SmtpServerSpec, Workload

CLIENT = SmtpClientSettings(user="device", password="pw", mail_from="dev@bench.test", domain="dev.bench.test")
MAIL = Mail(to="inbox@bench.test", subject="s", body=b"hello\r\n.dot line\r\n")
INFO = DeviceInfo("t/1", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "127.0.0.1", "")


def _op(ok: bool = True, **fields: str) -> OpResult:
    return OpResult("smtp.send", {}, ok, dict(fields), b"", time.time(), time.time())


def _run(tmp_path: Path, session, criteria: tuple[str, ...], result: OpResult | None = None,  # type: ignore[no-untyped-def]
         wire: bytes | None = None, step: SendMail = SendMail(MAIL), **server) -> list:
    """Judge a real client's session with the emulator; ``wire``: a capture whose DATA section
    carries these octets (before the terminating ".\\r\\n") too."""
    with SmtpEmulator(users={"device": "pw"}, **server) as srv:
        session(srv.port)
        srv.wait_sessions(1, timeout=5)
        transcript = srv.transcript
    wl = Workload("t", "", (step,), criteria, smtp_client=CLIENT, smtp_server=SmtpServerSpec())
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(wl.steps[0], (result or _op(),))], smtp=transcript)
    ev.server_ports = {"smtp": 0}
    if wire is not None:
        trace = Trace()
        smtp_session(trace, ("10.0.2.15", 49153), ("10.0.2.2", 25), body=wire)
        ev.pcap, ev.server_ports = trace.write(tmp_path / "wire.pcap"), {"smtp": 25}
    return judge_run(ev)


def _good(port: int, rcpts: tuple[str, ...] = (MAIL.to,), body: bytes | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT.domain) as s:
        s.login("device", "pw")
        s.sendmail(CLIENT.mail_from, list(rcpts), body if body is not None else expected_message(MAIL, CLIENT))


def test_correct_session_passes(tmp_path: Path) -> None:
    verdicts = _run(tmp_path, _good, ("SMTP-MAIL-1", "SMTP-MAIL-2", "SMTP-EHLO-1", "SMTP-CONN-1"))
    transcript_verdicts = [v for v in verdicts if v.criterion != "SMTP-MAIL-2" and v.summary != "this run has no capture"]
    assert all(v.outcome is Outcome.PASS for v in transcript_verdicts), verdicts


def test_two_recipients_fail_smtp_mail_1(tmp_path: Path) -> None:
    verdicts = _run(tmp_path, lambda p: _good(p, rcpts=(MAIL.to, "other@bench.test")), ("SMTP-MAIL-1",))
    bad = [v for v in verdicts if v.outcome is Outcome.FAIL]
    assert bad and bad[0].criterion == "SMTP-MAIL-1"
    assert any("RCPT" in e.excerpt for e in bad[0].evidence)


def test_altered_body_fails_smtp_mail_2_with_the_offset(tmp_path: Path) -> None:
    altered = expected_message(MAIL, CLIENT).replace(b".dot", b"dot")
    verdicts = _run(tmp_path, lambda p: _good(p, body=altered), ("SMTP-MAIL-2",))
    assert verdicts[0].outcome is Outcome.FAIL
    assert "offset" in verdicts[0].evidence[0].locator


def test_wrong_ehlo_name_fails_smtp_ehlo_1(tmp_path: Path) -> None:
    def session(port: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="someone.else") as s:
            s.noop()

    verdicts = _run(tmp_path, session, ("SMTP-EHLO-1",))
    assert verdicts[0].outcome is Outcome.FAIL and "EHLO dev.bench.test" in verdicts[0].evidence[0].excerpt


def test_auth_plain_with_initial_response_fails_smtp_auth_1(tmp_path: Path) -> None:
    # smtplib sends AUTH PLAIN with the initial response; the seed's client waits for 334
    verdicts = _run(tmp_path, _good, ("SMTP-AUTH-1",))
    assert verdicts[0].outcome is Outcome.FAIL
    assert "no initial response" in verdicts[0].evidence[0].excerpt


def test_error_without_stage_fails_smtp_err_1(tmp_path: Path) -> None:
    with SmtpEmulator(users={"device": "pw"}) as srv:
        _good(srv.port)
        srv.wait_sessions(1, timeout=5)
        transcript = srv.transcript
    wl = Workload("t", "", (SendMail(MAIL, expect="err", stage="rcpt"),), ("SMTP-ERR-1",), smtp_client=CLIENT)
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(wl.steps[0], (_op(False, code="server"),))], smtp=transcript)
    verdicts = judge_run(ev)
    assert verdicts[0].outcome is Outcome.FAIL
    excerpts = " ".join(e.excerpt for e in verdicts[0].evidence)
    assert "expected stage=rcpt" in excerpts and "no successful send after the error" in excerpts


def _mime(headers: tuple[bytes, ...]) -> bytes:
    return b"".join(h + b"\r\n" for h in headers) + b"\r\n" + MAIL.body


def test_headers_in_another_order_with_mime_headers_pass_smtp_mail_2(tmp_path: Path) -> None:
    message = _mime((b"MIME-Version: 1.0", b"Subject: s", b"Content-Type: text/plain; charset=us-ascii",
                     b"To: <inbox@bench.test>", b"From: Device <dev@bench.test>", b"Date: Tue, 1 Dec 2026 10:00:00 +0000"))
    (v,) = _run(tmp_path, lambda p: _good(p, body=message), ("SMTP-MAIL-2",), wire=dot_stuff(message)[:-3])
    assert v.outcome is Outcome.PASS, v.evidence
    assert "MIME-Version" in v.evidence[0].excerpt and "1 line(s) starting with '.' dot-stuffed" in v.evidence[1].excerpt
    assert v.evidence[1].packets


def test_unstuffed_dot_line_on_the_wire_fails_smtp_mail_2(tmp_path: Path) -> None:
    (v,) = _run(tmp_path, _good, ("SMTP-MAIL-2",), wire=expected_message(MAIL, CLIENT))  # '.dot line' as is
    assert v.outcome is Outcome.FAIL
    assert "sent without dot-stuffing: '.dot line" in v.evidence[0].excerpt and v.evidence[0].packets


def test_stored_right_without_a_capture_is_inconclusive(tmp_path: Path) -> None:
    (v,) = _run(tmp_path, _good, ("SMTP-MAIL-2",))
    assert v.outcome is Outcome.INCONCLUSIVE and "no capture" in v.summary


def test_wrong_subject_fails_smtp_mail_2(tmp_path: Path) -> None:
    message = _mime((b"From: dev@bench.test", b"To: inbox@bench.test", b"Subject: not what was given"))
    (v,) = _run(tmp_path, lambda p: _good(p, body=message), ("SMTP-MAIL-2",))
    assert v.outcome is Outcome.FAIL and "Subject 'not what was given'" in v.evidence[0].excerpt


def test_missing_to_and_a_second_from_fail_smtp_mail_2(tmp_path: Path) -> None:
    message = _mime((b"From: dev@bench.test", b"From: dev@bench.test", b"Subject: s"))
    (v,) = _run(tmp_path, lambda p: _good(p, body=message), ("SMTP-MAIL-2",))
    assert v.outcome is Outcome.FAIL
    assert [e.excerpt.split(" ")[:2] for e in v.evidence] == [["2", "From"], ["no", "To"]]


def test_ehlo_answered_by_quit_fails_smtp_ehlo_1(tmp_path: Path) -> None:
    def session(port: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT.domain) as s:
            s.ehlo()  # the 250 reply arrives; the client gives up

    (v,) = _run(tmp_path, session, ("SMTP-EHLO-1",))
    assert v.outcome is Outcome.FAIL and "QUIT right after the 250 reply" in v.evidence[0].excerpt


def test_auth_mechanism_not_advertised_fails_smtp_ehlo_1(tmp_path: Path) -> None:
    def session(port: int) -> None:  # LOGIN advertised; the client picks PLAIN as if it never read the AUTH line
        with smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT.domain) as s:
            s.ehlo()
            s.docmd("AUTH", "PLAIN")

    (v,) = _run(tmp_path, session, ("SMTP-EHLO-1",), auth_mechanisms=("LOGIN",))
    assert v.outcome is Outcome.FAIL
    assert "AUTH PLAIN chosen; the EHLO reply advertised only LOGIN" in v.evidence[0].excerpt


def _login_refused_then(mail_after: bool):  # type: ignore[no-untyped-def]
    """AUTH LOGIN whose password the server refuses (535); then MAIL anyway, or QUIT."""
    import base64

    def session(port: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT.domain) as s:
            s.ehlo(CLIENT.domain)
            assert s.docmd("AUTH LOGIN")[0] == 334
            assert s.docmd(base64.b64encode(b"device").decode())[0] == 334
            assert s.docmd(base64.b64encode(b"pw").decode())[0] == 535
            if mail_after:
                s.docmd(f"MAIL FROM:<{CLIENT.mail_from}>")
    return session


def test_mail_after_a_refused_login_password_fails_smtp_auth_3(tmp_path: Path) -> None:
    from bench.servers.faults import FaultPlan, FaultRule

    refuse = FaultPlan([FaultRule("auth-reply", "reply", line="535 5.7.8 Bad credentials", nth=2)])
    err = _op(ok=False, code="auth", stage="auth", reply="535")
    step = SendMail(MAIL, expect="err", stage="auth", auth="login")
    (bad,) = _run(tmp_path, _login_refused_then(True), ("SMTP-AUTH-3",), result=err, step=step, faults=refuse)
    assert bad.outcome is Outcome.FAIL and any("MAIL sent after AUTH was refused" in e.excerpt for e in bad.evidence), bad
    (good,) = _run(tmp_path, _login_refused_then(False), ("SMTP-AUTH-3",), result=err, step=step, faults=refuse)
    assert not any("MAIL sent" in e.excerpt for e in good.evidence), good
