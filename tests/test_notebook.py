"""notebooks/bybit_trace.ipynb runs top to bottom against a small store of the real Bybit records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from explorer_server import Chain, ExplorerServer
from helpers import run_cli, trace

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "bybit_trace.ipynb"


def test_the_notebook_executes_on_a_traced_store(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is a test extra (pip install -e '.[test]')")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is a test extra (pip install -e '.[test]')")
    db = tmp_path / "bybit.db"
    with ExplorerServer(Chain.from_fixtures()) as server:
        trace(server, db)
    graphml = tmp_path / "bybit.graphml"
    assert run_cli("export", "--db", db, "--out", graphml).exit_code == 0
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # committed without outputs
    for env in ({"TRACER_DB": str(db)}, {"TRACER_DB": str(db), "TRACER_GRAPHML": str(graphml)}):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        if "TRACER_GRAPHML" not in env:
            monkeypatch.delenv("TRACER_GRAPHML", raising=False)
        ran = nbclient.NotebookClient(nbformat.read(NOTEBOOK, as_version=4), timeout=120, kernel_name="python3",
                                      resources={"metadata": {"path": str(tmp_path)}})
        ran.execute()  # raises CellExecutionError on any failing cell
        text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                         for c in ran.nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
        assert "transfers" in text and "poisoning spam" in text
        assert "Velora (ParaSwap) Delta: AugustusExecutor v1" in text  # the top exit of the real records
        assert "→" in text  # a widest path from the seed was found
        images = [o for c in ran.nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert len(images) >= 2  # per hop and over time
    assert os.environ.get("TRACER_DB") == str(db)
