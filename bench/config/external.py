"""External servers given on the command line: ``bench run --external URL``.

``pop3://USER:PASSWORD@HOST:PORT?apop=1`` and
``smtp://USER:PASSWORD@HOST:PORT?auth=login&from=ADDR&rcpt=ADDR`` (user and
password percent-encoded) become the target file's ``[external]`` section: the
run gets its own copy of the target file with that section added
(``<run-dir>/target-external.toml``, mode 0600: it holds the passwords), so what
the run used is on record like any target file.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import ValidationError

from bench.config.target import ConfigError, ExternalConfig, format_errors, load_target, resolve_target_path

_QUERY = {"pop3": {"apop": "apop"}, "smtp": {"auth": "auth", "from": "mail_from", "rcpt": "rcpt"}}


def parse_url(url: str) -> tuple[str, dict[str, object]]:
    """(protocol, the section's keys) of one ``--external`` URL."""
    u = urlsplit(url)
    if u.scheme not in _QUERY or not u.hostname:
        raise ConfigError(f"--external {url!r}: expected pop3://user:password@host:port or smtp://...")
    try:
        port = u.port
    except ValueError:
        raise ConfigError(f"--external {url!r}: the port is not a number") from None
    keys: dict[str, object] = {"host": u.hostname}
    if port:
        keys["port"] = port
    if u.username is not None:
        keys["user"] = unquote(u.username)
    if u.password is not None:
        keys["password"] = unquote(u.password)
    for name, values in parse_qs(u.query).items():
        if name not in _QUERY[u.scheme]:
            raise ConfigError(f"--external {u.scheme}: unknown parameter {name!r} "
                              f"(known: {', '.join(_QUERY[u.scheme])})")
        value = values[-1]
        keys[_QUERY[u.scheme][name]] = value.lower() in ("1", "true", "yes") if name == "apop" else value
    return u.scheme, keys


def _toml_table(name: str, keys: dict[str, object]) -> str:
    # JSON strings, integers and booleans are TOML values too
    return f"[external.{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())


def with_external(target: str | Path, urls: list[str], out: Path) -> Path:
    """A copy of ``target``'s file at ``out`` with the servers of ``urls`` as its ``[external]``."""
    path = resolve_target_path(target)
    text = path.read_text()
    data = tomllib.loads(text)
    if "external" in data:
        raise ConfigError(f"{path}: [external] is in the target file already: give the servers in one place")
    sections = dict(parse_url(u) for u in urls)
    try:
        ExternalConfig.model_validate(sections)
    except ValidationError as exc:
        raise ConfigError(format_errors(Path("--external"), exc)) from None
    head = "" if "name" in data else f"name = {json.dumps(path.stem)}\n"
    out.write_text(f"# {path} with the servers given by --external\n{head}{text}\n"
                   + "\n".join(_toml_table(n, k) for n, k in sections.items()))
    out.chmod(0o600)  # it holds the servers' passwords, as the target file would
    load_target(out)  # the whole file, validated as any target file
    return out
