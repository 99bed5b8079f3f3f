"""Pause Python's cyclic garbage collector around a burst of allocation.

Building a city's settlement allocates millions of short-lived objects while a few hundred
thousand live ones (the inputs, the lines) grow; each full collection walks all of them, and
several run during one build (about half a second of a three-second build). Reference counting
still frees everything that is not in a cycle at once, so pausing the collector for the burst
costs no memory that lasts: it runs again afterwards and takes whatever cycles were left.

The collector is global to the process: pauses nest and may overlap across threads; it comes
back on when the last one ends, and only if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cyclic collector off (reference counting goes on as always)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
