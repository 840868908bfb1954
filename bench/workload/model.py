"""Workloads as data: what the device should do, what the servers hold and how
they misbehave, and which criteria judge the result.

A workload names no driver and no port: the runner binds it to whatever target
the run uses, and turns its steps into agent commands.

In the acceptance suite a workload's criteria are its test's
``@pytest.mark.criterion(...)``: ``bench.check`` fills them in, so they are
declared once. A workload built with criteria of its own (the checks' tests,
scripts) has them checked against the catalogue when it is made.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bench.config.catalogue import load_catalogue

Priority = Literal["normal", "high", "low"]
AuthType = Literal["plain", "login", "none"]


@dataclass(frozen=True)
class SmtpClientSettings:
    """What the application gives ``nxd_smtp_client_create``."""

    user: str = "device"
    password: str = "s3cret-pw"
    mail_from: str = "device@bench.test"
    domain: str = "device.bench.test"
    auth: AuthType = "plain"


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: bytes
    priority: Priority = "normal"
    fill: int = 0  # instead of ``body``: this many octets of the fill pattern, generated on the device


@dataclass(frozen=True)
class SmtpServerSpec:
    """The SMTP emulator's accounts, behaviour options and fault plan."""

    users: dict[str, str] = field(default_factory=lambda: {"device": "s3cret-pw"})
    options: dict[str, Any] = field(default_factory=dict)  # emulator keyword options
    faults: Any = None  # bench.servers.faults.FaultPlan


@dataclass(frozen=True)
class Pop3ServerSpec:
    """The POP3 emulator's maildrops (user -> (password, messages)), options, faults."""

    maildrops: dict[str, tuple[str, tuple[bytes, ...]]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    faults: Any = None


# -- steps: what the device is asked to do --------------------------------
Expect = Literal["ok", "err"]


@dataclass(frozen=True)
class SendMail:
    mail: Mail
    expect: Expect = "ok"
    stage: str = ""  # with expect="err": the stage the device must name
    auth: AuthType | None = None  # override the client's auth type for this mail


@dataclass(frozen=True)
class Pop3Open:
    user: str
    password: str
    apop: bool = False
    expect: Expect = "ok"
    stage: str = ""


@dataclass(frozen=True)
class Pop3Op:
    """One POP3 operation after login: stat, list, retr, dele, noop, rset, quit, abort."""

    op: Literal["stat", "list", "retr", "dele", "noop", "rset", "quit", "abort"]
    n: int | None = None
    expect: Expect = "ok"
    #: the step only probes that the session is still usable: on a device that does not
    #: declare its verb (pop3.noop), STAT asks the same (bench.workload.capabilities)
    probe: bool = False


Step = SendMail | Pop3Open | Pop3Op


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    steps: tuple[Step, ...]
    criteria: tuple[str, ...] = ()  # in a test: its criterion marker's (see the module docstring)
    family: Literal[4, 6] = 4
    smtp_client: SmtpClientSettings = SmtpClientSettings()
    smtp_server: SmtpServerSpec | None = None
    pop3_server: Pop3ServerSpec | None = None
    timeout_ms: int = 5000
    trace_memory: bool = False  # one sys.info after each mail sent (a soak's rounds): the report plots them

    def __post_init__(self) -> None:
        catalogue = load_catalogue()
        if catalogue.unknown(self.criteria):
            raise ValueError(f"workload {self.name!r}: {catalogue.explain_unknown(self.criteria)}")

