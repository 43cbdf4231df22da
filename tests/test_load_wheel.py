"""The bundled data and definitions (annotators/, models/) ship in the wheel and are found
after a NON-editable install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HH = "preference_dissect/bundled_data/hh-rlhf/harmless-base-test.jsonl.gz"


@pytest.mark.slow
def test_wheel_contains_and_finds_bundled_data(tmp_path):
    # hatchling (the build backend) is a test extra, so the build runs without isolation
    # and offline.
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(REPO),
            "-w",
            str(wheels),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("preference_dissect-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert HH in names
        assert (
            "preference_dissect/bundled_data/gair-preference-dissection/human_labels.json" in names
        )
        assert "preference_dissect/bundled_annotators/gair29/prompts/errors.jinja" in names
        assert "preference_dissect/bundled_annotators/_shared/prompts/pairwise.jinja" in names
        assert "preference_dissect/bundled_models/logistic.yaml" in names
        assert "preference_dissect/bundled_interventions/manipulate/manipulate.yaml" in names
        assert "preference_dissect/bundled_interventions/sycophancy/probe.yaml" in names
        assert "preference_dissect/bundled_models/prices/openai.yaml" in names
        assert "preference_dissect/py.typed" in names
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        assert "Version: 0.1.0" in zf.read(meta).decode()  # from preference_dissect/_version.py
        site = tmp_path / "site"
        zf.extractall(site)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code = (
        "import json, preference_dissect, preference_dissect.bundled as b\n"
        "from preference_dissect.definitions import definitions_root\n"
        "from preference_dissect.annotate import get_annotator\n"
        "from preference_dissect.fit.spec import FitSpec\n"
        "from preference_dissect.load import load_source\n"
        "import preference_dissect as pdx\n"
        "ds = load_source('bundled:hh-rlhf', limit=3)\n"
        "assert len(pdx.annotate(pdx.load('bundled:hh-rlhf', limit=3), progress=False))\n"
        "ann = get_annotator('gair29')\n"
        "print(json.dumps({'pkg': preference_dissect.__file__, 'root': str(b.data_root()),"
        " 'hh': str(b.bundled_path('hh-rlhf')), 'pairs': len(ds.pairs),"
        " 'annotators': str(definitions_root('annotators')),"
        " 'models': str(definitions_root('models')), 'prompts': len(ann.prompt_hashes()),"
        " 'interventions': str(definitions_root('interventions')),"
        " 'prior': FitSpec().prior.describe()}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["pkg"].startswith(str(site))
    assert Path(got["root"]) == site / "preference_dissect" / "bundled_data"
    assert Path(got["hh"]).is_file() and got["hh"].startswith(str(site))
    assert got["pairs"] == 3
    assert Path(got["annotators"]) == site / "preference_dissect" / "bundled_annotators"
    assert Path(got["models"]) == site / "preference_dissect" / "bundled_models"
    assert Path(got["interventions"]) == site / "preference_dissect" / "bundled_interventions"
    assert got["prompts"] == 7 and got["prior"] == "laplace:0.1"
