"""Writes sdn.csv and sdn_comments.csv of this folder (see README.md): run it from the repository's root."""

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/

from btc_helpers import b58check  # noqa: E402
from tracer.addresses import checksum  # noqa: E402

HERE = Path(__file__).parent


def eth(i: int) -> str:
    return checksum("0x" + hashlib.sha256(f"ofac-sample-{i}".encode()).hexdigest()[:40])


def quoted(*fields: str) -> str:
    return ",".join(f if f.isdigit() or f == "-0- " else '"' + f + '"' for f in fields)


RONIN = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"
TRON = b58check(b"\x41" + hashlib.sha256(b"ofac-tron").digest()[:20])
BTC = b58check(b"\0" + hashlib.sha256(b"ofac-btc").digest()[:20])
BAD = eth(5)[:2] + eth(5)[2:].swapcase()
NULL = "-0- "

# Lazarus Group's remarks: long enough that sdn.csv holds exactly their first 1,000 characters, cut right after
# "Digital" (the comments file goes on with " Currency Address - ETH …", its first character a space)
aliases = "; ".join(f"a.k.a. 'SAMPLE ALIAS {i:02d}'" for i in range(25))
head = (f"{aliases}; Digital Currency Address - ETH {RONIN}; Digital Currency Address - XBT {BTC}; "
        f"Digital Currency Address - ETH {eth(1)}; Digital")
pad = 1000 - len(head)
head = head.replace("a.k.a. 'SAMPLE ALIAS 00'", "a.k.a. 'SAMPLE ALIAS 00" + "X" * pad + "'", 1)
assert len(head) == 1000 and head.endswith("Digital")
rest = (f" Currency Address - ETH {eth(2)}; Digital Currency Address - USDT {TRON}; Digital Currency Address - "
        f"ETH {BAD}; Digital Currency Address - LTC ltc1qsample000000000000000000000000000000; Digital Currency "
        f"Address - ETH {RONIN}; Secondary sanctions risk: North Korea Sanctions Regulations, sections 510.201 and "
        "510.210.")
sdn = [
    quoted("30001", "LAZARUS GROUP", NULL, "DPRK3] [CYBER2", NULL, NULL, NULL, NULL, NULL, NULL, NULL, head),
    # a stray double quote followed by a comma, as in the real list (moov-io/watchman#248): the row gains fields
    '30002,"SAMPLE, Person","individual","DPRK3",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 01 Jan 1980; a.k.a. '
    f'"blackjack1987", Digital Currency Address - ETH {eth(3)}; Linked To: LAZARUS GROUP."',
    quoted("30003", "SAMPLE MIXER SERVICE", NULL, "CYBER2", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           f"Website sample.invalid; Digital Currency Address - ETH {eth(4)}; "
           "Digital Currency Address - ETH 0x12D66f87A04A9E220743712cE6d9bB1B5616B8Fc."),
    quoted("30004", "SAMPLE TRADING CO.", NULL, "SDGT", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
]
(HERE / "sdn.csv").write_bytes(("\r\n".join(sdn) + "\r\n\x1a").encode())
comments = [quoted("30001", rest), "30002", quoted("30009", "remarks of an entry not in sdn.csv")]
(HERE / "sdn_comments.csv").write_bytes(("\r\n".join(comments) + "\r\n\x1a").encode())
