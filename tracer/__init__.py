"""tracer: follow stolen funds on Ethereum, hop by hop, every hop backed by a transaction hash."""

__version__ = "0.1.0"
