"""Curated labels and imported public datasets."""

import json
from pathlib import Path

import pytest

from conftest import HOP1_CONSOLIDATION, HOP2_FORWARD
from helpers import run_cli, trace
from tracer.label_import import category_of, read_labels
from tracer.labels import curated_labels
from tracer.store import Store

LABELS = Path(__file__).resolve().parent / "data" / "labels"  # small samples of each dataset: see its README.md

REQUIRED = {
    "0x12d66f87a04a9e220743712ce6d9bb1b5616b8fc": "mixer", "0x47ce0c6ed5b0ce3d3a51fdb1c52dc66a7c3c2936": "mixer",
    "0x910cbd523d972eb0a6f4cae4618ad62622b39dbf": "mixer", "0xa160cdab225685da1d56aa342ad8841c3b53f291": "mixer",
    "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b": "mixer", "0x722122df12d4e14e13ac3b6895a86e84145b6967": "mixer",
    "0xd37bbe5744d730a1d98d8dc97c42f0ca46ad7146": "bridge", "0x3624525075b88b24ecc29ce226b0cec1ffcb6976": "bridge",
    "0xc145990e84155416144c532e31f89b840ca8c2ce": "bridge", "0x42a5ed456650a09dc10ebc6361a7480fdd61f27b": "bridge",
    "0xe3985e6b61b814f7cdb188766562ba71b446b46d": "bridge", "0xf5e10380213880111522dd0efd3dbb45b9f62bcc": "bridge",
    "0x1231deb6f5749ef6ce6943a275a1d3e7486f4eae": "bridge", "0xf1da173228fcf015f43f3ea15abbb51f0d8f1123": "exchange",
    "0x5c7bcd6e7de5423a257d81b442095a1a6ced35c5": "bridge", "0x77b2043768d28e9c9ab44e1abfc95944bce57931": "bridge",
    "0x150f94b44927f078737562f0fcf3c95c01cc2376": "bridge", "0x3ee18b2214aff97000d974cf647e7c347e8fa585": "bridge",
    "0x2796317b0ff8538f253012862c06787adfb8ceb6": "bridge", "0xb8901acb165ed027e32754e0ffe830802919727f": "bridge",
    "0x8eb8a3b98659cce290402893d0123abb75e3ab28": "bridge", "0x4dbd4fc535ac27206064b68ffcf827b0a60bab3f": "bridge",
    "0x99c9fc46f92e8a1c0dec1b1747d010903e884be1": "bridge", "0x3154cf16ccdb4c6d922629664174b904d80f2c35": "bridge",
    "0x7d0ccaa3fac1e5a943c5168b6ced828691b46b36": "dex",
}


def test_curated_labels_hold_the_issue_facts_each_with_a_source():
    labels = curated_labels()
    for address, category in REQUIRED.items():
        assert labels[address].category == category, address
    assert all(lab.source for lab in labels.values())


def test_categories_of_imported_tags():
    assert category_of(["binance"], "Binance 14") == "exchange"
    assert category_of(["ofac-sanctions-lists"], "Ronin Bridge Exploiter") == "malicious"
    assert category_of(["tornado-cash"], "Tornado.Cash: Router") == "mixer"
    assert category_of(["airdrop-hunter"], "") == "other"


def test_importing_the_public_datasets(tmp_path):
    db = tmp_path / "labels.db"
    result = run_cli("labels", "import", LABELS, "--db", db)
    assert result.exit_code == 0, result.output
    store = Store.open(db)
    binance = store.imported_labels("0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be")
    assert {r["category"] for r in binance} == {"exchange"} and all(r["source"] for r in binance)
    assert len(binance) == 3  # combinedAllLabels.json, accounts/binance.json, accounts/binance.csv
    ronin = store.imported_labels("0x098b716b8aaf21512996dc57eb0615e2383e2f96")
    assert {r["category"] for r in ronin} == {"sanctioned", "malicious"}
    assert len(ronin) == 4  # both OFAC lists, etherscan-labels, eth-labels
    by_category = dict(store.conn.execute("SELECT category, count(*) FROM labels GROUP BY category").fetchall())
    assert by_category == {"sanctioned": 10, "exchange": 8, "malicious": 7, "mixer": 6, "phishing": 6,
                           "bridge": 3, "dex": 1, "other": 1}  # phishing: Forta's datasets
    assert store.imported_labels("0x9d6971bf21b0e94724a7134371a8f7f41bb9db88")[0]["label"] == "airdrop-hunter"
    store.close()
    again = run_cli("labels", "import", LABELS, "--db", db)  # idempotent
    assert again.exit_code == 0
    store = Store.open(db)
    assert store.conn.execute("SELECT count(*) FROM labels").fetchone()[0] == \
        len({(lab.address, lab.source) for lab in read_labels(LABELS)}) == 42
    store.close()


@pytest.mark.parametrize("relative, count", [
    ("etherscan-labels/combinedAllLabels.json", 7), ("etherscan-labels/accounts/binance.csv", 3),
    ("etherscan-labels/accounts/binance.json", 3), ("eth-labels/etherscan/tornado-cash.accounts.json", 4),
    ("ofac-sanctioned-digital-currency-addresses/sanctioned_addresses_ETH.json", 5),
    ("ofac-sanctioned-digital-currency-addresses/sanctioned_addresses_ETH.txt", 5),
    ("labelled-datasets/labels/1/phishing_scams.csv", 4),
    ("labelled-datasets/labels/1/malicious_smart_contracts.csv", 3),
    ("labelled-datasets/labels/1/etherscan_malicious_labels.csv", 4),
])
def test_every_format_reads(relative, count):
    rows = list(read_labels(LABELS / relative))
    assert len(rows) == count  # every row of the sample file
    assert all(r.address.startswith("0x") and len(r.address) == 42 and r.address == r.address.lower() and r.source
               for r in rows)


def test_imported_service_labels_stop_the_trace_and_curated_ones_win(explorer, db_path, tmp_path):
    own = tmp_path / "my.accounts.json"
    own.write_text(json.dumps([{"address": HOP1_CONSOLIDATION, "nameTag": "Some Exchange 7"},
                               {"address": "0x6bb000067005450704003100632eb93ea00c0000", "nameTag": "Not Velora"}]))
    own = own.rename(tmp_path / "binance.accounts.json")
    assert run_cli("labels", "import", own, "--db", db_path).exit_code == 0
    trace(explorer, db_path)
    store = Store.open(db_path)
    assert store.address(HOP1_CONSOLIDATION).category == "exchange" and not store.address(HOP1_CONSOLIDATION).followed
    assert store.address(HOP2_FORWARD) is None or store.address(HOP2_FORWARD).hop is None
    store.close()
    info = json.loads(run_cli("show", HOP1_CONSOLIDATION, "--db", db_path, "--json").stdout)
    assert info["label"].startswith("FBI PSA")  # the seed file's attribution is curated too, and wins
    assert {"label": "Some Exchange 7", "category": "exchange",
            "source": "eth-labels: " + tmp_path.name + "/binance.accounts.json"} in info["imported_labels"]
    from tracer.labels import best_label
    store = Store.open(db_path)
    velora = "0x6bb000067005450704003100632eb93ea00c0000"
    imported = [tuple(r) for r in store.imported_labels(velora)]
    assert imported and best_label(velora, imported).label.startswith("Velora")  # curated wins
    store.close()


def test_bad_label_paths(tmp_path):
    result = run_cli("labels", "import", tmp_path / "missing", "--db", tmp_path / "c.db")
    assert result.exit_code == 2 and "no such file" in result.stderr
    junk = tmp_path / "x.accounts.json"
    junk.write_text("{not json")
    result = run_cli("labels", "import", junk, "--db", tmp_path / "c.db")
    assert result.exit_code == 2 and "not valid JSON" in result.stderr
