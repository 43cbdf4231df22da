"""The example notebooks execute end to end (nbclient, the venv's python3 kernel) and show
their key results; the stored copies carry no outputs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = (
    "01_quick_start.ipynb",
    "02_gair_reproduction.ipynb",
    "03_judge_audit.ipynb",
    "04_interventions.ipynb",
)


def _ensure_kernel() -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)


def _execute(name: str, tmp_path: Path, monkeypatch) -> tuple[str, int]:
    """Run a notebook; return its text outputs joined and the number of PNG outputs."""
    import nbformat
    from nbclient import NotebookClient

    _ensure_kernel()
    monkeypatch.setenv("PREFDISSECT_NOTEBOOK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    texts, pngs = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", out
            if out["output_type"] == "stream":
                texts.append(out["text"])
            elif out["output_type"] in ("execute_result", "display_data"):
                data = out.get("data", {})
                pngs += "image/png" in data
                texts.append(data.get("text/plain", ""))
    return "\n".join(texts), pngs


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_without_outputs(name):
    import nbformat

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_quick_start(tmp_path, monkeypatch):
    text, pngs = _execute("01_quick_start.ipynb", tmp_path, monkeypatch)
    assert "2312 pairs; 19 attributes" in text
    assert re.search(r"most preferred:\n\s+attribute\s+score", text)
    assert pngs >= 1  # the quick start's figure, shown inline without pyplot
    assert re.search(r"report: report\.html \d+ KiB", text)
    assert "same weights as above: True" in text  # pdx.run == the API chain
    assert "ipywidgets" not in text  # no progress-bar warnings in Jupyter
    report = tmp_path / "work" / "run" / "report.html"
    html = report.read_text(encoding="utf-8")
    assert "Attribute weights by group" in html and "not produced in this run" in html  # no audit


@pytest.mark.slow
def test_gair_reproduction(tmp_path, monkeypatch):
    text, pngs = _execute("02_gair_reproduction.ipynb", tmp_path, monkeypatch)
    for row in (
        r"6-14B\s+0\.828\s+0\.828",
        r"34-72B\s+0\.883\s+0\.883",
        r"between\s+0\.737\s+0\.737",
        r"human\s+62\.86\s+62\.86",
        r"gpt-4-1106-preview\s+76\.19\s+76\.19",
        r"qwen-72b-chat\s+65\.27\s+65\.27",
        r"human: lengthy\s+61\.9\s+61\.9",
        r"human: admit limits\s+38\.7\s+38\.7",
        r"GPT-4-Turbo: no severe errors\s+78\.3\s+78\.3",
    ):
        assert re.search(row, text), row
    assert pngs == 1


@pytest.mark.slow
def test_judge_audit(tmp_path, monkeypatch):
    text, pngs = _execute("03_judge_audit.ipynb", tmp_path, monkeypatch)
    assert "5240 pairs; 31 judges" in text
    for row in (
        r"qwen-72b\s+0\.780\s+0\.780",
        r"llama-2-70b\s+0\.741\s+0\.741",
        r"qwen-7b-chat\s+0\.663\s+0\.663",
        r"llama-2-7b-chat\s+0\.647\s+0\.647",
    ):
        assert re.search(row, text), row
    assert re.search(r"longer\s+619\s", text) and "decisive_accuracy" in text
    assert "Adversarial-GPTInst" in text and "Natural" in text
    assert pngs >= 1


def test_interventions_against_the_loopback_server(tmp_path, monkeypatch):
    text, pngs = _execute("04_interventions.ipynb", tmp_path, monkeypatch)
    # the scripted judge: sigmoid(0.8) for the exhibit arm, sigmoid(-0.3) for the avoid arm
    assert re.search(r"exhibit_top\s+all\s+0\.68997\d*\s+0\.68997", text), text
    assert re.search(r"avoid_bottom\s+all\s+0\.42555\d*\s", text), text
    assert "manipulate.png" in text and "'top': [" in text
    assert pngs == 1


def test_quick_start_fits_and_plots_in_ten_lines():
    import nbformat

    nb = nbformat.read(NOTEBOOKS / "01_quick_start.ipynb", as_version=4)
    first = [c for c in nb.cells if c.cell_type == "code"][1]  # after the scratch-folder setup
    lines = [ln for ln in first.source.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) <= 10
    assert "pdx.fit(" in first.source and "pdx.plot_scores(" in first.source
