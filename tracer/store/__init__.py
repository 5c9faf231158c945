"""The case store: tracer/store/common.py holds what every backend shares (the queries), schema.py the tables
and migrations, sqlite.py the default backend (a file), postgres.py a case on a PostgreSQL server. Callers
only ever see Store (opened with Store.open(path or URL)) and these helpers."""

from .common import AddressRow, Cursor, Store, _flags_set, storable, transfer_from_row
from .schema import FLUSH_SECONDS, FLUSH_TRANSFERS, SCHEMA_VERSION
from .sqlite import store_error

__all__ = ["AddressRow", "Cursor", "FLUSH_SECONDS", "FLUSH_TRANSFERS", "SCHEMA_VERSION", "Store", "_flags_set",
           "storable", "store_error", "transfer_from_row"]
