"""Qinglu (青绿): an ecological product exchange on one ledger."""

__version__ = "0.1.0"
