#!/usr/bin/env python3
"""Pull throughput on loopback: `qm serve` pulls a GGUF from the test
registry server (tests/py/registry_server.py, Hugging Face-style file URL)
with 1 and with N parallel range requests, alternating, each into a fresh
store.  The time covers the whole /api/pull: HEAD, download, sha256 check,
manifest.  The Python server is single-process, so it may be the limit.

    bench/pull_bench.py MODEL.gguf [--rounds 2] [--connections 8] [--chunk-mib 64]
    (QM_BIN: the qm binary, default build/qm)
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))
from daemon_util import Daemon  # noqa: E402
from registry_server import RegistryServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--chunk-mib", type=int, default=64)
    a = ap.parse_args()
    size = os.path.getsize(a.gguf)
    tmp = tempfile.mkdtemp(prefix="qm-pull-bench-")
    try:
        with RegistryServer() as reg:
            reg.add_file("/o/r/resolve/main/model.gguf", a.gguf)
            for _ in range(a.rounds):
                for conns in (1, a.connections):
                    d = Daemon(tempfile.mkdtemp(dir=tmp), QM_PULL_CONNECTIONS=conns,
                               QM_PULL_CHUNK=a.chunk_mib << 20)
                    t = time.time()
                    st, body = d.post("/api/pull", {"model": f"{reg.url}/o/r/resolve/main/model.gguf",
                                                    "stream": False}, timeout=3600)
                    dt = time.time() - t
                    d.stop()
                    if st != 200:
                        sys.exit(f"pull failed: {st} {body[:200]!r}")
                    print(f"connections={conns:2d}: {size / 1e6:.0f} MB in {dt:.2f} s = {size / 1e6 / dt:.0f} MB/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
