"""runtime.memory on glibc: the arena limit holds however many threads allocate at once, and the free
pages of a flow run go back to the system. Each check runs in a fresh interpreter (an arena limit only
works before threads allocate, and RSS must not carry the test runner's own)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")

_ARENAS = """
import ctypes, os, sys, tempfile, threading
limit = sys.argv[1] == "limit"
if limit:
    from runtime.memory import limit_arenas
    assert limit_arenas(), "mallopt refused the arena limit"
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
barrier = threading.Barrier(8)
def work():
    barrier.wait()  # all allocate at the same moment: without a limit each gets its own arena
    blocks = [libc.malloc(256) for _ in range(20000)]
    for b in blocks:
        libc.free(b)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
path = tempfile.mktemp()
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
print(open(path).read().count("<heap nr="), os.environ.get("MALLOC_ARENA_MAX"))
os.unlink(path)
"""

_TRIM = """
import ctypes, threading
from runtime.memory import release_free_memory
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
out = []
def work():  # a thread, as the relay's are: its own arena, no automatic trim of a thread heap's middle
    blocks = [libc.malloc(1000) for _ in range(200000)]
    for b in blocks:
        ctypes.memset(b, 1, 1000)
    for b in blocks[:-1]:  # the last block keeps the top in use: only malloc_trim gives the rest back
        libc.free(b)
    out.append(rss())
    release_free_memory()
    out.append(rss())
t = threading.Thread(target=work)
t.start()
t.join()
print(*out)
"""


def _run(code: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_arena_limit_holds_with_eight_threads_allocating_at_once() -> None:
    unlimited, _ = _run(_ARENAS, "free").split()
    limited, env_value = _run(_ARENAS, "limit").split()
    assert int(unlimited) > 2  # the check can see arenas at all
    assert int(limited) <= 2
    # Children started afterwards (Prefect's temporary server) get the limit from the environment.
    assert env_value == "2"


def test_release_free_memory_gives_freed_pages_back() -> None:
    before, after = (int(x) for x in _run(_TRIM).split())
    assert before - after > 100, (before, after)  # ~190 MB freed in the thread's arena
