"""The report's weights section marks attributes whose annotator agreement (``prefdissect
agreement --out RUN/audit/agreement.csv``) is below alpha 0.4."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_support import XSS_SCRIPT, build_run_dir

from preference_dissect.report import sections
from preference_dissect.report.artifacts import AGREEMENT_FILES, Artifact, read_agreement


def _weights(html: str) -> str:
    (section,) = re.findall(r'<section id="weights">(.*?)</section>', html, flags=re.S)
    return section


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return build_run_dir(tmp_path_factory.mktemp("agreement") / "run")


def _render(run: Path) -> str:
    from preference_dissect.cli.main import main

    assert main(["report", str(run)]) == 0
    return (run / "report.html").read_text(encoding="utf-8")


def test_unreliable_attributes_are_marked_in_the_weights_section(run_dir, cli, tmp_path):
    assert "unreliable" not in _weights(_render(run_dir))  # no agreement table: no marks
    ann = pd.read_parquet(run_dir / "annotations.parquet")
    other = ann.copy()
    flip = other["attribute"] == "tokens"
    other.loc[flip, "value"] = -other.loc[flip, "value"]  # the second coder disagrees
    other.to_parquet(tmp_path / "other.parquet")
    out = run_dir / "audit" / "agreement.csv"
    res = cli("agreement", f"run={run_dir / 'annotations.parquet'}",
              f"other={tmp_path / 'other.parquet'}", "--bootstrap", "0", "--out", out)  # fmt: skip
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(out).set_index("attribute")
    assert table.loc["tokens", "alpha"] < 0.4 and table.loc["words", "alpha"] == 1.0
    html = _render(run_dir)
    weights = _weights(html)
    (note,) = re.findall(r'<p class="warn-note unreliable-note">(.*?)</p>', weights, re.S)
    assert '<span class="unreliable">tokens</span>' in note and "audit/agreement.csv" in note
    assert f"(alpha {table.loc['tokens', 'alpha']:.2f})" in note
    assert "words" not in note
    marks = re.findall(r"<td>(\w+) <span class=\"badge warn unreliable\"", weights)
    assert marks and set(marks) == {"tokens"}
    assert XSS_SCRIPT not in html and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html


def test_the_marks_come_from_the_alpha_column(tmp_path):
    import arviz as az

    rng = np.random.default_rng(0)
    idata = az.from_dict(
        posterior={"weight": rng.normal(size=(1, 50, 1, 1, 3))},
        dims={"weight": ["judge", "group", "attribute"]},
        coords={"judge": ["h"], "group": ["all"], "attribute": ["x", "y", "z"]},
    )
    run = tmp_path / "run"
    (run / "analysis").mkdir(parents=True)
    pd.DataFrame({"attribute": ["y", "x", "<b>q</b>", "z"], "alpha": [0.1, 0.39, 0.0, "nan"]}
                 ).to_csv(run / "analysis" / "agreement.csv", index=False)  # fmt: skip
    fit = Artifact("fit", run / "fit.nc", "ok", idata)
    out = sections.weights_section(fit)
    assert out["unreliable"] == {"y": 0.1, "x": 0.39}  # lowest first; not in the fit: left out
    assert out["agreement_file"] == "analysis/agreement.csv"
    assert AGREEMENT_FILES[0] == "audit/agreement.csv"
    (run / "analysis" / "agreement.csv").write_text("attribute,kappa\nx,0.1\n")
    broken = read_agreement(run)
    assert broken.status == "error" and "alpha" in broken.detail
    assert sections.weights_section(fit, agreement=broken)["unreliable"] == {}
