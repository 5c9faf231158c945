"""The Esplora client against a local server answering as Blockstream's and mempool.space's backends do
(tests/esplora_server.py, from ../shared/notes/esplora.md): paging only through /txs/chain, never trusting a
short page, new blocks between page reads, the mempool apart, every error body of the notes, 429 storms."""

from __future__ import annotations

import time

import pytest

from btc_helpers import p2pkh
from esplora_server import HEIGHT0, BtcChain, EsploraServer
from tracer.errors import MalformedResponseError, RateLimitError, SourceError
from tracer.sources.esplora import EsploraClient, default_rate

BUSY = p2pkh("busy")


def busy_chain(n: int = 60) -> tuple[BtcChain, list[str]]:
    """BUSY receives n payments, several to a block, and spends some: n + its spends transactions."""
    chain = BtcChain()
    funder = chain.coinbase(p2pkh("miner"), 10**10, HEIGHT0)
    prev, txids = (funder, 0), []
    for i in range(n):
        change = 10**10 - (i + 1) * 1_000_000
        txid = chain.spend([prev], [(BUSY, 900_000), (p2pkh("miner"), change)], HEIGHT0 + 1 + i // 3)
        txids.append(txid)
        prev = (txid, 1)
    return chain, txids


def client(server: EsploraServer, **kw) -> EsploraClient:
    return EsploraClient(server.url, rate=kw.pop("rate", 1000), backoff=kw.pop("backoff", 0.01), **kw)


@pytest.mark.parametrize("variant", ["blockstream", "mempool"])
def test_the_whole_history_is_read_newest_first_page_by_page(variant):
    chain, txids = busy_chain(60)
    with EsploraServer(chain, variant) as server:
        c = client(server)
        tip = c.tip_height()
        history = c.history(BUSY, tip=tip)
        paths = [p for p in server.log if "/txs" in p]
    assert {t.txid for t in history} == set(txids) and len(history) == 60
    heights = [t.height for t in history]
    assert heights == sorted(heights, reverse=True)
    # three pages of 25, 25 and 10; the count (60 at or below the tip) ends it without asking for an empty page
    assert len(paths) == 3 and paths[0].endswith("/txs/chain") and paths[1].endswith(f"/txs/chain/{paths and history[24].txid}")
    assert all("/txs/mempool" not in p and "after_txid" not in p for p in paths)


def test_a_short_page_is_not_the_end_when_the_count_says_there_is_more():
    """A self-hosted mempool/electrs may page 10 at a time: 10 < 25 is not the end."""
    chain, txids = busy_chain(34)
    with EsploraServer(chain, "mempool", chain_page=10) as server:
        c = client(server)
        history = c.history(BUSY, tip=c.tip_height())
        without_tip = c.history(BUSY)  # nothing to count against: read to an empty page
    assert len(history) == 34 and len(without_tip) == 34


def test_new_blocks_between_page_reads_lose_nothing_and_the_next_run_reads_only_them():
    chain, txids = busy_chain(60)
    arrived: list[str] = []
    with EsploraServer(chain, "blockstream") as server:
        def new_block(address, last):
            if last is not None and len(arrived) < 4:  # two new payments before each of the later pages
                for _ in range(2):
                    prev = chain.order[-1]
                    left = chain.txs[prev]["vout"][1]["value"] - 600_000
                    arrived.append(chain.spend([(prev, 1)], [(BUSY, 500_000), (p2pkh("miner"), left)], chain.tip + 1))
        server.before_page = new_block
        c = client(server)
        tip = c.tip_height()
        first = c.history(BUSY, tip=tip)
        assert set(txids) <= {t.txid for t in first}  # every transaction counted at the start
        newest = first[0].txid
        server.before_page = None
        server.log.clear()
        second = c.history(BUSY, known={newest}, tip=c.tip_height())
    assert {t.txid for t in second} == set(arrived) - {t.txid for t in first}
    assert len([p for p in server.log if "/txs/chain" in p]) == 1


def test_a_vanished_page_cursor_is_an_error_not_the_end_of_the_history():
    chain, txids = busy_chain(60)
    with EsploraServer(chain, "blockstream") as server:
        def reorg(address, last):
            if last is not None and last in chain.txs:  # the block of the cursor is reorganised away
                del chain.txs[last]
                chain.order.remove(last)
        server.before_page = reorg
        c = client(server)
        with pytest.raises(SourceError, match="ended after 25 of 60 transactions"):
            c.history(BUSY, stats=c.address(BUSY), tip=c.tip_height())


def test_the_mempool_is_read_apart_and_an_unconfirmed_tx_is_never_a_page_cursor():
    chain, txids = busy_chain(5)
    pending = chain.spend([(txids[-1], 1)], [(BUSY, 1_000), (p2pkh("miner"), 10**8)], None)
    with EsploraServer(chain, "mempool") as server:
        c = client(server)
        stats = c.address(BUSY)
        history = c.history(BUSY, stats=stats, tip=c.tip_height())
        pool = c.mempool(BUSY)
    assert stats.tx_count == 5 and stats.mempool_tx_count == 1
    assert [t.txid for t in pool] == [pending] and not pool[0].confirmed and pool[0].height is None
    assert pending not in {t.txid for t in history} and len(history) == 5


def test_a_transaction_reads_with_its_op_return_memo_coinbase_and_addressless_outputs():
    chain = BtcChain()
    vault = p2pkh("thorchain-vault")
    fund = chain.coinbase(vault, 5 * 10**8, HEIGHT0)
    memo = b"OUT:" + b"AB" * 32
    out = chain.spend([(fund, 0)], [(p2pkh("receiver"), 2 * 10**8), (vault, 3 * 10**8 - 5_000)], HEIGHT0 + 1,
                      op_return=memo)
    with EsploraServer(chain) as server:
        c = client(server)
        tx, coinbase, missing = c.tx(out), c.tx(fund), c.tx("ef" * 32)
        spends = c.outspends(fund)
    assert tx.outputs[0].address is None and tx.outputs[0].op_return == memo and tx.outputs[0].value == 0
    assert [(o.address, o.value) for o in tx.outputs[1:]] == [(p2pkh("receiver"), 2 * 10**8), (vault, 299_995_000)]
    assert tx.inputs[0].txid == fund and tx.inputs[0].address == vault and tx.fee == 5_000
    assert coinbase.inputs[0].value is None and coinbase.time and coinbase.height == HEIGHT0
    assert missing is None and spends == [(out, 0)]


@pytest.mark.parametrize("variant,says", [("blockstream", "700 requests/hour"), ("mempool", "429 Too Many Requests")])
def test_a_429_storm_is_waited_out_and_one_that_never_ends_is_one_line(variant, says):
    chain, txids = busy_chain(3)
    with EsploraServer(chain, variant) as server:
        c = client(server, retries=3)
        server.faults.extend(["429"] * 3)
        assert c.tip_height() == chain.tip and c.rate_limited == 3 and c.pacer.rate < 1000
        server.faults.extend(["429"] * 10)
        with pytest.raises(RateLimitError) as err:
            c.tip_height()
    message = str(err.value)
    assert "429" in message and says in message and "\n" not in message and len(message) < 400


def test_a_429_without_retry_after_backs_off_exponentially():
    chain, _ = busy_chain(1)
    with EsploraServer(chain) as server:
        c = EsploraClient(server.url, rate=1000, backoff=0.1)
        server.faults.extend(["429"] * 3)
        t0 = time.monotonic()
        c.tip_height()
        waited = time.monotonic() - t0
    assert 0.1 + 0.2 + 0.4 - 0.05 <= waited < 3.0


def test_every_error_of_the_notes_is_one_line():
    chain, txids = busy_chain(2)
    with EsploraServer(chain) as server:
        c = client(server, retries=2)
        with pytest.raises(SourceError, match="HTTP 400: Invalid Bitcoin address"):
            c.address("1NotAnAddressAtAll000000000000000")
        with pytest.raises(SourceError, match="HTTP 400: Invalid hex string"):
            c.outspends("zz")
        server.faults.extend(["500"] * 5)
        with pytest.raises(SourceError, match="failed 3 times in a row: HTTP 500"):
            c.tip_height()
        wrong = EsploraClient(server.url.removesuffix("/api") + "/v1", rate=1000)
        with pytest.raises(SourceError, match="endpoint does not exist.*check --btc-url"):
            wrong.tip_height()
    down = EsploraClient("http://127.0.0.1:9/api", rate=1000, retries=1, backoff=0.01, timeout=2)
    with pytest.raises(SourceError, match="failed 2 times in a row: cannot connect"):
        down.tip_height()


def test_a_mempool_node_backend_on_electrum_is_refused_with_what_to_use(monkeypatch):
    chain, _ = busy_chain(1)
    with EsploraServer(chain, "mempool") as server:
        original = chain.stats
        monkeypatch.setattr(chain, "stats", lambda a: {**original(a), "electrum": True})
        with pytest.raises(SourceError, match="electrum or Bitcoin Core: it has no /txs/chain"):
            client(server).address(BUSY)


def test_a_malformed_transaction_is_skipped_and_named_not_trusted():
    chain, txids = busy_chain(3)
    chain.txs[txids[1]]["vout"][0]["value"] = -5
    with EsploraServer(chain) as server:
        c = client(server)
        history = c.history(BUSY, tip=c.tip_height())
        with pytest.raises(MalformedResponseError):
            chain.tip = "x"  # type: ignore[assignment]
            c.tip_height()
    assert {t.txid for t in history} == {txids[0], txids[2]}
    assert [(r.tx_hash, r.reason) for r in c.rejected] == [(txids[1], "output 0 has no valid value")]


def test_the_keyless_rate_follows_the_host():
    assert default_rate("https://blockstream.info/api") == pytest.approx(700 / 3600)
    assert default_rate("https://mempool.space/api") == 1.0
    assert default_rate("http://10.0.0.5:3002/api") == 5.0


def test_a_transaction_mined_between_the_tip_and_the_count_is_read_and_no_error():
    chain, txids = busy_chain(30)
    with EsploraServer(chain, "blockstream") as server:
        c = client(server)
        tip = c.tip_height()
        late = chain.spend([(txids[-1], 1)], [(BUSY, 1_000), (p2pkh("miner"), 10**8)], tip + 1)
        history = c.history(BUSY, tip=tip)  # /address (read now) counts it; the tip read before does not
    assert {t.txid for t in history} == set(txids) | {late}


@pytest.mark.parametrize("variant", ["blockstream", "mempool"])
def test_a_transaction_whose_prevouts_the_server_cannot_resolve_is_never_read_as_a_coinbase(variant):
    from tracer.sources.esplora import IncompleteHistory

    chain, txids = busy_chain(5)
    with EsploraServer(chain, variant) as server:
        server.missing_prevout.add(txids[2])
        c = client(server)
        if variant == "blockstream":  # prevout: null: whose coin it spent is unknown; skipped and named, not guessed
            history = c.history(BUSY, tip=c.tip_height())
            assert txids[2] not in {t.txid for t in history} and len(history) == 4
            assert [(r.tx_hash, r.reason) for r in c.rejected] == [
                (txids[2], "an input's prevout is missing (the server could not resolve it)")]
        else:  # left out of the list: the count says something is missing
            with pytest.raises(IncompleteHistory, match="ended after 4 of 5"):
                c.history(BUSY, tip=c.tip_height())
