import pytest

from tracer.thorchain import MemoError, parse_memo

BTC = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"


@pytest.mark.parametrize("memo,asset,chain,dest", [
    (f"=:BTC.BTC:{BTC}:0/1/0:dx:30", "BTC.BTC", "BTC", BTC),
    (f"=:b:{BTC}", "BTC.BTC", "BTC", BTC),
    (f"SWAP:BTC.BTC:{BTC}:1e8", "BTC.BTC", "BTC", BTC),
    (f"s:b:{BTC}:3.2e8:t:0", "BTC.BTC", "BTC", BTC),
    ("=:e:0x47666fab8bd0ac7003bce3f5c3585383f09486e2", "ETH.ETH", "ETH", "0x47666fab8bd0ac7003bce3f5c3585383f09486e2"),
    ("=:r:thor1abcdefg", "THOR.RUNE", "THOR", "thor1abcdefg"),
    ("=:d:DTXyz", "DOGE.DOGE", "DOGE", "DTXyz"), ("=:l:ltc1qabc", "LTC.LTC", "LTC", "ltc1qabc"),
    ("=:c:qpabc", "BCH.BCH", "BCH", "qpabc"), ("=:s:0xabc", "BSC.BNB", "BSC", "0xabc"),
    ("=:a:0xabc", "AVAX.AVAX", "AVAX", "0xabc"), ("=:g:cosmos1abc", "GAIA.ATOM", "GAIA", "cosmos1abc"),
    ("=:x:rabc", "XRP.XRP", "XRP", "rabc"), ("=:f:0xabc", "BASE.ETH", "BASE", "0xabc"),
    ("=:tr:TXabc", "TRON.TRX", "TRON", "TXabc"),
    ("=:ETH.USDT-0xdAC17F958D2ee523a2206206994597C13D831ec7:0xabc", "ETH.USDT-0xdac17f958d2ee523a2206206994597c13d831ec7",
     "ETH", "0xabc"),
    ("=:BTC/BTC:thor1abc", "BTC/BTC", "THOR", "thor1abc"),
    ("=:BTC~BTC:thor1abc", "BTC~BTC", "THOR", "thor1abc"),
])
def test_swap_memos(memo, asset, chain, dest):
    m = parse_memo(memo)
    assert m.is_swap and m.asset == asset and m.chain == chain and m.dest_address == dest


def test_limits_streaming_affiliates_refund():
    m = parse_memo(f"=:BTC.BTC:{BTC}/bc1qrefund:9.5e7/3/12:dx/ll:30/10")
    assert m.refund_address == "bc1qrefund"
    assert (m.limit, m.interval, m.quantity) == (95_000_000, 3, 12)
    assert m.affiliates == ("dx", "ll") and m.fees_bps == (30, 10)
    assert parse_memo(f"=:b:{BTC}:0/1/0:dx:30").limit == 0


def test_other_actions_are_not_swaps():
    assert parse_memo("+:BTC.BTC:thor1abc").action == "add"
    assert parse_memo("OUT:ABCDEF").action == "out"
    assert not parse_memo("-:ETH.ETH:10000").is_swap


@pytest.mark.parametrize("memo", [
    "", "   ", "hello world", "=:", "=:b", "=:b:", "=:ZZZ:abc", "=:BTC..BTC:abc", "=:b:bc1 q",
    f"=:b:{BTC}:-5", f"=:b:{BTC}:1.5", f"=:b:{BTC}:1e999", f"=:b:{BTC}:abc", f"=:b:{BTC}:1/2",
    f"=:b:{BTC}:0:dx:99999", f"=:b:{BTC}:0:dx:30:extra", "=:b:\x1b[2J", "\x00", "=:b:" + "a" * 600,
    f"=:b:{BTC}:nan", f"=:b:{BTC}:inf",
])
def test_garbage_is_a_clean_rejection(memo):
    with pytest.raises(MemoError):
        parse_memo(memo)


def test_arbitrary_text_never_crashes():
    import random
    rng = random.Random(7)
    alphabet = "=:/.-~eb0123456789abcXYZ \x00\x1b\u00e9\u0415"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        try:
            parse_memo(text)
        except MemoError:
            pass
