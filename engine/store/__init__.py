"""Persistent ledger for the engine (SQLite, WAL, write-ahead batched). See engine/store/db.py."""

from engine.store.db import MONEY_COLUMNS, TABLES, TERMINAL_ORDER_STATES, Store, StoreError

__all__ = ["MONEY_COLUMNS", "TABLES", "TERMINAL_ORDER_STATES", "Store", "StoreError"]
