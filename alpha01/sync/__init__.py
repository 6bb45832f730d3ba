"""Client for the optional sync server: enrollment, heartbeat, store QR codes, binding codes.

Nothing here imports the server's web framework; httpx is the only network library.
"""

from .client import (
    Binding,
    DeviceStatus,
    Enrollment,
    HeartbeatLoop,
    MintedQR,
    ServerAlerts,
    SyncClient,
    SyncError,
    parse_binding_code,
)

__all__ = [
    "Binding",
    "DeviceStatus",
    "Enrollment",
    "HeartbeatLoop",
    "MintedQR",
    "ServerAlerts",
    "SyncClient",
    "SyncError",
    "parse_binding_code",
]
