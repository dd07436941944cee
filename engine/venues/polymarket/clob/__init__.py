"""Polymarket CLOB V2 protocol primitives: order signing, L1/L2 auth, amount math."""
