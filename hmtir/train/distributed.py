"""Moved to :mod:`hmtir.distributed` (shared by training and evaluation); kept for existing imports."""

from hmtir.distributed import (
    DistContext,
    barrier,
    broadcast_flag,
    gather_floats,
    mean_across,
    setup,
    teardown,
)

__all__ = ["DistContext", "barrier", "broadcast_flag", "gather_floats", "mean_across", "setup", "teardown"]
