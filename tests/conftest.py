from __future__ import annotations

import faulthandler
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from explorer_server import Chain, ExplorerServer  # noqa: E402

EXPLOITER = "0x47666fab8bd0ac7003bce3f5c3585383f09486e2"
HOP1_CONSOLIDATION = "0xa4b2fd68593b6f34e51cb9edb66e71c1b4ab449e"
HOP1_CMETH = "0x1542368a03ad1f03d96d51b414f4738961cf4443"
HOP2_FORWARD = "0xdd90071d52f20e85c89802e5dc1ec0a7b6475f92"
DEX_VENUES = (
    "0x6bb000067005450704003100632eb93ea00c0000",
    "0xfe837a3530dd566401d35befcd55582af7c4dffc",
    "0x04708077eca6bb527a5bbbd6358ffb043a9c1c14",
)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """A thread left stuck holds the interpreter at its exit for ever: once a CI run sat silent after
    "537 passed" until its time ran out. After the session the process gets a while to exit; past it,
    every thread's stack is printed and the run fails (exit 1) instead of hanging."""
    faulthandler.dump_traceback_later(float(os.environ.get("TRACER_TEST_EXIT_GRACE", "60")), exit=True,
                                      file=sys.__stderr__)


@pytest.fixture
def fixture_chain() -> Chain:
    return Chain.from_fixtures()  # tests/data/bybit-hops, part of the repository


@pytest.fixture
def explorer(fixture_chain):
    with ExplorerServer(fixture_chain) as server:
        yield server


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "case.db"


from anvil import ANVIL  # noqa: E402

needs_anvil = pytest.mark.skipif(not ANVIL.exists(), reason=f"anvil not installed at {ANVIL}: run scripts/install-tools.sh")


@pytest.fixture(scope="module")
def scenario_chain():
    """A fresh anvil with the laundering scenario laid on it, shared by a module's read-only tests."""
    if not ANVIL.exists():
        pytest.skip(f"anvil not installed at {ANVIL}: run scripts/install-tools.sh")
    import scenario
    from anvil import Anvil

    node = Anvil()
    try:
        yield node, scenario.build(node)
    finally:
        node.stop()


# ---- the store on both backends ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL cluster for the session (tests/pg_server.py); each test takes its own case."""
    from pg_server import PostgresServer, server_binaries

    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries absent (/usr/lib/postgresql/*/bin): run scripts/setup.sh")
    with PostgresServer() as server:
        yield server


_cases = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at(request, tmp_path) -> str:
    """Where a test's store lives: an SQLite file, or a fresh case on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "case.db")
    server = request.getfixturevalue("pg_server")
    return server.url_for(f"t{next(_cases)}")
