"""The optional alpha01 sync server: stores, enrolled store PCs, signed store QR "live codes".

It registers devices and mints QR tokens; it never sees a conversation. Everything it knows is
in one SQLite database, so several instances could share it. Start with
`python -m sync_server init` and `python -m sync_server serve`.
"""

__version__ = "0.1.0"
