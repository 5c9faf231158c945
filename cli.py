"""The `tracer` command line: a thin click layer over the tracer package.

Every failure a user can cause or meet ends in one line on stderr and a
non-zero exit code; set TRACER_DEBUG=1 to see a traceback instead.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from pathlib import Path

import click

from tracer import __version__
from tracer.addresses import checksum, parse_address
from tracer.errors import InputError, SourceError, TracerError
from tracer.safe_text import for_spreadsheet, for_terminal
from tracer.sources.dialects import DIALECT_NAMES as DIALECT_CHOICES
from tracer.store import store_error

DEFAULT_DB = "tracer.db"


def _db_option(f):
    return click.option(
        "--db", "db_path", envvar="TRACER_DB", default=DEFAULT_DB, show_default=True,
        help="The case store: an SQLite file, or postgresql://user@host:5432/db?case=NAME for a case on a "
             "PostgreSQL server (env TRACER_DB).", callback=_no_empty_db,
    )(f)


def _no_empty_db(ctx, param, value):
    """An empty --db or TRACER_DB (an unset variable) is an error: silently using ./tracer.db would start a
    new case and announce all of it as new. click hands an empty variable over as "not given"."""
    from click.core import ParameterSource

    from_command_line = ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE
    if (value is not None and not str(value).strip()) or (os.environ.get("TRACER_DB") == "" and not from_command_line):
        raise click.BadParameter("the store's file name is empty (--db or TRACER_DB)")
    return value


class TracerGroup(click.Group):
    """A click group whose every failure is one line on stderr and an exit code.

    Done in main() so that the console script and click's CliRunner behave the same.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name or "tracer", complete_var, standalone_mode=False, **extra)
            if isinstance(rv, int) and rv:  # click hands back an Exit's code instead of raising it
                sys.exit(rv)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `tracer`, `tracer labels`: the help, as help
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            _fail(f"{exc.format_message()}{hint}", 2)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.Abort:  # click's form of Ctrl-C
            _fail("interrupted; everything stored so far is kept, rerun to continue", 130)
        except TracerError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted; everything stored so far is kept, rerun to continue", 130)
        except BrokenPipeError:
            sys.exit(0)
        except sqlite3.Error as exc:  # a store failing under a read (damaged, unreadable, vanished)
            if os.environ.get("TRACER_DEBUG"):
                raise
            _fail(store_error(None, exc, "read it"), 4)
        except OSError as exc:  # the disk, a file or a folder refused (full, read-only, missing)
            if os.environ.get("TRACER_DEBUG"):
                raise
            where = f" {exc.filename}" if exc.filename else " the output (standard output or a file)"
            _fail(f"cannot write or read{where}: {exc.strerror or exc}", 1)
        except Exception as exc:  # a bug: still one line, unless debugging
            if os.environ.get("TRACER_DEBUG"):
                raise
            _fail(f"internal error ({type(exc).__name__}: {exc}); rerun with TRACER_DEBUG=1 for details", 70)
        sys.exit(0)


@click.group(cls=TracerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
@click.option("--labels", "labels_path", envvar="TRACER_LABELS", type=click.Path(dir_okay=False),
              help="Your own labels file, shaped like data/labels.json: adds or overrides curated labels, and names "
                   "new routers and pools for the exit decoders (env TRACER_LABELS).")
def cli(labels_path: str | None) -> None:
    """Follow stolen funds on Ethereum, hop by hop, every hop backed by a transaction hash."""
    from tracer.labels import use_labels_file

    use_labels_file(labels_path or None)  # checked now: a bad file is one line before any work


# ---- seeds ------------------------------------------------------------------------------
@cli.group(invoke_without_command=True)
@click.option("--case", "case_name", help="Only this case (e.g. bybit-2025-02).")
@click.option("--list", "as_list", is_flag=True, help="List the addresses, a line each, with their sources.")
@click.option("--json", "as_json", is_flag=True, help="List the addresses as JSON.")
@click.option("--chain", help="Only synced seeds of this chain (eth, btc, bsc, arbi, tron, solana, ...).")
@_db_option
@click.pass_context
def seeds(ctx, case_name: str | None, as_list: bool, as_json: bool, chain: str | None, db_path: str) -> None:
    """Publicly attributed addresses: the bundled ones, and those synced into the store (`seeds sync`).

    Without --list or --json: how many, per case, source and chain."""
    ctx.obj = db_path  # `seeds --db X sync` syncs into X
    if ctx.invoked_subcommand is not None:
        return
    from tracer.seeds import all_seeds, cases
    from tracer.store import Store

    synced = _synced_rows(db_path, case_name, chain)
    if case_name and case_name not in cases() and not synced:
        raise InputError(f"unknown case {case_name!r}; known cases: {', '.join(sorted(cases()))}"
                         + (" (and none synced into this store)" if Store.exists(db_path) else ""))
    bundled = [] if chain and chain != "eth" else [s for s in all_seeds() if not case_name or s.case == case_name]
    if as_json:
        rows = [_seed_json(s) for s in bundled] + [_synced_json(r) for r in synced]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if as_list:
        for s in bundled:
            sources = "; ".join(src.name + (f" <{src.url}>" if src.url else "") for src in s.sources)
            click.echo(f"{s.address}\t{s.case}\t{s.role}\t{s.label}\t{sources}")
        from tracer.safe_text import for_terminal

        for r in synced:  # each field made safe for a terminal on its own: a feed's text is untrusted
            fields = [r["address"], r["case_name"], r["chain"], f"synced from {r['source']} <{r['url']}>"]
            click.echo("\t".join(for_terminal(f) for f in fields + ([r["flags"]] if r["flags"] else [])))
        return
    counts: dict[tuple[str, str, str], int] = {}
    for s in bundled:
        counts[(s.case, "bundled", "eth")] = counts.get((s.case, "bundled", "eth"), 0) + 1
    for r in synced:
        key = (r["case_name"], r["source"], r["chain"])
        counts[key] = counts.get(key, 0) + 1
    from tracer.tables import Table, render, resolve_format

    table = Table("seeds per case, source and chain", ["case", "source", "chain", "addresses", "traced"],
                  right=frozenset({"addresses"}))
    for (case, source, chain_key), n in sorted(counts.items()):
        traced = {"eth": "yes", "arbi": "with --chains …,arbi", "bsc": "with --chains …,bsc",
                  "btc": "with --chains …,btc --follow-btc"}.get(chain_key, "no (chain not supported)")
        table.rows.append([case, source, chain_key, n, traced])
    render([table], resolve_format("auto"))
    click.echo("(--list or --json for the addresses; `tracer seeds sync` to load the published lists)", err=True)


def _synced_rows(db_path: str, case_name: str | None, chain: str | None, check: bool = True) -> list:
    """Synced seeds in the store, if there is one (`check`: its integrity first, as every reader does; a trace
    checks it itself once it holds the store)."""
    from tracer.store import Store

    if not Store.exists(db_path):
        return []

    store = _open_to_read(db_path) if check else Store.open(db_path, create=False)
    try:
        return [dict(r) for r in store.synced_seeds(case_name, chain)]
    finally:
        store.close()


def _synced_json(r: dict) -> dict:
    return {"address": r["address"], "chain": r["chain"], "case": r["case_name"], "source": r["source"],
            "url": r["url"], "sha256": r["sha256"], "first_seen": r["first_seen"], "last_seen": r["last_seen"],
            "flags": [f for f in r["flags"].split(",") if f]}


def _read_ofac(location: str | None, timeout: float):
    """OFAC's sdn.csv and the sdn_comments.csv beside it, as one document (its sha256 covers both)."""
    import hashlib

    from tracer.ofac_sdn import SDN_URL, comments_location, parse_sdn
    from tracer.seed_feed import Document, read_document

    location = location or SDN_URL
    sdn = read_document(location, timeout=timeout)
    try:
        comments = read_document(comments_location(location), timeout=timeout)
    except (InputError, SourceError) as exc:  # the same kind of error, saying which of the two files it was
        raise type(exc)(f"ofac: sdn_comments.csv, read from beside sdn.csv: {exc}; nothing was changed") from None
    try:
        parsed = parse_sdn(sdn.raw, comments.raw)
    except InputError as exc:
        raise SourceError(f"ofac: {exc}; nothing was changed") from None
    digest = hashlib.sha256(f"{sdn.sha256}\n{comments.sha256}\n".encode()).hexdigest()
    return Document(sdn.raw, sdn.url, digest, sdn.fetched_at), parsed


@seeds.command("sync")
@click.option("--source", "source_name", default="lazarusbounty", show_default=True,
              help="lazarusbounty (Bybit's LazarusBounty feed), fbi (the bundled FBI PSA list), ofac (the addresses "
                   "OFAC's SDN list ties to Lazarus Group), or a path or URL of a document in the feed's shape.")
@click.option("--url", help="Where to read the lazarusbounty feed, or OFAC's sdn.csv (a path or URL; its "
                            "sdn_comments.csv is read from beside it). Default: the published URL.")
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@click.option("--fail-on-new", is_flag=True, help="Exit 3 when the sync added addresses (for cron).")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(1, 600), help="Seconds per request.")
@click.option("--accept-removals", is_flag=True,
              help="Accept a document that no longer lists most of what the source listed before (refused otherwise).")
@click.option("--db", "db_path", default=None, type=click.Path(dir_okay=False),
              help="SQLite store (default: the one given to `seeds`, env TRACER_DB, or tracer.db).")
@click.pass_context
def seeds_sync(ctx, source_name: str, url: str | None, as_json: bool, fail_on_new: bool, timeout: float,
               accept_removals: bool, db_path: str | None) -> None:
    """Load a published list of attributed addresses into the store, and say what changed since the last sync.

    Every address is validated for its chain; a mixed-case Ethereum address whose EIP-55 checksum fails is kept
    lowercased and flagged bad-checksum. An address a source no longer lists is kept, marked removed."""
    from tracer.seed_feed import LAZARUSBOUNTY_URL, Document, fbi_seeds, parse_feed, read_document
    from tracer.store import Store

    if db_path is not None and not db_path.strip():
        raise click.BadParameter("the store's file name is empty", param_hint="--db")
    db_path = db_path or ctx.obj

    if source_name == "fbi":
        parsed = fbi_seeds()
        from datetime import datetime, timezone

        body = json.dumps(sorted(s.address for s in parsed.seeds)).encode()
        import hashlib

        doc = Document(body, "https://www.ic3.gov/PSA/2025/PSA250226", hashlib.sha256(body).hexdigest(),
                       datetime.now(timezone.utc).replace(microsecond=0).isoformat())
        name = "fbi"
    elif source_name == "ofac":
        doc, parsed = _read_ofac(url, timeout)
        name = "ofac"
    else:
        location = (url or LAZARUSBOUNTY_URL) if source_name == "lazarusbounty" else source_name
        name = "lazarusbounty" if source_name == "lazarusbounty" else _source_name(source_name)
        doc = read_document(location, timeout=timeout)
        try:
            parsed = parse_feed(doc.raw)
        except InputError as exc:
            raise SourceError(f"{name}: {exc}; nothing was changed") from None
    summary = parsed.summary()
    store = Store.open(db_path)
    try:
        store.acquire_lock()
        changes = store.sync_seeds(name, doc.url, doc.sha256, doc.fetched_at, parsed.seeds, summary,
                                   max_removed=None if accept_removals else 0.5)
    finally:
        store.close()
    added = sum(len(v["added"]) for v in changes.values())
    removed = sum(len(v["removed"]) for v in changes.values())
    if as_json:
        click.echo(json.dumps({
            "source": name, "url": doc.url, "sha256": doc.sha256, "fetched_at": doc.fetched_at, **summary,
            "added": added, "removed": removed,
            "changes": [{"case": case, "chain": chain, "added": v["added"], "removed": v["removed"]}
                        for (case, chain), v in sorted(changes.items())],
            "rejected_entries": [{"chain": c, "entry": t, "why": w} for c, t, w in parsed.rejected[:100]],
        }, ensure_ascii=True))  # (whatever a feed holds, the output is plain ASCII)
    else:
        click.echo(f"{name}: {summary['seeds']} addresses ({', '.join(f'{c} {n}' for c, n in summary['per_chain'].items())})"
                   f", sha256 {doc.sha256[:16]}…; {added} added, {removed} removed since the last sync")
        for (case, chain), v in sorted(changes.items()):
            click.echo(f"  {case} {chain}: +{len(v['added'])} -{len(v['removed'])}")
        for quirk, n in sorted(parsed.quirks.items()):
            click.echo(f"  quirk: {quirk}: {n}")
        if parsed.rejected:
            click.echo(f"  not an address of its chain (skipped): {len(parsed.rejected)}, e.g. "
                       + "; ".join(f"{c} {t!r} ({w})" for c, t, w in parsed.rejected[:3]))
    if fail_on_new and added:
        raise click.exceptions.Exit(3)


def _source_name(location: str) -> str:
    """A source is named by where it is read from (two files called feed.json are two sources); the
    lazarusbounty feed read from a mirror (--url) stays lazarusbounty."""
    from urllib.parse import urlsplit

    from tracer.seed_feed import _public_url

    if urlsplit(location).scheme in ("http", "https"):
        return _public_url(location)
    return str(Path(location).resolve())


def _seed_json(s) -> dict:
    return {
        "address": s.address, "label": s.label, "role": s.role, "case": s.case,
        "attribution": s.attribution,
        "sources": [{"name": x.name, "url": x.url, "date": x.date} for x in s.sources],
    }


def _source_options(f):
    """The options that choose and tune a data source (shared by trace and mixer-links)."""
    options = [
        click.option("--source", "source_mode", type=click.Choice(["auto", "rpc", "explorer"]), default="auto",
            show_default=True, help="auto: a node if --rpc-url is set (with the explorer for what it lacks), "
            "else the explorer."),
        click.option("--rpc-url", envvar="TRACER_RPC_URL", help="Ethereum JSON-RPC URL (env TRACER_RPC_URL)."),
        click.option("--rpc-rate", default=25.0, show_default=True, type=click.FloatRange(0.1, 10000),
            help="HTTP requests per second to the node."),
        click.option("--chunk-size", default=500, show_default=True, type=click.IntRange(1, 100000),
            help="Addresses per eth_getLogs / trace_filter query."),
        click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 10000),
            help="Calls per JSON-RPC batch."),
        click.option("--explorer-url", envvar="TRACER_EXPLORER_URL",
            help="Etherscan-compatible API URL (env TRACER_EXPLORER_URL). Default: Etherscan V2 with "
            "ETHERSCAN_API_KEY, else Blockscout."),
        click.option("--chain-id", default=1, show_default=True, type=click.IntRange(1),
            help="Chain id (Etherscan V2 chainid; checked against the node's eth_chainId)."),
        click.option("--rate", type=click.FloatRange(0.1, 1000), help="Calls per second (default 3 Etherscan, 5 Blockscout)."),
        click.option("--page-size", type=click.IntRange(1, 10000),
            help="Records per explorer page (default: the service's cap: 1,000 on Etherscan, whose free tier serves "
                 "no more; up to 10,000 with a paid key or Blockscout)."),
        click.option("--explorer-dialect", "explorer_dialect", type=click.Choice(DIALECT_CHOICES), default="auto",
            show_default=True, help="How the explorer answers: etherscan (V2), blockscout (per instance), "
                 "blockscout-pro; auto: known from the host, else from its first answer."),
        click.option("--max-requests", "max_requests", type=click.IntRange(1),
            help="Explorer requests this run may send; past it, the run stops cleanly and the next one goes on."),
        click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0.1), help="Seconds per request."),
        click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 50), help="Retries of a failed request."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _make_source(source_mode, rpc_url, rpc_rate, chunk_size, batch_size, explorer_url, chain_id, rate, page_size,
                 explorer_dialect, max_requests, timeout, retries):
    from tracer.sources.select import SourceSettings, make_source

    # click hands an empty environment variable over as "not given" (None); an explicitly
    # empty TRACER_*_URL is an unset variable the user meant to set, not a wish for the
    # public default explorer: make_source rejects it like --explorer-url "".
    if explorer_url is None and os.environ.get("TRACER_EXPLORER_URL") == "":
        explorer_url = ""
    if rpc_url is None and os.environ.get("TRACER_RPC_URL") == "":
        rpc_url = ""
    settings = SourceSettings(
        mode=source_mode, rpc_url=rpc_url, explorer_url=explorer_url,
        api_key=os.environ.get("ETHERSCAN_API_KEY") or None, blockscout_key=os.environ.get("BLOCKSCOUT_API_KEY") or None,
        dialect=None if explorer_dialect == "auto" else explorer_dialect, max_requests=max_requests, chain_id=chain_id,
        rate=rate, rpc_rate=rpc_rate,
        timeout=timeout, retries=retries, page_size=page_size, chunk_size=chunk_size, batch_size=batch_size,
    )
    return make_source(settings, warn=lambda msg: click.echo(f"tracer: warning: {redact(msg)}", err=True))


def _with_other_chains(source, explorer_url, rate, page_size, timeout, retries, chain_explorers=(),
                       explorer_dialect="auto", max_requests=None, why="--follow-bridges"):
    """Wrap a source so that addresses on other EVM chains go to the explorer with that chainid (and, for a
    chain that explorer's plan refuses, to the chain's Blockscout instance)."""
    from tracer.chains import BLOCKSCOUT_INSTANCES, EVM_CHAIN_IDS
    from tracer.sources.explorer import Endpoint, ExplorerClient, choose_endpoint
    from tracer.sources.multichain import MultiChainSource, OneChainOnly
    from tracer.sources.urls import validate_url

    api_key = os.environ.get("ETHERSCAN_API_KEY") or None
    blockscout_key = os.environ.get("BLOCKSCOUT_API_KEY") or None  # the PRO API serves other chains by chain_id too
    dialect = None if explorer_dialect == "auto" else explorer_dialect
    # explorer_url was checked by _make_source (which made `source`): empty or malformed never gets here
    if not (api_key or blockscout_key or explorer_url):
        source.close()
        raise InputError(f"{why} needs an explorer that serves other chains by chain id: "
                         "set ETHERSCAN_API_KEY (Etherscan V2) or BLOCKSCOUT_API_KEY (Blockscout PRO), or --explorer-url")

    fallbacks = dict(BLOCKSCOUT_INSTANCES)
    for item in chain_explorers:
        chain, _, url = item.partition("=")
        if chain not in EVM_CHAIN_IDS or chain == "eth":
            source.close()
            raise InputError(f"--chain-explorer {item[:60]!r}: CHAIN must be one of "
                             f"{', '.join(c for c in EVM_CHAIN_IDS if c != 'eth')}")
        try:
            validate_url(url, "--chain-explorer")
        except InputError:
            source.close()
            raise
        fallbacks[chain] = url

    def make(chain_id: int) -> ExplorerClient:
        endpoint = choose_endpoint(api_key, explorer_url, chain_id, dialect, blockscout_key)
        key = blockscout_key if endpoint.dialect == "blockscout-pro" else api_key
        client = ExplorerClient(endpoint, api_key=key, rate=rate, timeout=timeout, retries=retries,
                                page_size=page_size, max_requests=max_requests)
        if client.resolved_dialect().chain_param is None:  # it would answer with its own chain's history
            client.close()
            raise OneChainOnly(f"explorer {endpoint.url.split('/')[2]} serves one chain only")
        return client

    def make_fallback(url: str, chain_id: int) -> ExplorerClient:
        return ExplorerClient(Endpoint(url, chain_id, 5.0, f"explorer:{url.split('/')[2]}", "blockscout"),
                              rate=rate, timeout=timeout, retries=retries, max_requests=max_requests)

    return MultiChainSource(source, make, fallbacks, make_fallback,
                            warn=lambda message: click.echo(f"tracer: warning: {redact(message)}", err=True))


FEED_CHAIN_NODES = {"arbi": "arb", "bsc": "bsc", "btc": "btc"}  # the feed's chain keys -> node-id prefixes


def _parse_start(text: str, follow_btc: bool) -> str:
    """An Ethereum address, or with --follow-btc a Bitcoin one (checksum checked) as its btc:<address> node."""
    from tracer.btc import node_for
    from tracer.chain_addresses import check

    if text.strip()[:2].lower() == "0x":
        return parse_address(text)
    node = node_for(text)
    if not follow_btc:
        if node is not None:
            raise InputError(f"{node[4:]} is a Bitcoin address: trace it with --follow-btc")
        return parse_address(text)
    if node is None:
        raise InputError(f"invalid address {text[:100]!r}: neither 0x and 40 hex digits nor a Bitcoin address "
                         f"({check('btc', text.strip()).problem})")
    return node


def _traced_chains(chain_keys: str, case_name: str | None, follow_btc: bool = False) -> list[str]:
    """--chains: which chains' synced seeds a --case traces (Ethereum always first)."""
    chains = list(dict.fromkeys(c.strip().lower() for c in chain_keys.split(",") if c.strip()))
    for chain in chains:
        if chain == "btc" and not follow_btc:
            raise click.BadParameter("btc seeds are traced with --follow-btc (through Esplora)", param_hint="--chains")
        if chain in ("tron", "solana"):
            raise click.BadParameter(f"{chain} seeds are stored, not traced: eth, arbi, bsc (and btc with "
                                     "--follow-btc) are", param_hint="--chains")
        if chain != "eth" and chain not in FEED_CHAIN_NODES:
            raise click.BadParameter(f"unknown chain {chain[:20]!r}; one of eth, arbi, bsc, btc", param_hint="--chains")
    if not chains:
        raise click.BadParameter("name at least one chain (eth, arbi, bsc)", param_hint="--chains")
    if chains != ["eth"] and not case_name:
        raise click.BadParameter("chooses a --case's synced seeds; give --case", param_hint="--chains")
    return ["eth"] + [c for c in chains if c != "eth"] if "eth" in chains else chains


SEEDS_KEPT_IN_PARAMS = 100


def _seed_params(starts: list[str]) -> dict:
    """A run's seeds, as its stored parameters keep them: listed when few; for a whole synced case (thousands,
    every night) their count and a digest of the sorted list (the store keeps which seeds were synced when)."""
    if len(starts) <= SEEDS_KEPT_IN_PARAMS:
        return {"seeds": starts}
    import hashlib

    return {"seeds_count": len(starts),
            "seeds_sha256": hashlib.sha256("\n".join(sorted(starts)).encode()).hexdigest()}


# ---- trace ------------------------------------------------------------------------------
@cli.command()
@click.argument("addresses", nargs=-1)
@click.option("--case", "case_name", help="Start from a case's theft and laundering addresses.")
@click.option("--hops", default=3, show_default=True, type=click.IntRange(0, 50), help="How many hops from a seed.")
@click.option("--min-value", default="0", show_default=True, help="Dust threshold in ETH (ETH and ETH-pegged tokens).")
@click.option("--max-degree", default=1000, show_default=True, type=click.IntRange(1),
              help="An address with more counterparties is a service: recorded, not followed.")
@click.option("--follow-unverified-tokens", is_flag=True, help="Also follow tokens not in the registry.")
@_db_option
@_source_options
@click.option("--reorg-margin", default=12, show_default=True, type=click.IntRange(0),
              help="Blocks refetched on a rerun, in case the chain reorganised.")
@click.option("--link-mixers", is_flag=True, help="Propose which Tornado Cash withdrawals may be traced deposits.")
@click.option("--follow-mixer-links", "follow_mixer_links", type=click.FloatRange(0, 1),
              help="Also follow withdrawers of candidate links with at least this confidence (implies --link-mixers).")
@click.option("--mixer-window-days", default=7.0, show_default=True, type=click.FloatRange(0.01, 3650),
              help="How long after a deposit a withdrawal may be its candidate.")
@click.option("--chain-explorer", "chain_explorers", multiple=True, metavar="CHAIN=URL",
              help="With --follow-bridges: the explorer for a chain the main one does not serve (Etherscan's free "
                   "tier refuses BNB, Base, OP, Avalanche); public Blockscout instances are known for base, op, arb, "
                   "gnosis, polygon, zksync and scroll.")
@click.option("--chains", "chain_keys", default="eth", show_default=True,
              help="Which of a --case's synced seeds to trace, by the feed's chain keys: eth, arbi, bsc (e.g. "
                   "eth,arbi,bsc). Arbitrum and BSC go to the explorer by chain id, or to their Blockscout.")
@click.option("--follow-bridges", is_flag=True,
              help="Continue on other EVM chains where a bridge deposit names the receiver (needs an explorer "
                   "serving them by chainid: Etherscan V2 with ETHERSCAN_API_KEY, or --explorer-url).")
@click.option("--follow-btc", is_flag=True,
              help="Continue into Bitcoin where a bridge deposit (THORChain, Chainflip, LI.FI) names a BTC address, "
                   "through an Esplora API (--btc-url).")
@click.option("--btc-url", envvar="TRACER_BTC_URL", default=None,
              help="Esplora API for --follow-btc (env TRACER_BTC_URL; default https://blockstream.info/api, keyless: "
                   "700 requests/hour; https://mempool.space/api or a self-hosted esplora).")
@click.option("--btc-rate", type=click.FloatRange(0.001, 1000), default=None,
              help="Calls per second to the Esplora API (default: by host; blockstream.info 700/hour, mempool.space 1/s, "
                   "a self-hosted esplora 5/s).")
@click.option("--btc-max-requests", type=click.IntRange(1), default=None,
              help="Stop after this many Esplora requests, keeping everything read (a keyless host's hourly budget: "
                   "blockstream.info allows 700/hour); the next run goes on from there.")
@click.option("--no-screen", "no_screen", is_flag=True,
              help="On a rerun, refetch every followed address instead of skipping those whose balances "
                   "show they cannot have moved.")
@click.option("--graphml", "graphml_path", type=click.Path(dir_okay=False), help="Also write the graph as GraphML.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with what is new.")
@click.option("--fail-on-new", is_flag=True,
              help="Exit with status 3 when anything new was found or is still unannounced (for cron alerts).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also print the per-hop counts and the summary when nothing is new (by default a run that "
                   "found nothing prints nothing, so cron mails only news).")
def trace(addresses, case_name, hops, min_value, max_degree, follow_unverified_tokens, db_path, source_mode, rpc_url,
          rpc_rate, chunk_size, batch_size, explorer_url, chain_id, rate, page_size, explorer_dialect, max_requests,
          timeout, retries, reorg_margin,
          link_mixers, follow_mixer_links, mixer_window_days, chain_explorers, chain_keys, follow_bridges, follow_btc,
          btc_url, btc_rate, btc_max_requests, no_screen, graphml_path, as_json, fail_on_new, quiet, verbose) -> None:
    """Trace ADDRESSES (or a --case) hop by hop and keep the result in the store.

    Rerun the same command to fetch only what is new since the last run.
    """
    from tracer.graph import build_graph, export
    from tracer.models import parse_eth_amount
    from tracer.progress import make_progress
    from tracer.seeds import trace_starts_for_case
    from tracer.store import Store
    from tracer.trace import TraceOptions, Tracer

    given = click.get_current_context().get_parameter_source("btc_url")
    if btc_url is not None and not follow_btc and given == click.core.ParameterSource.COMMANDLINE:
        # (TRACER_BTC_URL alone, set for other cases in the same environment, is no mistake)
        raise click.BadParameter("is for --follow-btc (give both)", param_hint="--btc-url")
    if follow_btc and btc_url is not None:
        from tracer.sources.urls import validate_url

        validate_url(btc_url, "--btc-url")
    starts = [_parse_start(a, follow_btc) for a in addresses]
    chains = _traced_chains(chain_keys, case_name, follow_btc)
    if case_name:
        from tracer.seeds import cases

        bundled = ([s.key for s in trace_starts_for_case(case_name)]  # (the bundled seeds are Ethereum's)
                   if case_name in cases() and "eth" in chains else [])
        synced, unchecked = [], 0
        for chain in chains:
            rows = _synced_rows(db_path, case_name, chain, check=False)  # `tracer seeds sync`
            prefix = "" if chain == "eth" else f"{FEED_CHAIN_NODES[chain]}:"  # (btc:<address> for Bitcoin)
            synced += [prefix + r["address"] for r in rows if "bad-checksum" not in r["flags"]]
            unchecked += sum(1 for r in rows if "bad-checksum" in r["flags"])
        if unchecked:
            click.echo(f"tracer: warning: {unchecked} synced seed(s) of {case_name} fail their EIP-55 "
                       "checksum as published (a typo, or a tampered copy) and are not traced; see `tracer seeds "
                       f"--case {case_name} --list`", err=True)
        if not bundled and not synced:
            if case_name in cases() or _synced_rows(db_path, case_name, None, check=False):
                raise InputError(f"case {case_name} has no seeds on {', '.join(chains)} to trace "
                                 f"(see `tracer seeds --case {case_name}`)")
            raise InputError(f"unknown case {case_name!r}; known cases: {', '.join(sorted(cases()))} "
                             "(or one synced into this store: see `tracer seeds`)")
        starts += bundled + synced
    if not starts:
        raise InputError("give at least one address, or --case (see `tracer seeds`)")
    starts = list(dict.fromkeys(starts))
    try:
        min_value_wei = parse_eth_amount(min_value)
    except ValueError as exc:
        raise InputError(f"--min-value: {exc}") from None
    if graphml_path is not None:
        _check_output_path(graphml_path, "--graphml")
    source = _make_source(source_mode, rpc_url, rpc_rate, chunk_size, batch_size, explorer_url, chain_id, rate,
                          page_size, explorer_dialect, max_requests, timeout, retries)
    other_evm = [s for s in starts if ":" in s and not s.startswith("btc:")]  # --chains: Arbitrum, BSC seeds
    if follow_bridges or other_evm:
        source = _with_other_chains(source, explorer_url, rate, page_size, timeout, retries, chain_explorers,
                                    explorer_dialect, max_requests, "--follow-bridges" if follow_bridges else
                                    "--chains " + ",".join(chains))
    if follow_btc:
        from tracer.sources.bitcoin import BitcoinSource
        from tracer.sources.esplora import DEFAULT_URL, EsploraClient

        source = BitcoinSource(source, EsploraClient(btc_url or DEFAULT_URL, rate=btc_rate, timeout=timeout,
                                                     retries=retries, max_requests=btc_max_requests),
                               warn=lambda message: click.echo(f"tracer: warning: {redact(message)}", err=True))
    options = TraceOptions(hops=hops, min_value_wei=min_value_wei, max_degree=max_degree,
                           follow_unverified_tokens=follow_unverified_tokens, reorg_margin=reorg_margin,
                           link_mixers=link_mixers or follow_mixer_links is not None,
                           follow_mixer_links=follow_mixer_links, mixer_window_days=mixer_window_days,
                           follow_bridges=follow_bridges, screen=not no_screen)
    params = {
        **_seed_params(starts), "case": case_name, "chains": chains, "hops": hops, "min_value_wei": str(min_value_wei),
        "max_degree": max_degree, "follow_unverified_tokens": follow_unverified_tokens,
        "source": source.name, "rate": rate, "rpc_rate": rpc_rate, "page_size": page_size,
        "chunk_size": chunk_size, "reorg_margin": reorg_margin, "link_mixers": link_mixers,
        "follow_mixer_links": follow_mixer_links, "mixer_window_days": mixer_window_days,
        "follow_bridges": follow_bridges, "follow_btc": follow_btc,
    }
    try:
        store = Store.open(db_path)
    except BaseException:
        source.close()
        raise
    try:
        store.acquire_lock()
        store.check_integrity()
        result = Tracer(store, source, options, make_progress(quiet)).run(starts, params)
        _warn_rejected(result.rejected)
        if result.unindexed:
            click.echo(f"tracer: warning: the history of {len(result.unindexed)} address(es) could not be read in full "
                       "(not indexed by the explorer yet, unreadable pages, or a chain no explorer serves here); what "
                       "came is kept and the next run asks again", err=True)
        something_new = result.news.anything
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        elif something_new or verbose:
            _print_trace_summary(result, verbose)
        sys.stdout.flush()
        # Only now has the news reached the analyst: a run killed before this line, or whose output
        # failed, leaves it unannounced and the next run announces it (tracer/news.py).
        store.mark_announced(result.run_id, result.news.exits_to_mark)
        if graphml_path:
            from tracer.outputs import write_atomically

            graph = build_graph(store)
            write_atomically(graphml_path, lambda tmp: export(graph, "graphml", tmp))
            if verbose:
                click.echo(f"graph written to {graphml_path}")
    finally:
        source.close()
        store.close()
    if fail_on_new and something_new:
        raise click.exceptions.Exit(3)


def _open_to_read(db_path: str):
    """An existing store, checked: a damaged one is said so, never read as if whole."""
    from tracer.store import Store

    store = Store.open(db_path, create=False)
    try:
        store.check_integrity()
        store.hold_snapshot()  # every read of this command sees one committed state, whatever a trace does meanwhile
    except BaseException:
        store.close()
        raise
    return store


def _check_output_path(value: str, option: str) -> None:
    """Before any work: a file name that can be written (an unset variable gives an empty one)."""
    if not value.strip():
        raise InputError(f"{option}: the file name is empty")
    if Path(value).is_dir():
        raise InputError(f"{option}: {value} is a directory")
    if not Path(value).resolve().parent.exists():
        raise InputError(f"{option}: directory {Path(value).parent} does not exist")


def _warn_rejected(rejected: list[dict]) -> None:
    """Malformed or out-of-range records were skipped: say which (they are in the run's row too)."""
    if not rejected:
        return
    click.echo(f"tracer: warning: skipped {len(rejected)} malformed or out-of-range records "
               "(named in the run's row; the rest of the trace went on)", err=True)
    for r in rejected[:5]:
        click.echo("tracer: warning:   " + for_terminal(
            f"{r.get('address', '')} {r.get('action', '')} tx {r.get('tx_hash') or '?'}: {r.get('reason', '')}"
        )[:300], err=True)
    if len(rejected) > 5:
        click.echo(f"tracer: warning:   … and {len(rejected) - 5} more", err=True)


def _print_trace_summary(result, verbose: bool) -> None:
    """Only what is new, so that a nightly cron mail is short (and absent when nothing moved)."""
    from tracer.news import news_lines

    if verbose:
        for h in result.hops:
            click.echo(f"hop {h.hop}: {h.addresses} addresses ({h.followed} followed)")
    for line in news_lines(result.news, lambda text: for_terminal(text, limit=200)):  # a 10 KB label stays one line
        click.echo(line)
    earlier = [r for r in result.news.covers_runs if r != result.run_id]
    click.echo(
        f"new: {result.new_transfers} transfers, {result.new_addresses} addresses; "
        f"followed {result.followed_addresses}; {result.requests} requests in {result.seconds:.1f} s"
        + (f" ({result.rate_limited} rate-limited, retried)" if result.rate_limited else "")
        + (f"; includes what earlier run{'s' if len(earlier) > 1 else ''} {', '.join(map(str, earlier))} "
           "stored but never announced" if earlier else "")
    )


# ---- export -----------------------------------------------------------------------------
@cli.command("export")
@_db_option
@click.option("--format", "fmt", type=click.Choice(["graphml", "gexf", "csv", "json", "neo4j"]), default="graphml",
              show_default=True, help="neo4j: the node and relationship CSVs `neo4j-admin database import full` "
                                      "reads, and queries.cypher, in the directory --out.")
@click.option("--out", "out_path", required=True, type=click.Path(),
              help="File to write (for neo4j: a directory, made if missing; its other files are left alone).")
def export_cmd(db_path: str, fmt: str, out_path: str) -> None:
    """Export the store's graph (GraphML/GEXF for Gephi, Cytoscape, yEd; CSV; JSON; Neo4j import files)."""
    from tracer.graph import build_graph, export

    if fmt == "neo4j":
        if Path(out_path).exists() and not Path(out_path).is_dir():
            raise InputError(f"--out: {out_path} is not a directory (--format neo4j writes several files there)")
        if not Path(out_path).resolve().parent.exists():
            raise InputError(f"--out: directory {Path(out_path).parent} does not exist")
    else:
        _check_output_path(out_path, "--out")
    store = _open_to_read(db_path)
    try:
        graph = build_graph(store)
    finally:
        store.close()
    from tracer.outputs import write_atomically

    if fmt == "neo4j":
        from tracer.outputs import write_into_directory

        written = write_into_directory(out_path, lambda tmp: export(graph, fmt, tmp))
    else:
        written = write_atomically(out_path, lambda tmp: export(graph, fmt, tmp))
    click.echo(f"{graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges -> {', '.join(map(str, written))}")


# ---- show -------------------------------------------------------------------------------
def _table_format(fmt: str, as_json: bool, as_csv: bool = False) -> str:
    from tracer.tables import resolve_format

    if as_json:
        return "json"
    if as_csv:
        return "csv"
    return resolve_format(fmt)


@cli.command()
@click.argument("address")
@_db_option
@click.option("--format", "fmt", type=click.Choice(["auto", "table", "tsv", "json"]), default="auto",
              show_default=True, help="auto: aligned tables on a terminal, TSV when piped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as --format json).")
def show(address: str, db_path: str, fmt: str, as_json: bool) -> None:
    """What the store knows about ADDRESS: label, category, hop, totals per asset, counterparties."""
    from tracer.report import address_summary
    from tracer.tables import Table, render

    addr = parse_address(address)
    store = _open_to_read(db_path)
    try:
        summary = address_summary(store, addr)
    finally:
        store.close()
    fmt = _table_format(fmt, as_json)
    if fmt == "json":
        from tracer.safe_text import for_file_values

        click.echo(json.dumps(for_file_values(summary), indent=2, ensure_ascii=False))
        return
    about = Table(checksum(addr), ["field", "value"], [
        [key, summary[key] if summary[key] is not None else ""]
        for key in ("label", "label_source", "category", "hop", "is_contract", "followed", "reach_block")
    ] + [["poison_transfers", summary["poison_transfers"]], ["counterparties", len(summary["counterparties"])]])
    totals = Table("totals (clean transfers; poisoning excluded)", ["asset", "token", "in", "out"],
                   [[t["asset"], t["token"], t["in"], t["out"]] for t in summary["totals"]], frozenset({"in", "out"}))
    limit = 25 if fmt == "table" else None
    peers = summary["counterparties"]
    counterparties = Table(
        "counterparties", ["address", "direction", "transfers", "category"],
        [[c["address"], c["direction"], c["transfers"], c["category"] or ""] for c in peers[:limit]],
        frozenset({"transfers"}),
        note=f"… {len(peers) - 25} more (--format tsv or --json)" if limit and len(peers) > limit else "")
    render([about, totals, counterparties], fmt)


# ---- report -----------------------------------------------------------------------------
@cli.command()
@_db_option
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True,
              help="html: one self-contained interactive page; md: the same summary as Markdown.")
@click.option("--taint", "model", type=click.Choice(["haircut", "poison"]), default="haircut", show_default=True,
              help="How traced value is apportioned (see `tracer exits --help`).")
@click.option("--max-nodes", default=1500, show_default=True, type=click.IntRange(10, 100_000),
              help="Nodes drawn in the HTML graph (seeds and the most traced value first).")
def report(db_path: str, out_path: str, fmt: str, model: str, max_nodes: int) -> None:
    """Write a case report: hop graph, exits, seeds, what is new, run parameters."""
    from tracer.case_report import case_report

    _check_output_path(out_path, "--out")
    if fmt == "html":
        from tracer.html_report import vendor_sources

        vendor_sources()  # fail before the work if the graph library is not installed
    store = _open_to_read(db_path)
    try:
        data = case_report(store, model, max_nodes)
    finally:
        store.close()
    from tracer.outputs import write_atomically

    if fmt == "html":
        from tracer.html_report import write_html

        write_atomically(out_path, lambda tmp: write_html(data, tmp))
    else:
        from tracer.md_report import write_markdown

        write_atomically(out_path, lambda tmp: write_markdown(data, tmp))
    g = data["graph"]
    click.echo(f"report written to {out_path} ({len(g['nodes'])} of {g['total_nodes']} nodes drawn, "
               f"{len(data['exits'])} exits)" if fmt == "html" else f"report written to {out_path}")


# ---- exits ------------------------------------------------------------------------------
@cli.command()
@_db_option
@click.option("--taint", "model", type=click.Choice(["haircut", "poison"]), default="haircut", show_default=True,
              help="haircut: each outflow carries the tainted share of the balance (conserved); "
                   "poison: any outflow of a tainted address is wholly tainted (an upper bound).")
@click.option("--min-value", default="0.000001", show_default=True, help="Hide exits below this many ETH.")
@click.option("--format", "fmt", type=click.Choice(["auto", "table", "tsv", "csv", "json"]), default="auto",
              show_default=True, help="auto: an aligned table on a terminal, TSV when piped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as --format json).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (same as --format csv).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="Rows in the terminal table.")
def exits(db_path: str, model: str, min_value: str, fmt: str, as_json: bool, as_csv: bool, limit: int) -> None:
    """Rank where the traced value went: exchanges, bridges (with decoded destinations),
    mixers, DEXes, unknown contracts, and holders still sitting on it."""
    from tracer.models import parse_eth_amount
    from tracer.report import exits_table, traced_btc, traced_eth
    from tracer.tables import Table, render

    try:
        min_wei = max(1, parse_eth_amount(min_value))
    except ValueError as exc:
        raise InputError(f"--min-value: {exc}") from None
    store = _open_to_read(db_path)
    try:
        rows = exits_table(store, model, min_wei)
    finally:
        store.close()
    fmt = _table_format(fmt, as_json, as_csv)
    if fmt == "json":
        from tracer.safe_text import for_file_values

        click.echo(json.dumps(for_file_values(rows), indent=1, ensure_ascii=False))
        return

    def destinations(r: dict) -> str:
        parts = []
        for d in r["destinations"]:
            if d["dest_address"]:
                parts.append(f"{d['dest_chain']}:{d['dest_address']} ({d['dest_asset']}, tx {d['tx_hash']})")
            elif d["flags"]:
                parts.append(f"undecoded ({d['flags']}): memo {d['memo']!r}")
        return "; ".join(parts)

    if fmt == "csv":
        import csv as csv_module

        w = csv_module.writer(sys.stdout)
        w.writerow(["rank", "address", "label", "category", "kind", "hop", "taint_eth", "taint_wei", "taint_btc",
                    "taint_sats", "destinations"])
        from tracer.safe_text import for_file

        for r in rows:
            dests = "; ".join(f"{d['dest_chain']}:{d['dest_address']}" for d in r["destinations"] if d["dest_address"])
            w.writerow([for_spreadsheet(for_file(x) if isinstance(x, str) else x) for x in (
                r["rank"], r["address"], r["label"], r["category"], r["kind"], r["hop"],
                traced_eth(r), r["taint_wei"] if r["asset"] == "ETH" or r["eth_equivalent"] else "",
                traced_btc(r), r["taint_sats"] if r["asset"] == "BTC" else "", dests)])
        return
    title = f"exits by traced value ({model} taint, ETH and ETH-pegged tokens; Bitcoin by what crossed)"
    more = f"… {len(rows) - limit} more (--limit, --format tsv, --json or --csv)" if len(rows) > limit else ""
    if fmt == "table":  # an 80-column terminal: what each exit is, one part a line, in one column
        from tracer.tables import Lines

        def what(r: dict) -> Lines:
            parts = [r["address"], f"{r['kind']} (hop {r['hop']})", r["label"]]
            if r["asset"] == "BTC":
                parts.insert(1, f"{traced_btc(r)} BTC" + (" (traced_eth: what crossed as it)" if r["eth_equivalent"] else ""))
            for d in r["destinations"]:
                if d["dest_address"]:
                    parts += [f"-> {d['dest_chain']}:{d['dest_address']} ({d['dest_asset']})", f"tx {d['tx_hash']}"]
                elif d["flags"]:
                    parts.append(f"undecoded ({d['flags']}): memo {d['memo']!r}")
            return Lines(parts)

        table = Table(title, ["rank", "traced_eth", "exit"], [
            [r["rank"], traced_eth(r), what(r)] for r in rows[:limit]],
            frozenset({"rank", "traced_eth"}), note=more)
    else:
        table = Table(title, ["rank", "traced_eth", "traced_btc", "kind", "address", "label", "hop", "destinations"], [
            [r["rank"], traced_eth(r), traced_btc(r), r["kind"], r["address"], r["label"], r["hop"],
             destinations(r)] for r in rows])
    render([table], fmt)


@cli.command()
@_db_option
@_source_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def doctor(db_path, source_mode, rpc_url, rpc_rate, chunk_size, batch_size, explorer_url, chain_id, rate, page_size,
           explorer_dialect, max_requests, timeout, retries, as_json) -> None:
    """Ask the configured explorer (and node, with --rpc-url) once: reachable, dialect, key, page cap and tier,
    rate, today's requests, node chain id, archive state, trace_filter. Exits 6 on the first problem."""
    from tracer.doctor import check_explorer, check_node
    from tracer.sources.combined import CombinedSource
    from tracer.sources.explorer import ExplorerClient
    from tracer.sources.node import NodeSource
    from tracer.store import Store
    from tracer.tables import Table, render

    usage = None
    if Store.exists(db_path):
        store = Store.open(db_path, create=False)
        try:
            usage = store.usage_today()
        finally:
            store.close()
    source = _make_source(source_mode, rpc_url, rpc_rate, chunk_size, batch_size, explorer_url, chain_id, rate,
                          page_size, explorer_dialect, max_requests, timeout, retries)
    try:
        parts = [source.node, source.explorer] if isinstance(source, CombinedSource) else [source]
        checks = []
        for part in parts:
            if isinstance(part, NodeSource):
                checks += check_node(part)
            elif isinstance(part, ExplorerClient):
                checks += check_explorer(part, usage)
    finally:
        source.close()
    if as_json:
        click.echo(json.dumps([{"check": c.name, "ok": c.ok, "detail": c.detail} for c in checks], indent=1))
    else:
        render([Table("tracer doctor", ["check", "ok", "detail"],
                      [[c.name, "yes" if c.ok else "NO", c.detail] for c in checks])], _table_format("auto", False))
    problem = next((c for c in checks if not c.ok), None)
    if problem:
        _fail(f"{problem.name}: {problem.detail}", 6)


@cli.command("mixer-links")
@_db_option
@_source_options
@click.option("--window-days", default=7.0, show_default=True, type=click.FloatRange(0.01, 3650),
              help="How long after a deposit a withdrawal may be its candidate.")
@click.option("--min-confidence", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def mixer_links(db_path, source_mode, rpc_url, rpc_rate, chunk_size, batch_size, explorer_url, chain_id, rate,
                page_size, explorer_dialect, max_requests, timeout, retries, window_days, min_confidence,
                as_json) -> None:
    """Propose which Tornado Cash withdrawals may be the traced deposits coming back out.

    Every link is a candidate with a confidence and the heuristics that fired, never a fact.
    """
    from tracer.linking import link_mixers
    from tracer.store import Store

    store = Store.open(db_path, create=False, write=True)
    source = None
    try:
        store.acquire_lock()
        source = _make_source(source_mode, rpc_url, rpc_rate, chunk_size, batch_size, explorer_url, chain_id, rate,
                              page_size, explorer_dialect, max_requests, timeout, retries)
        link_mixers(store, source, source.head_block(), window_days)
        rows = [dict(r) for r in store.link_rows(min_confidence)]
    finally:
        if source is not None:
            source.close()
        store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo("no candidate links (no traced Tornado Cash deposit, or no withdrawal in the window)")
    for r in rows:
        click.echo(f"{r['confidence']:.2f}  {r['depositor']} -> {r['withdrawer']}  pool {r['pool']}  "
                   f"deposit {r['deposit_tx'][:12]}… withdrawal {r['withdrawal_tx'][:12]}…  [{r['heuristics']}]  "
                   "(candidate, not a fact)")


# ---- cases and stores -------------------------------------------------------------------
@cli.command()
@_db_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def cases(db_path: str, as_json: bool) -> None:
    """The cases in a store: each schema of a PostgreSQL database holding one (`?case=NAME`), or the one an
    SQLite file holds; with their last run."""
    import time

    from tracer.store import SCHEMA_VERSION, Store
    from tracer.store.urls import is_postgres_url

    if is_postgres_url(db_path):
        from tracer.store.postgres import PostgresStore

        rows = PostgresStore.cases(db_path)
    else:
        store = _open_to_read(db_path)
        try:
            runs = store.runs()
            last = runs[-1] if runs else None
            rows = [{"case": store.name, "schema_version": SCHEMA_VERSION, "runs": len(runs),
                     "last_run_started": last["started_at"] if last else None,
                     "last_run_ended": last["ended_at"] if last else None,
                     "last_run_status": last["status"] if last else None}]
        finally:
            store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no tracer case in {Store.shown(db_path)}")
        return
    for r in rows:
        when = (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r["last_run_started"]))
                if r["last_run_started"] else "never run")
        status = f" ({r['last_run_status']})" if r["last_run_status"] else ""
        click.echo(f"{r['case']}\t{r['runs']} runs\tlast: {when}{status}")


@cli.group("store")
def store_group() -> None:
    """Whole stores: copy a case between SQLite files and PostgreSQL cases."""


@store_group.command("copy")
@click.argument("source")
@click.argument("destination")
@click.option("--replace", is_flag=True, help="Overwrite a destination that already holds a case.")
@click.option("--quiet", is_flag=True, help="No progress on the terminal.")
def store_copy(source: str, destination: str, replace: bool, quiet: bool) -> None:
    """Copy a case exactly (every row, cursor, run and label) from SOURCE to DESTINATION: each an SQLite file
    or a postgresql://…?case=NAME URL. A destination holding anything is refused unless --replace."""
    from tracer.store import Store
    from tracer.store.copy import copy_store

    if not source.strip() or not destination.strip():
        raise InputError("store copy: a store's name is empty")
    src = _open_to_read(source)
    try:
        if Store.shown(source) == Store.shown(destination):
            raise InputError("store copy: the source and the destination are the same store")
        dst = Store.open(destination)
        try:
            dst.acquire_lock()
            show = not quiet and sys.stderr.isatty()

            def progress(table: str, rows: int) -> None:
                if show:
                    click.echo(f"\r{table}: {rows:,} rows", err=True, nl=False)

            copied = copy_store(src, dst, replace=replace, progress=progress)
            if show:
                click.echo("", err=True)
            where = dst.location
        finally:
            dst.close()
    finally:
        src.close()
    total = ", ".join(f"{n:,} {t}" for t, n in copied.items() if n) or "an empty case"
    click.echo(f"copied {total} -> {where}")


# ---- labels -----------------------------------------------------------------------------
@cli.group()
def labels() -> None:
    """Address labels: the curated set, and public datasets imported into a store."""


@labels.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@_db_option
def labels_import(path: Path, db_path: str) -> None:
    """Import label datasets (a file, or every known file under a folder) into the store.

    Formats: etherscan-labels (combined JSON, per-label CSV/JSON), eth-labels accounts.json,
    OFAC SDN address lists, Forta labelled-dataset CSVs. Curated labels still win.
    """
    from tracer.label_import import read_labels
    from tracer.store import Store

    labels_read = list(read_labels(path))  # every file read and checked before the store is touched
    store = Store.open(db_path)
    try:
        store.acquire_lock()
        read, new = store.import_labels(labels_read)
    finally:
        store.close()
    click.echo(f"{read} labels read, {new} stored or updated in {store.location}")


# ---- entry point ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="tracer")


def redact(message: str) -> str:
    """Belt and braces for messages we did not write (an unexpected exception): no API key, no
    credentials or key-bearing path of a URL."""
    for env in ("ETHERSCAN_API_KEY", "BLOCKSCOUT_API_KEY"):
        key = os.environ.get(env)
        if key:
            message = message.replace(key, "***")
    message = re.sub(r"(https?://)[^/\s@]+@", r"\1***@", message)
    return re.sub(r"(https?://[^/\s?#]+)[/?#]\S*", r"\1/…", message)


MAX_ERROR_CHARS = 400  # an error quoting a 100 KB argument must still be one readable line


def _fail(message: str, code: int) -> None:
    one_line = " ".join(for_terminal(redact(str(message))).split())
    if len(one_line) > MAX_ERROR_CHARS:
        cut = len(one_line) - MAX_ERROR_CHARS
        one_line = f"{one_line[:MAX_ERROR_CHARS - 100]} …[{cut} characters cut]… {one_line[-100:]}"
    click.echo(f"tracer: error: {one_line}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
