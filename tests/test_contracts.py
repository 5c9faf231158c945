"""The compiled test contracts in contracts/build match their Solidity sources."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLC = ROOT / ".tools" / "node_modules" / "solc"


@pytest.mark.skipif(not SOLC.exists() or not shutil.which("node"), reason="solc-js not installed: run scripts/install-tools.sh")
def test_artifacts_match_sources(tmp_path):
    subprocess.run(["node", str(ROOT / "contracts" / "build.js"), str(tmp_path)], check=True, capture_output=True)
    built = sorted(p.name for p in tmp_path.glob("*.json"))
    kept = sorted(p.name for p in (ROOT / "contracts" / "build").glob("*.json"))
    assert built == kept
    for name in built:
        fresh = json.loads((tmp_path / name).read_text())
        stored = json.loads((ROOT / "contracts" / "build" / name).read_text())
        assert fresh == stored, f"{name} is stale: rebuild with `node contracts/build.js`"
