"""Memory of the long-running processes (`tiaojie serve`, `tiaojie worker`) on glibc.

glibc gives each thread that allocates concurrently its own malloc arena (up to 8 per core), and an
arena keeps the pages of its peak: every relay thread that rendered a PDF, and every thread of the
web server's pool, holds tens of MB of freed memory (measured: `tiaojie serve` grew from 418 to 742 MB
in 2,000 requests, most of it in 64 MB thread arenas; with the two calls below, 407 to 480 MB). Two
arenas shared by all threads, and giving free pages back after each flow run, keep it near what is
really in use. Elsewhere (musl, macOS) the calls are absent and this does nothing.
"""

from __future__ import annotations

import ctypes
import os

# glibc's mallopt parameter (malloc.h): the most arenas the allocator creates.
M_ARENA_MAX = -8
ARENA_MAX = 2

_libc: ctypes.CDLL | None = None


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:
            return None
        if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
            return None
        _libc = libc
    return _libc


def limit_arenas(arenas: int = ARENA_MAX) -> bool:
    """At most `arenas` malloc arenas in this process; call before it starts threads (an arena once
    made stays). Children started after this get it through MALLOC_ARENA_MAX, which glibc reads at a
    process's start. An operator's MALLOC_ARENA_MAX wins.
    True when the limit is set for this process."""
    chosen = os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))
    libc = _glibc()
    if libc is None:
        return False
    try:
        limit = int(chosen)
    except ValueError:
        limit = arenas
    return bool(libc.mallopt(M_ARENA_MAX, limit))


def release_free_memory() -> None:
    """Give the allocator's free pages back to the system (after a flow run: its PDF's memory)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
