"""The store's tables, one schema for every backend: written in the SQL both SQLite and PostgreSQL take
(each backend turns the few type names and idioms that differ into its own; see postgres.py), with the
migrations that bring an older store up to SCHEMA_VERSION one step at a time."""

SCHEMA_VERSION = 9
# A trace commits its fetched addresses every FLUSH_SECONDS or FLUSH_TRANSFERS, whichever comes first:
# a killed run loses at most that much, and each commit rewrites the index pages it touched (random
# transfer ids touch most of them at scale), so fewer, larger commits are what a million-row store needs.
FLUSH_SECONDS = 0.5
FLUSH_TRANSFERS = 100_000

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE addresses (
    address      TEXT PRIMARY KEY,
    is_contract  INTEGER,            -- NULL: not checked
    code_kind    TEXT,               -- eoa | contract | wallet-contract
    hop          INTEGER,            -- distance from the nearest seed; NULL if never reached
    reach_block  INTEGER,            -- first block at which traced value reached it
    followed     INTEGER NOT NULL DEFAULT 0,
    category     TEXT,               -- set by the tracer: seed, dex, service, poison, ...
    flags        TEXT NOT NULL DEFAULT '',
    first_run    INTEGER
);
CREATE TABLE transfers (
    id          TEXT PRIMARY KEY,    -- tx_hash:kind:position
    tx_hash     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    position    TEXT NOT NULL,
    log_index   INTEGER,
    block       INTEGER NOT NULL,
    timestamp   INTEGER NOT NULL,
    from_addr   TEXT NOT NULL,
    to_addr     TEXT NOT NULL,
    token       TEXT NOT NULL,
    asset       TEXT NOT NULL,
    decimals    INTEGER NOT NULL,
    amount      TEXT NOT NULL,       -- exact base units, decimal text
    flags       TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,
    first_run   INTEGER
);
CREATE INDEX transfers_from ON transfers (from_addr, block);
CREATE INDEX transfers_to ON transfers (to_addr, block);
CREATE INDEX transfers_run ON transfers (first_run);
CREATE TABLE cursors (
    address      TEXT NOT NULL,
    action       TEXT NOT NULL,      -- txlist | txlistinternal | tokentx (or a node's method)
    scanned_from INTEGER NOT NULL,   -- blocks [scanned_from, scanned_to] are in the store
    scanned_to   INTEGER NOT NULL,
    run_id       INTEGER,
    PRIMARY KEY (address, action)
);
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  REAL NOT NULL,
    ended_at    REAL,
    status      TEXT NOT NULL,       -- running | ok | failed | killed
    params      TEXT NOT NULL,       -- JSON, never holds secrets
    head_block  INTEGER,
    requests    INTEGER,
    new_transfers INTEGER,
    new_addresses INTEGER,
    followed_addresses INTEGER,
    error       TEXT
);
"""


# Each step takes a store from version n-1 to n, inside the transaction that records n.
MIGRATIONS: dict[int, str] = {
    2: """
    ALTER TABLE transfers ADD COLUMN memo TEXT;          -- text a transaction carried (a bridge memo), untrusted
    CREATE TABLE labels (
        address  TEXT NOT NULL,
        label    TEXT NOT NULL,
        category TEXT NOT NULL,                          -- exchange, bridge, mixer, dex, sanctioned, phishing, ...
        source   TEXT NOT NULL,                          -- the dataset (and file) it was imported from
        PRIMARY KEY (address, source)
    );
    CREATE TABLE exits (
        tx_hash      TEXT NOT NULL,
        log_index    INTEGER NOT NULL,                   -- -1 when decoded from a memo, not a log
        protocol     TEXT NOT NULL,                      -- thorchain, tornado, chainflip, lifi
        venue        TEXT NOT NULL,                      -- the contract or vault that took the funds
        depositor    TEXT NOT NULL,                      -- who sent them (the transaction's sender)
        block        INTEGER NOT NULL,
        timestamp    INTEGER NOT NULL,
        token        TEXT NOT NULL,                      -- ETH or the token contract
        amount       TEXT NOT NULL,                      -- exact base units
        dest_chain   TEXT NOT NULL DEFAULT '',
        dest_address TEXT NOT NULL DEFAULT '',
        dest_asset   TEXT NOT NULL DEFAULT '',
        memo         TEXT NOT NULL DEFAULT '',
        detail       TEXT NOT NULL DEFAULT '{}',         -- JSON: commitment, denomination, limit, ...
        flags        TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (tx_hash, log_index, protocol)
    );
    CREATE INDEX exits_depositor ON exits (depositor);
    CREATE TABLE decoded_txs (tx_hash TEXT PRIMARY KEY);  -- receipts already read for exits
    """,
    3: """
    CREATE TABLE mixer_links (                            -- candidates, never facts
        deposit_tx     TEXT NOT NULL,
        withdrawal_tx  TEXT NOT NULL,
        withdrawal_log INTEGER NOT NULL,
        pool           TEXT NOT NULL,
        depositor      TEXT NOT NULL,
        withdrawer     TEXT NOT NULL,
        relayer        TEXT NOT NULL,
        fee            TEXT NOT NULL,
        block          INTEGER NOT NULL,
        timestamp      INTEGER NOT NULL,
        amount         TEXT NOT NULL,
        confidence     REAL NOT NULL,
        heuristics     TEXT NOT NULL,
        PRIMARY KEY (deposit_tx, withdrawal_tx, withdrawal_log)
    );
    """,
    4: """
    CREATE TABLE balances (                               -- last screen of a followed address (nightly reruns)
        address TEXT NOT NULL,
        token   TEXT NOT NULL,                            -- ETH or a token contract
        amount  TEXT NOT NULL,
        block   INTEGER NOT NULL,
        PRIMARY KEY (address, token)
    );
    """,
    5: """
    DROP INDEX IF EXISTS transfers_run;                   -- read once per run, written a million times
    """,
    6: """
    ALTER TABLE addresses ADD COLUMN first_reached INTEGER;  -- the run whose trace first reached it (news)
    UPDATE addresses SET first_reached = first_run WHERE hop IS NOT NULL;
    """,
    7: """
    -- News is durable: a run's news covers every run not yet announced (killed, failed, or whose
    -- output never reached the analyst), and is marked announced only once it has been printed.
    ALTER TABLE runs ADD COLUMN announced_by INTEGER;     -- the run whose printed news covered this one
    ALTER TABLE runs ADD COLUMN rejected INTEGER;         -- malformed or out-of-range records skipped
    ALTER TABLE runs ADD COLUMN rejected_detail TEXT;     -- JSON: the first of them (address, action, tx, reason)
    UPDATE runs SET announced_by = id;                    -- what older versions printed is not repeated
    CREATE TABLE announced_exits (                        -- exits already announced, whatever the order of
        address  TEXT PRIMARY KEY,                        -- labels and traces that made them exits
        category TEXT NOT NULL,
        run_id   INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO announced_exits
        SELECT address, category, COALESCE(first_reached, 0) FROM addresses
        WHERE category IN ('bridge', 'dex', 'exchange', 'mixer', 'service') AND hop IS NOT NULL;
    """,
    8: """
    CREATE TABLE usage (                                  -- requests sent per UTC day and service (quotas are daily)
        day      TEXT NOT NULL,                           -- YYYY-MM-DD, UTC: Etherscan and Blockscout reset at 00:00
        service  TEXT NOT NULL,
        requests INTEGER NOT NULL,
        PRIMARY KEY (day, service)
    );
    """,
    9: """
    CREATE TABLE seed_syncs (                             -- every sync of an attributed-address source
        id         INTEGER PRIMARY KEY,
        source     TEXT NOT NULL,                         -- lazarusbounty, fbi, or the file/URL's name
        url        TEXT NOT NULL,
        sha256     TEXT NOT NULL,                         -- of the document as received
        fetched_at TEXT NOT NULL,                         -- UTC, ISO 8601
        added      INTEGER NOT NULL,
        removed    INTEGER NOT NULL,
        summary    TEXT NOT NULL                          -- JSON: counts per chain and the quirks met
    );
    CREATE TABLE synced_seeds (                           -- one attributed address as one source lists it
        source      TEXT NOT NULL,
        chain       TEXT NOT NULL,                        -- the feed's key: eth, btc, bsc, arbi, tron, solana, ...
        address     TEXT NOT NULL,                        -- EVM lowercased; other chains as written
        case_name   TEXT NOT NULL,
        url         TEXT NOT NULL,
        sha256      TEXT NOT NULL,                        -- the document it was last seen in
        first_seen  TEXT NOT NULL,
        last_seen   TEXT NOT NULL,
        removed_at  TEXT,                                 -- set when a later sync no longer lists it
        flags       TEXT NOT NULL DEFAULT '',             -- bad-checksum, unsupported-chain
        PRIMARY KEY (source, chain, address, case_name)
    );
    CREATE INDEX synced_seeds_case ON synced_seeds (case_name, chain);
    """,
}
