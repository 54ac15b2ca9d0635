"""notebooks/explore.ipynb runs top to bottom against the fixture build (headless, offline)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def test_explore_notebook_runs_against_the_fixture_build(fixture_build, monkeypatch):
    monkeypatch.setenv("CHINCHILLA_OUT", str(fixture_build))  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "\n".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert str(fixture_build) in "".join(o.get("text", "") for o in outputs)
    corpora = {p.name.rpartition("_")[0] for p in fixture_build.iterdir() if p.is_dir()}
    assert all(corpus in shown for corpus in corpora)  # sizes table
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # sizes and label plots
    assert "unified record" in html and "instruction row" in html
