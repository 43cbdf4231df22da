"""Credentials stay out of everything recorded: passwords in --base-url, API keys with stray
whitespace. Real CLI runs against the loopback server on both HTTP backends."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from preference_dissect.llm.cache import CACHE_FILE
from preference_dissect.llm.config import HTTP_BACKENDS
from preference_dissect.manifest import scrub_argv, scrub_text
from preference_dissect.testing.openai_server import OpenAIServer
from preference_dissect.urls import host_port, redact_urls, split_userinfo, strip_userinfo

PASSWORD = "s3cret"
SHARMA_CALLS = 2 * 2 * 3  # 2 pairs x 2 orders x 3 batches of features


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as srv:
        yield srv


def with_password(url: str, password: str = PASSWORD) -> str:
    return url.replace("http://", f"http://user:{password}@")


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def assert_nowhere(secret: str, *folders: Path, texts: tuple[str, ...] = ()) -> None:
    for folder in folders:
        for f in folder.rglob("*"):
            if f.is_file():
                assert secret.encode() not in f.read_bytes(), f
    for text in texts:
        assert secret not in text


def annotate(cli, url: str, tmp_path: Path, backend: str, out: str = "a.parquet", env=None):
    return cli(
        "annotate", "bundled:hh-rlhf", "--limit", "2", "--annotator", "sharma24",
        "--model", "m", "--base-url", url, "--http-backend", backend, "--max-retries", "0",
        "--cache-dir", tmp_path / "cache", "--out", tmp_path / "out" / out, "--json",
        "--no-progress", env=env,
    )  # fmt: skip


def test_url_helpers():
    split = split_userinfo("http://us%40er:p%3Aw@127.0.0.1:8080/v1?x=1")
    assert split.url == "http://127.0.0.1:8080/v1?x=1"
    assert (split.username, split.password) == ("us@er", "p:w")
    assert split.basic_auth() == "Basic " + base64.b64encode(b"us@er:p:w").decode()
    assert split_userinfo("http://127.0.0.1:8080/v1").basic_auth() is None
    assert strip_userinfo(None) is None
    assert host_port("https://u:pw@example.com:8443/v1") == "example.com:8443"
    assert host_port(None) == "api.openai.com"
    text = "cannot reach http://u:pw@h:1/v1 or https://x@y/z, not mail a@b.c"
    assert redact_urls(text) == "cannot reach http://h:1/v1 or https://y/z, not mail a@b.c"
    argv = ["prefdissect", "run", "--base-url", f"http://user:{PASSWORD}@127.0.0.1:9/v1"]
    assert PASSWORD not in " ".join(scrub_argv(argv)) and PASSWORD not in scrub_text(argv[-1])


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_password_in_base_url_is_sent_but_never_recorded(cli, server, tmp_path, backend):
    server.reset()
    url = with_password(server.base_url)
    res = annotate(cli, url, tmp_path, backend)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["requests"] == SHARMA_CALLS
    # the request arrived, with the credentials as HTTP basic auth
    basic = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    assert [e.get("auth_sha256") for e in server.chat_requests()] == [digest(basic)] * 12
    with sqlite3.connect(tmp_path / "cache" / CACHE_FILE) as db:
        hosts = {h for (h,) in db.execute("SELECT DISTINCT host FROM answers")}
    assert hosts == {f"127.0.0.1:{server.port}"}
    # a second run, and one with a rotated password, are answered from the cache
    again = annotate(cli, url, tmp_path, backend, "b.parquet")
    rotated = annotate(
        cli, with_password(server.base_url, "n3w-pass"), tmp_path, backend, "c.parquet"
    )
    for r in (again, rotated):
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)
        assert summary["requests"] == 0 and summary["cache_hits"] == SHARMA_CALLS
    assert len(server.chat_requests()) == SHARMA_CALLS
    outputs = (res.stdout, res.stderr, again.stdout, again.stderr)
    assert_nowhere(PASSWORD, tmp_path, texts=outputs)


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_password_stays_out_of_manifest_report_and_error_lines(cli, server, tmp_path, backend):
    url = with_password(server.base_url)
    out = tmp_path / "run"
    res = cli(
        "run", "bundled:arena", "--limit", "12", "--annotator", "sharma24",
        "--classify", "never", "--model", "m", "--base-url", url, "--http-backend", backend,
        "--cache-dir", tmp_path / "cache", "--min-group-size", "5", "--na", "impute",
        "--draws", "50", "--out", out,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"http://127.0.0.1:{server.port}/v1" in manifest["command"]
    assert (out / "report.html").exists()
    with OpenAIServer() as gone:
        dead = with_password(gone.base_url)  # nothing listens there any more
    down = annotate(cli, dead, tmp_path / "dead", backend)
    assert down.returncode == 2 and "cannot reach 127.0.0.1:" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 2  # the estimate line and the error line
    assert "Traceback" not in down.stderr
    assert_nowhere(PASSWORD, tmp_path, texts=(res.stdout, res.stderr, down.stdout, down.stderr))


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_api_key_with_a_trailing_newline_is_used_stripped(cli, server, tmp_path, backend):
    server.reset()
    key = "sk-test-newline-0123456789"
    res = annotate(cli, server.base_url, tmp_path, backend, env={"OPENAI_API_KEY": key + "\n"})
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if "OPENAI_API_KEY" in line]
    assert warnings == [
        "prefdissect: warning: OPENAI_API_KEY has leading/trailing whitespace or a newline; "
        "using it stripped"
    ]
    assert {e.get("auth_sha256") for e in server.chat_requests()} == {digest(key)}
    assert key not in res.stderr + res.stdout


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_api_key_with_inner_whitespace_is_one_line_naming_the_variable(
    cli, server, tmp_path, backend
):
    server.reset()
    env = {"PD_TEST_KEY": "sk-broken key\n0123"}
    res = cli(
        "annotate", "bundled:hh-rlhf", "--limit", "1", "--annotator", "sharma24", "--model", "m",
        "--base-url", server.base_url, "--api-key-env", "PD_TEST_KEY", "--http-backend", backend,
        "--no-cache", "--no-progress", "--out", tmp_path / "k.parquet", env=env,
    )  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr
    [line] = [x for x in res.stderr.splitlines() if "error" in x]
    assert "PD_TEST_KEY contains a space, a control character" in line
    assert "sk-broken" not in res.stderr and not server.chat_requests()
    assert not (tmp_path / "k.parquet").exists()
