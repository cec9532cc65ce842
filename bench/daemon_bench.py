#!/usr/bin/env python3
"""Benchmarks of `qm serve` (issue 4).  Prints figures; asserts nothing.

  daemon_bench.py sweep    [--model GGUF] [--parallel 1,4,8] [--clients 1,2,4,8,16,32] [--tokens 128]
  daemon_bench.py switch   [--model GGUF --model2 GGUF] [--rounds 6]
  daemon_bench.py overhead [--model GGUF] [--seconds 5] [--tokens 128]

sweep:    streaming clients x tokens at each NUM_PARALLEL: per-request and
          aggregate tokens/s, time to first token p50/p99.
switch:   two models alternating with room for one (QM_MAX_LOADED_MODELS=1)
          and for both: request -> first token of each request.
overhead: /api/version requests/s (wrk when installed, else a Python
          keep-alive loop), and decode tokens/s through the API (streamed to
          curl and to a Python client, and not streamed) against
          `qm bench --file` on the same model.

Models default to the Qwen1.5-0.5B-shaped files of scripts/make-bench-models.sh.
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "py"))
from daemon_util import Daemon  # noqa: E402

BENCH = os.path.expanduser("~/.cache/qm-test/models/bench")
QM = os.environ.get("QM_BIN", os.path.join(os.path.dirname(__file__), "..", "build", "qm"))
os.environ["QM_BIN"] = QM


def stream(port, model, prompt, tokens, streamed=True):
    """One /api/generate; returns (ttft s, total s, eval_count, eval_duration s)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"model": model, "prompt": prompt, "raw": True, "stream": streamed,
                       "options": {"temperature": 0, "num_predict": tokens, "seed": 1}})
    t0 = time.perf_counter()
    c.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    ttft = None
    last = None
    for line in r:
        if not line.strip():
            continue
        obj = json.loads(line)
        if ttft is None and (obj.get("response") or obj.get("done")):
            ttft = time.perf_counter() - t0
        last = obj
    total = time.perf_counter() - t0
    c.close()
    if "error" in last:
        raise RuntimeError(last["error"])
    return ttft, total, last["eval_count"], last["eval_duration"] / 1e9


def stream_curl(url, model, prompt, tokens):
    """A streamed /api/generate read by curl, a C client: what the API costs
    without a Python client's per-line work on the same two cores.  Returns
    (eval_count, eval_duration s) of the final line."""
    body = json.dumps({"model": model, "prompt": prompt, "raw": True, "stream": True,
                       "options": {"temperature": 0, "num_predict": tokens, "seed": 1}})
    with tempfile.NamedTemporaryFile() as out:
        subprocess.run(["curl", "-sSfN", "-o", out.name, url + "/api/generate", "-d", body], check=True)
        last = json.loads(open(out.name, "rb").read().splitlines()[-1])
    if "error" in last:
        raise RuntimeError(last["error"])
    return last["eval_count"], last["eval_duration"] / 1e9


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def start(tmp, models, **env):
    d = Daemon(tmp, **env)
    for name, path in models.items():
        d.create(name, path)
    return d


def sweep(a):
    for par in [int(x) for x in a.parallel.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            d = start(tmp, {"m": a.model}, QM_NUM_PARALLEL=par, QM_DEBUG=0)
            try:
                stream(d.port, "m", "warm up", 4)
                print(f"NUM_PARALLEL={par}")
                print(f"  {'clients':>7} {'req tok/s':>10} {'aggr tok/s':>11} {'TTFT p50':>9} {'TTFT p99':>9}")
                for n in [int(x) for x in a.clients.split(",")]:
                    t0 = time.perf_counter()
                    with cf.ThreadPoolExecutor(n) as ex:
                        res = list(ex.map(lambda i: stream(d.port, "m", f"client {i} says", a.tokens), range(n)))
                    wall = time.perf_counter() - t0
                    per_req = statistics.mean(r[2] / (r[1] - r[0]) for r in res if r[1] > r[0])
                    aggr = sum(r[2] for r in res) / wall
                    ttfts = [r[0] for r in res]
                    print(f"  {n:>7} {per_req:>10.1f} {aggr:>11.1f} {pct(ttfts, 50) * 1e3:>7.0f}ms "
                          f"{pct(ttfts, 99) * 1e3:>7.0f}ms", flush=True)
            finally:
                d.stop()


def switch(a):
    models = {"a": a.model, "b": a.model2}
    for room, env in [("room for one", {"QM_MAX_LOADED_MODELS": 1}), ("room for both", {"QM_MAX_LOADED_MODELS": 2})]:
        with tempfile.TemporaryDirectory() as tmp:
            d = start(tmp, models, QM_DEBUG=0, **env)
            try:
                ttfts = []
                for i in range(a.rounds):
                    m = "ab"[i % 2]
                    ttft, *_ = stream(d.port, m, "switch", 1)
                    ttfts.append(ttft)
                steady = ttfts[2:] if room == "room for both" else ttfts[1:]
                print(f"{room}: request -> first token per switch: "
                      + " ".join(f"{t * 1e3:.0f}" for t in ttfts) + " ms; "
                      f"median after the first loads {statistics.median(steady) * 1e3:.0f} ms", flush=True)
            finally:
                d.stop()


def overhead(a):
    with tempfile.TemporaryDirectory() as tmp:
        d = start(tmp, {"m": a.model}, QM_DEBUG=0)
        try:
            if shutil.which("wrk"):
                out = subprocess.run(["wrk", "-t2", "-c32", f"-d{a.seconds}s", d.url + "/api/version"],
                                     capture_output=True, text=True).stdout
                rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
                print(f"/api/version: {rps} requests/s (wrk -t2 -c32 -d{a.seconds}s)")
            else:
                c = http.client.HTTPConnection("127.0.0.1", d.port)
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < a.seconds:
                    c.request("GET", "/api/version")
                    c.getresponse().read()
                    n += 1
                print(f"/api/version: {n / (time.perf_counter() - t0):.0f} requests/s "
                      "(one keep-alive Python client; wrk not installed)")
            stream(d.port, "m", "warm up", 4)
            # alternate API runs and `qm bench` runs: this machine's speed drifts
            # within minutes, so only interleaved figures compare
            api, capi, whole, bench = [], [], [], []
            for _ in range(a.rounds // 2 or 1):
                _, _, n, dur = stream(d.port, "m", "The quick brown fox", a.tokens)
                api.append(n / dur)
                n, dur = stream_curl(d.url, "m", "The quick brown fox", a.tokens)
                capi.append(n / dur)
                _, _, n, dur = stream(d.port, "m", "The quick brown fox", a.tokens, streamed=False)
                whole.append(n / dur)
                out = subprocess.run([QM, "bench", "--file", a.model, "-p", "16", "-n", str(a.tokens), "-r", "1"],
                                     capture_output=True, text=True).stdout
                bench.append(float(re.findall(r"tg\d+\s+([\d.]+)", out)[-1]))
        finally:
            d.stop()
    med = statistics.median
    print(f"decode tok/s, {len(bench)} interleaved rounds of {a.tokens} tokens (medians):")
    print(f"  qm bench --file:          {med(bench):.1f}   runs {' '.join(f'{x:.1f}' for x in bench)}")
    print(f"  API, streamed to curl:    {med(capi):.1f}   runs {' '.join(f'{x:.1f}' for x in capi)}")
    print(f"  API, streamed to Python:  {med(api):.1f}   runs {' '.join(f'{x:.1f}' for x in api)}")
    print(f"  API, not streamed:        {med(whole):.1f}   runs {' '.join(f'{x:.1f}' for x in whole)}")
    print(f"  API / qm bench: streamed to curl {med(capi) / med(bench):.3f}, to Python {med(api) / med(bench):.3f}, "
          f"not streamed {med(whole) / med(bench):.3f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["sweep", "switch", "overhead"])
    p.add_argument("--model", default=os.path.join(BENCH, "qwen1.5-0.5b-q4_0.gguf"))
    p.add_argument("--model2", default=os.path.join(BENCH, "qwen1.5-0.5b-q4_k_m.gguf"))
    p.add_argument("--parallel", default="1,4,8")
    p.add_argument("--clients", default="1,2,4,8,16,32")
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--seconds", type=int, default=5)
    a = p.parse_args()
    {"sweep": sweep, "switch": switch, "overhead": overhead}[a.what](a)


if __name__ == "__main__":
    main()
