"""``prefdissect report``: one self-contained, escaped HTML file from a run directory."""

from __future__ import annotations

import base64
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_support import (
    SECRET_KEY,
    XSS_IMG,
    XSS_PROMPT,
    XSS_SCRIPT,
    build_run_dir,
)

from preference_dissect.report import sections
from preference_dissect.report.artifacts import Artifact


class _Tags(HTMLParser):
    """Collect start tags and their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    run = build_run_dir(tmp_path_factory.mktemp("report") / "run")
    analysis = run / "analysis"
    analysis.mkdir()
    _write_png(analysis / "scores.png")
    _write_png(analysis / "scores_all.png")  # the report draws per-group scores itself
    (analysis / "scores.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (analysis / "evil.svg").write_text(
        "<svg xmlns='http://www.w3.org/2000/svg'><script>window.__xss=3</script>"
        "<rect width='10' height='10' fill='red'/></svg>"
    )
    pd.DataFrame({"judge": ["human", "<i>x</i>"], "score": [61.94321, 38.7]}).to_csv(
        analysis / "top.csv", index=False
    )
    (run / "summary.json").write_text(json.dumps({"pairs": 60, "api_key": SECRET_KEY}))
    audit = run / "audit"
    audit.mkdir()
    audit_table = {"judge": ["longer"], "agreement": [0.5123], "position_consistency": [0.9]}
    pd.DataFrame(audit_table).to_csv(audit / "judges.csv", index=False)
    return run


@pytest.fixture(scope="module")
def full_report(full_run, tmp_path_factory) -> str:
    from preference_dissect.cli.main import main

    assert main(["report", str(full_run)]) == 0
    return (full_run / "report.html").read_text(encoding="utf-8")


def _write_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------- self-contained


def test_report_is_self_contained(full_report):
    tags = _tags(full_report)
    names = [t for t, _ in tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    assert "object" not in names and "embed" not in names and "svg" not in names
    imgs = [a for t, a in tags if t == "img"]
    assert len(imgs) == 7  # 4 weight plots, similarity, scores.png, evil.svg (not scores.svg)
    assert all((a.get("src") or "").startswith("data:image/") for a in imgs)
    for _, attrs in tags:
        for key in ("src", "href", "action", "poster", "background"):
            value = attrs.get(key) or ""
            assert not re.match(r"(?i)(https?:)?//", value), (key, value)
    assert "@import" not in full_report and "url(" not in full_report
    assert "Content-Security-Policy" in full_report


def test_plots_are_real_pngs(full_report):
    srcs = re.findall(r'src="data:image/png;base64,([^"]+)"', full_report)
    assert len(srcs) >= 5
    for b64 in srcs:
        raw = base64.b64decode(b64)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 2000


def test_dataset_text_is_escaped(full_report):
    assert XSS_SCRIPT not in full_report and XSS_IMG not in full_report
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in full_report
    assert "&lt;img src=x onerror=&#34;window.__xss=2&#34;&gt;" in full_report
    assert "Print some &lt;b&gt;HTML&lt;/b&gt; &amp; &#39;quotes&#39; for me" in full_report
    assert XSS_PROMPT not in full_report
    assert "&lt;i&gt;x&lt;/i&gt;" in full_report  # analysis CSV cell
    # the SVG with a script is only reachable as an <img> data URI, where scripts never run
    assert "window.__xss=3" not in full_report
    assert full_report.count("data:image/svg+xml;base64,") == 1


def test_no_secret_reaches_the_report(full_report):
    assert SECRET_KEY not in full_report
    assert "[redacted]" in full_report


# --------------------------------------------------------------------------- sections


def test_sections_show_the_run(full_report, full_run):
    text = full_report
    for heading in (
        "Data summary",
        "Annotation quality",
        "Attribute weights by group",
        "Error sensitivity",
        "Judge similarity",
        "Judge audits",
        "Convergence diagnostics",
        "Run manifest",
        "Example pairs",
    ):
        assert heading in text
    assert "not produced in this run" not in text.split('id="errors"')[0]
    for group in ("all", "Advice", "Communication", "Unsafe Queries"):
        assert f"<h3>{group}</h3>" in text
    # label split: 60 pairs, both judges
    assert "<dt>pairs</dt><dd>60</dd>" in text
    cells = r"<td>human</td>(\s*<td class=\"n\">\d+</td>){4}\s*<td class=\"n\">60</td>"
    assert re.search(cells, text)
    # example pairs name the attributes each side wins (features of the pair)
    assert re.search(r"A wins on: [a-z_, ]+ · B wins on: ", text)
    # annotation quality: the rules annotator's attributes with 0% NA
    assert "<td>rules</td><td>words</td>" in text
    # tokens from the manifest
    assert "1,200" in text and "0.0100" in text
    # audit table and analysis table are rendered with rounded numbers
    assert "0.512" in text and "61.94" in text and "61.94321" not in text
    # the analysis folder's own per-group plot is not embedded a second time
    assert "scores_all.png" not in text and "similarity plots of this folder (1)" in text
    # manifest sha256 of the bundled data file
    manifest = json.loads((full_run / "manifest.json").read_text())
    assert manifest["input"]["sha256"] in text


def test_convergence_flags_the_bad_fit(full_report):
    rows = re.findall(r"<tr class=\"warn\">(.*?)</tr>", full_report, flags=re.S)
    conv = [r for r in rows if "divergences" in r]
    assert len(conv) == 1
    assert "<td>human</td><td>Unsafe Queries</td>" in conv[0]
    assert "R-hat" in conv[0] and "3 divergences" in conv[0]
    section = full_report.split('id="convergence"')[1].split("</section>")[0]
    # every fit on fewer than 30 pairs is flagged too (a 3-pair fit is no "0 warnings" fit)
    small = re.findall(r"only (\d+) pairs: too few to trust its weights", section)
    assert small and all(int(n) < 30 for n in small)
    flagged = re.findall(r'<tr class="warn"><td>(.*?)</tr>', section, flags=re.S)
    assert f"{len(flagged)} with warnings" in section
    assert all("only" in r or "divergences" in r for r in flagged)
    # the missing fit (judge "longer", group "all") is not listed
    assert "<td>longer</td><td>all</td>" not in section


def test_missing_artifacts_say_so(tmp_path, cli):
    run = build_run_dir(tmp_path / "run", n=12, fit=None, manifest=False)
    (run / "features.parquet").unlink()
    res = cli("report", run, "--out", tmp_path / "out" / "r.html", "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["artifacts"]["fit"] == "missing" and info["artifacts"]["pairs"] == "ok"
    html = (tmp_path / "out" / "r.html").read_text()
    assert not (run / "report.html").exists()
    for what in (
        "The fit (fit.nc) was not produced in this run",
        "Features (features.parquet) not produced in this run",
        "The manifest (manifest.json) was not produced in this run",
        "Judge audits were not produced in this run",
    ):
        assert what in html
    assert "&lt;script&gt;window.__xss=1" in html


def test_empty_run_dir_renders_every_section_as_absent(tmp_path, cli):
    res = cli("report", tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert html.count("not produced in this run") >= 8
    assert "<img" not in html


def test_corrupt_fit_is_reported_not_fatal(tmp_path, cli):
    run = build_run_dir(tmp_path / "run", n=12, fit=None)
    (run / "fit.nc").write_bytes(b"this is not netcdf")
    res = cli("report", run, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["artifacts"]["fit"] == "error"
    html = (run / "report.html").read_text()
    assert 'class="badge error"' in html


def test_bad_input_exits_2_with_one_line(tmp_path, cli):
    res = cli("report", tmp_path / "nope")
    assert res.returncode == 2
    assert "run directory not found" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = cli("report", tmp_path, "--examples", "-1")
    assert res.returncode == 2 and "--examples" in res.stderr
    assert not (tmp_path / "report.html").exists()


def test_report_overwrites_atomically(full_run, tmp_path):
    from preference_dissect.report import build_report

    out = tmp_path / "r.html"
    out.write_text("old")
    build_report(full_run, out, examples=1)
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count('class="pair"') == 1
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


# --------------------------------------------------------------------- numbers


def _idata(weights: np.ndarray, judges, groups, attrs):
    import arviz as az

    return az.from_dict(
        posterior={"weight": weights},
        dims={"weight": ["judge", "group", "attribute"]},
        coords={"judge": judges, "group": groups, "attribute": attrs},
    )


def _fit_artifact(idata) -> Artifact:
    return Artifact("fit", Path("fit.nc"), "ok", idata)


def test_weight_section_numbers():
    import arviz as az

    rng = np.random.default_rng(3)
    w = rng.normal(0.3, 0.1, size=(2, 400, 1, 1, 2))
    w[..., 1] = -w[..., 1]
    out = sections.weights_section(_fit_artifact(_idata(w, ["h"], ["all"], ["x", "y"])), top_k=1)
    rows = {r["attribute"]: r for r in out["groups"][0]["table"]}
    flat = w[..., 0].ravel()
    assert rows["x"]["mean"] == pytest.approx(flat.mean())
    low, high = az.hdi(flat, hdi_prob=0.95)
    assert rows["x"]["hdi_low"] == pytest.approx(low)
    assert rows["x"]["hdi_high"] == pytest.approx(high)
    assert rows["x"]["score"] == pytest.approx(100 / (1 + math.exp(-flat.mean())))
    assert rows["y"]["score"] < 50
    ranked = out["groups"][0]["ranked"][0]
    assert [a["attribute"] for a in ranked["top"]] == ["x"]
    assert [a["attribute"] for a in ranked["bottom"]] == ["y"]
    assert out["groups"][0]["plot"].startswith("data:image/png;base64,")


def test_similarity_and_error_sensitivity():
    attrs = ["no_minor_errors", "no_moderate_errors", "no_severe_errors", "clear", "lengthy"]
    base = np.array([0.1, 0.4, 0.9, -0.2, 0.3])
    judges, groups = ["human", "same", "opposite"], ["all", "Advice", "Code"]
    w = np.zeros((1, 2, 3, 3, 5))
    for gi in range(3):
        w[..., 0, gi, :] = base * (gi + 1)
        w[..., 1, gi, :] = 2 * base * (gi + 1) + 0.05
        w[..., 2, gi, :] = -base
    fit = _fit_artifact(_idata(w, judges, groups, attrs))
    scores = sections.weights_section(fit)["scores"]
    sim = sections.similarity_section(fit, scores)
    matrix = pd.DataFrame(sim["matrix"], index=sim["judges"], columns=sim["judges"])
    assert matrix.loc["human", "same"] == pytest.approx(1.0)
    assert matrix.loc["human", "opposite"] == pytest.approx(-1.0)
    assert sim["plot"].startswith("data:image/png;base64,")
    err = sections.error_sensitivity_section(fit)
    assert err["groups"] == ["Advice", "Code"]  # GAIR scenario groups only, not "all"
    assert err["used"] == "the scenario groups"
    human = next(r for r in err["rows"] if r["judge"] == "human")["cells"]
    sig = lambda x: 100 / (1 + math.exp(-x))  # noqa: E731
    assert human[2]["score"] == pytest.approx((sig(0.9 * 2) + sig(0.9 * 3)) / 2)
    one_judge = _fit_artifact(_idata(w[:, :, :1], judges[:1], groups, attrs))
    assert "note" in sections.similarity_section(one_judge, scores[scores["judge"] == "human"])


def test_annotation_rates():
    ann = pd.DataFrame(
        {
            "pair_id": ["p1", "p1", "p2", "p2", "p1", "p2"],
            "annotator": ["gair29"] * 6,
            "attribute": ["clear"] * 4 + ["show_empathetic"] * 2,
            "side": ["a", "b", "a", "b", "a", "a"],
            "value": [1.0, np.nan, np.nan, 2.0, np.nan, 3.0],
            "na_reason": [None, "parse_failed", "http_error", None, "not_triggered", None],
            "raw": ["{}"] * 6,
        }
    )
    out = sections.annotation_section(
        Artifact("annotations", Path("x"), "ok", ann), Artifact("manifest", Path("m"))
    )
    rows = {r["attribute"]: r for r in out["rows"]}
    assert rows["clear"]["na_rate"] == 0.5 and rows["clear"]["parse_failed_rate"] == 0.25
    assert rows["clear"]["other_reasons"] == "http_error (1)" and rows["clear"]["warn"]
    assert rows["show_empathetic"]["na_rate"] == 0.0
    assert rows["show_empathetic"]["not_triggered_rate"] == 0.5
    assert out["totals"]["pairs"] == 2


def test_report_cli_help_is_fast(cli):
    res = cli("report", "--help")
    assert res.returncode == 0 and "RUN_DIR" in res.stdout and "--out" in res.stdout


def test_convergence_computed_from_draws_without_fit_diagnostics():
    """An InferenceData from another tool (no ``fit_diagnostics``): R-hat and ESS come from
    the draws and divergences from ``sample_stats.diverging``."""
    import arviz as az

    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.1, size=(2, 400, 1, 2, 3))
    w[1, :, 0, 1, :] += 1.0  # group "B": chains disagree
    diverging = np.zeros((2, 400, 1, 2), dtype=bool)
    diverging[0, :2, 0, 1] = True
    idata = az.from_dict(
        posterior={"weight": w},
        sample_stats={"diverging": diverging},
        dims={"weight": ["judge", "group", "attribute"], "diverging": ["judge", "group"]},
        coords={"judge": ["h"], "group": ["A", "B"], "attribute": ["x", "y", "z"]},
    )
    out = sections.convergence_section(Artifact("fit", Path("fit.nc"), "ok", idata))
    assert out["warned"] == 1
    bad, good = out["rows"]
    assert bad["group"] == "B" and bad["rhat_max"] > 1.5 and bad["divergences"] == 2
    assert "2 divergences" in bad["flags"] and any(f.startswith("R-hat") for f in bad["flags"])
    assert good["group"] == "A" and good["flags"] == [] and good["rhat_max"] < 1.01
    assert good["ess_bulk_min"] > 400


def test_out_may_be_a_folder_and_run_dir_must_be_one(tmp_path, cli):
    run = build_run_dir(tmp_path / "run", n=6, fit=None)
    out = tmp_path / "reports"
    out.mkdir()
    res = cli("report", run, "--out", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out / "report.html") and (out / "report.html").exists()
    res = cli("report", run / "pairs.parquet")
    assert res.returncode == 2 and "is not a run directory" in res.stderr
    assert "Traceback" not in res.stderr
