"""The target file's ``[external]`` section and what it does to a workload (bench.workload.external)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import ConfigError, load_target, project_root
from bench.servers.faults import FaultPlan, FaultRule
from bench.workload.capabilities import NotApplicable
from bench.workload.external import WRONG, on_external
from bench.workload.model import Mail, Pop3Open, Pop3ServerSpec, SendMail, SmtpServerSpec, Workload

BASE = (project_root() / "targets" / "mps2-an385.toml").read_text()
EXTERNAL = """
[external]
pop3 = {host = "10.0.2.2", port = 1110, user = "team", password = "pw", apop = true}
smtp = {host = "10.0.2.2", port = 2525, user = "dev", password = "spw", auth = "login", mail_from = "d@lab", rcpt = "r@lab"}
"""


def _target(tmp_path: Path, extra: str):  # type: ignore[no-untyped-def]
    p = tmp_path / "t.toml"
    p.write_text(BASE + extra)
    return load_target(p)


def test_external_section_parsed_and_applied(tmp_path: Path) -> None:
    ext = _target(tmp_path, EXTERNAL).external
    assert ext is not None and ext.pop3 and ext.smtp and ext.pop3.apop and ext.smtp.auth == "login"
    w = Workload("w", "d", steps=(Pop3Open("u", "p"), Pop3Open("u", "x", expect="err"),
                                  SendMail(Mail("a@b", "s", b"x\r\n"))),
                 pop3_server=Pop3ServerSpec({}), smtp_server=SmtpServerSpec())
    got = on_external(w, ext)
    ok, bad, mail = got.steps
    assert (ok.user, ok.password, ok.apop) == ("team", "pw", True)  # type: ignore[union-attr]
    assert bad.password == "pw" + WRONG  # type: ignore[union-attr]
    assert mail.mail.to == "r@lab"  # type: ignore[union-attr]
    c = got.smtp_client
    assert (c.user, c.password, c.auth, c.mail_from) == ("dev", "spw", "login", "d@lab")
    assert on_external(w, None) is w


def test_a_fault_plan_is_not_applicable_against_a_real_server(tmp_path: Path) -> None:
    ext = _target(tmp_path, EXTERNAL).external
    w = Workload("w", "d", steps=(Pop3Open("u", "p"),),
                 pop3_server=Pop3ServerSpec({}, faults=FaultPlan([FaultRule("PASS", "close")])))
    with pytest.raises(NotApplicable, match="external"):
        on_external(w, ext)


def test_external_keys_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[external.pop3\] passwd: unknown key"):
        _target(tmp_path, '[external]\npop3 = {host = "h", user = "u", password = "p", passwd = "x"}\n')
    with pytest.raises(ConfigError, match=r"auth: must be one of"):
        _target(tmp_path, '[external]\nsmtp = {host = "h", auth = "cram"}\n')


def test_external_from_the_command_line(tmp_path: Path) -> None:
    from bench.config.external import parse_url, with_external

    assert parse_url("pop3://mrose:tan%40staaf@10.0.2.2:1110?apop=1") == (
        "pop3", {"host": "10.0.2.2", "port": 1110, "user": "mrose", "password": "tan@staaf", "apop": True})
    out = with_external("mps2-an385", ["pop3://u:p@10.0.2.2:1110",
                                       "smtp://d:s@10.0.2.2:2525?auth=login&from=a@b&rcpt=c@d"], tmp_path / "t.toml")
    cfg = load_target(out)
    assert cfg.name == "mps2-an385" and cfg.external is not None and cfg.external.smtp is not None
    assert (cfg.external.smtp.auth, cfg.external.smtp.rcpt, cfg.external.pop3.port) == ("login", "c@d", 1110)  # type: ignore[union-attr]
    assert out.stat().st_mode & 0o077 == 0  # it holds passwords
    with pytest.raises(ConfigError, match="unknown parameter 'tls'"):
        parse_url("smtp://h:25?tls=1")
    with pytest.raises(ConfigError, match="expected pop3://"):
        parse_url("imap://h")
    with pytest.raises(ConfigError, match="auth"):
        with_external("mps2-an385", ["smtp://u:p@h:25?auth=cram"], tmp_path / "u.toml")
