"""A whole flow over an API model with a recognizable key (a failed evaluation whose server echoes the key,
then embedding, adapter training, download) leaves the key nowhere: not in any file the workspace or the run
wrote (zip members read unpacked), not in a log line at DEBUG, not on stdout or stderr, masked forms
included."""

from __future__ import annotations

import json
import logging
import re
import zipfile
from pathlib import Path

from explorer.cli import main
from tests.encoders.openai_server import error, serve

KEY = "sk-proj-LEAKCANARY0123456789abcdefQ9Zx7W"
FORMS = [KEY, KEY[3:], KEY[:12], KEY[-6:], "LEAKCANARY"]
MASKED = re.compile(rb"sk-[A-Za-z0-9_-]{0,12}\*{3,}")  # how OpenAI's 401 text shows a key: sk-proj-****...Q9Zx


def leaks(data: bytes) -> list[str]:
    found = [form for form in FORMS if form.encode() in data]
    return found + [m.group().decode() for m in MASKED.finditer(data)]


def files_with_leaks(root: Path) -> dict[str, list[str]]:
    """Every file under ``root`` (and every member of every zip) that holds a form of the key."""
    out: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if found := leaks(data):
            out[str(path)] = found
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if found := leaks(zf.read(name)):
                        out[f"{path}!{name}"] = found
    return out


def test_the_key_appears_in_no_file_no_log_line_and_no_output(httpserver, tmp_path, monkeypatch, capsys, caplog):
    from explorer.jobs.packaging import package
    from explorer.jobs.runs import RunStore

    echo = f"Incorrect API key provided: sk-proj-{'*' * 28}{KEY[-4:]} (full: {KEY})."
    handler = serve(httpserver, error(401, echo, "invalid_api_key"),
                    error(429, f"Rate limit reached for key {KEY}", "rate_limit_exceeded", {"Retry-After": "0"}), dim=16)
    home = tmp_path / "home"
    monkeypatch.setenv("EXPLORER_HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    url = httpserver.url_for("/v1")
    api = ["--model", "openai:text-embedding-3-small", "--base-url", url, "--dimensions", "16"]

    assert main(["evaluate", "--data", "demo", *api]) != 0  # the server rejects the key and echoes it
    run_dir = tmp_path / "run"
    assert main(["train", "--data", "demo", "--method", "adapter", "--epochs", "1", "--out", str(run_dir), *api]) == 0
    zipped = package(RunStore(run_dir.parent).get(run_dir.name))
    assert zipped.is_file()

    assert handler.authorizations and set(handler.authorizations) == {f"Bearer {KEY}"}  # the key was really used
    config = json.loads((run_dir / "config.json").read_text())
    assert config["base_model"] == f"openai:text-embedding-3-small?base_url={url}&dimensions=16"
    output = capsys.readouterr()
    assert "rejected the API key" in output.err and "waiting 0.0 s: rate limited by the server" in caplog.text
    assert files_with_leaks(tmp_path) == {}
    for name, text in (("stdout", output.out), ("stderr", output.err), ("log", caplog.text)):
        assert leaks(text.encode()) == [], name
