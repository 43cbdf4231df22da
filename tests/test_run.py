"""The main job ``prefdissect run``: every stage artifact, resume, the model path, errors."""

from __future__ import annotations

import json

import arviz as az
import pandas as pd
import pytest

from preference_dissect.testing.openai_server import Fault, OpenAIServer

ARTIFACTS = (
    "pairs.parquet",
    "pairs.labels.parquet",
    "annotations.parquet",
    "features.parquet",
    "fit.nc",
    "analysis",
    "manifest.json",
    "summary.json",
    "report.html",
)


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("run") / "demo"
    res = run_cli("run", "--limit", "400", "--out", out, "--json")
    assert res.returncode == 0, res.stderr
    return out, json.loads(res.stdout), res


def test_offline_run_writes_every_stage_artifact(offline_run):
    out, summary, _ = offline_run
    for name in ARTIFACTS:
        assert (out / name).exists(), name
    assert summary["pairs"] == 400 and summary["annotator"] == "rules"
    assert summary["judges"] == ["human"]
    idata = az.from_netcdf(out / "fit.nc")
    assert set(idata.posterior["weight"].dims) >= {"judge", "group", "attribute"}
    assert "all" in idata.posterior["group"].to_numpy().tolist()
    diag = idata.fit_diagnostics.to_dataframe().reset_index()
    diag = diag[diag["method"] != "none"]
    assert (diag.loc[diag["n"] < 30, "method"] == "skipped").all()
    assert (diag.loc[diag["n"] >= 30, "method"] == "is").all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["stages"])[:5] == ["load", "annotate", "features", "fit", "analyze"]
    assert manifest["input"]["sha256"] and manifest["seeds"]["ab_sides"] == 0
    assert manifest["annotators"]["rules"]["version"]
    assert list((out / "analysis").glob("*.png")) and list((out / "analysis").glob("*.svg"))


def test_rerun_reuses_finished_stages(offline_run, cli):
    out, _, _ = offline_run
    fit_mtime = (out / "fit.nc").stat().st_mtime_ns
    res = cli("run", "--limit", "400", "--out", out)
    assert res.returncode == 0, res.stderr
    for stage in ("load", "annotate", "features", "fit", "analyze"):
        assert f"{stage}: reusing" in res.stdout
    assert (out / "fit.nc").stat().st_mtime_ns == fit_mtime


def test_changed_setting_redoes_that_stage_and_later(offline_run, cli):
    out, _, _ = offline_run
    ann_mtime = (out / "annotations.parquet").stat().st_mtime_ns
    res = cli("run", "--limit", "400", "--out", out, "--min-group-size", "60")
    assert res.returncode == 0, res.stderr
    assert "features: reusing" in res.stdout and "fit: reusing" not in res.stdout
    assert (out / "annotations.parquet").stat().st_mtime_ns == ann_mtime
    diag = az.from_netcdf(out / "fit.nc").fit_diagnostics.to_dataframe().reset_index()
    diag = diag[diag["method"] != "none"]
    assert (diag.loc[diag["n"] < 60, "method"] == "skipped").all()  # the fit applies it


def test_changed_input_file_redoes_load_and_later(tmp_path, cli):
    """Same path, new content: the load stage must not reuse the old pairs."""
    import gzip

    from preference_dissect.bundled import bundled_path

    with gzip.open(bundled_path("hh-rlhf"), "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    args = ("run", src, "--min-group-size", "10", "--no-report", "--out", out)
    assert cli(*args).returncode == 0
    res = cli(*args)
    assert "load: reusing" in res.stdout and "annotate: reusing" in res.stdout
    src.write_text("\n".join(lines[:250]) + "\n", encoding="utf-8")
    res = cli(*args, "--json")
    assert res.returncode == 0, res.stderr
    assert "load: reusing" not in res.stdout + res.stderr
    assert json.loads(res.stdout)["pairs"] == 250


def test_edited_attribute_yaml_redoes_annotation(tmp_path, cli):
    yaml_path = tmp_path / "set.yaml"
    text = "name: mine\nscale: [1, 5]\nattributes:\n  - {name: concise, definition: %s}\n"
    yaml_path.write_text(text % "Says what is needed in few words.", encoding="utf-8")
    out = tmp_path / "run"
    with OpenAIServer() as server:
        args = (
            "run", "bundled:arena", "--limit", "12", "--annotator", yaml_path,
            "--classify", "never", *server.cli_flags(tmp_path / "cache"),
            "--min-group-size", "5", "--na", "impute", "--no-report", "--out", out,
        )  # fmt: skip
        assert cli(*args).returncode == 0
        sent = len(server.chat_requests())
        res = cli(*args)
        assert "annotate: reusing" in res.stdout and len(server.chat_requests()) == sent
        yaml_path.write_text(text % "Short and to the point.", encoding="utf-8")
        res = cli(*args)
        assert res.returncode == 0, res.stderr
        assert "annotate: reusing" not in res.stdout
        assert len(server.chat_requests()) == 2 * sent  # the new prompt is asked afresh


def test_run_with_a_model_annotates_gair29_through_the_server(tmp_path, cli):
    out = tmp_path / "llm"
    with OpenAIServer() as server:
        args = (
            "run",
            "bundled:arena",
            "--limit",
            "40",
            *server.cli_flags(tmp_path / "cache"),
            "--min-group-size",
            "10",
            "--na",
            "impute",
            "--no-report",
            "--out",
            out,
            "--json",
        )
        res = cli(*args, env={"OPENAI_API_KEY": "sk-test-secret-123456"})
        assert res.returncode == 0, res.stderr
        sent = len(server.chat_requests())
        assert sent > 0
        ann = pd.read_parquet(out / "annotations.parquet")
        assert set(ann["annotator"]) == {"gair29"}
        features = pd.read_parquet(out / "features.parquet")
        assert "no_severe_errors" in features.columns
        manifest_text = (out / "manifest.json").read_text()
        assert "sk-test-secret-123456" not in manifest_text
        manifest = json.loads(manifest_text)
        assert manifest["annotators"]["gair29"]["prompt_hashes"]
        assert manifest["servers"]["annotate"].startswith("http://127.0.0.1:")
        # a fresh run directory with the same cache pays for nothing again
        res2 = cli(
            *args[:-3],
            "--out",
            tmp_path / "llm2",
            "--json",
            env={"OPENAI_API_KEY": "sk-test-secret-123456"},
        )
        assert res2.returncode == 0, res2.stderr
        assert len(server.chat_requests()) == sent


def test_transient_failures_are_retried_by_the_next_run_and_only_they(tmp_path, cli):
    """A stage with NAs a re-run may fix (here HTTP 503) is redone; cached answers are not
    asked again; a changed decoding setting redoes annotation; an unchanged one reuses it."""
    out = tmp_path / "run"
    with OpenAIServer(faults=[Fault("status", status=503, times=4)]) as server:
        args = (
            "run", "bundled:arena", "--limit", "12", "--annotator", "sharma24",
            "--classify", "never", *server.cli_flags(tmp_path / "cache"), "--max-retries", "0",
            "--min-group-size", "5", "--na", "impute", "--no-report", "--out", out,
        )  # fmt: skip

        def annotate_stage():
            return json.loads((out / "manifest.json").read_text())["stages"]["annotate"]

        res = cli(*args)
        assert res.returncode == 0, res.stderr
        first = len(server.chat_requests())
        assert annotate_stage()["retryable_failures"] == {"http_503": 4}
        assert "run the same command again" in res.stdout + res.stderr
        ann = pd.read_parquet(out / "annotations.parquet")
        assert (ann["na_reason"] == "http_error").sum() > 0

        res = cli(*args)
        assert res.returncode == 0, res.stderr
        assert len(server.chat_requests()) == first + 4  # only the four failed calls
        assert annotate_stage()["retryable_failures"] == {}
        ann = pd.read_parquet(out / "annotations.parquet")
        assert not (ann["na_reason"] == "http_error").any()

        res = cli(*args)
        assert res.returncode == 0 and "annotate: reusing" in res.stdout + res.stderr
        assert len(server.chat_requests()) == first + 4

        res = cli(*args[:-2], "--temperature", "0.5", "--out", out)
        assert res.returncode == 0, res.stderr
        assert len(server.chat_requests()) == 2 * first + 4  # new decoding: every call again


def test_bad_source_is_one_line_exit_2(tmp_path, cli):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"chosen": "\\n\\nHuman: hi", "rejected": 3}\n')
    res = cli("run", bad, "--out", tmp_path / "run")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "bad.jsonl" in res.stderr
    assert not (tmp_path / "run" / "pairs.parquet").exists()
