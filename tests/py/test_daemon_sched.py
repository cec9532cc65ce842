"""The scheduler with real runner processes: crashes, reloads, concurrency,
eviction on a simulated GPU, queue limits.  Tiny random-weight models keep
each generation in milliseconds, so these test the daemon, not the CPU."""
import concurrent.futures as cf
import datetime
import http.client
import json
import os
import signal
import time
import urllib.request

import pytest

from daemon_util import Daemon, make_model, sha256_file


def generate(d, model, prompt, n=16, stream=False, **opts):
    body = {"model": model, "prompt": prompt, "stream": stream,
            "options": {"temperature": 0, "num_predict": n, **opts}}
    status, raw = d.post("/api/generate", body)
    if not stream:
        return status, json.loads(raw)
    lines = [json.loads(x) for x in raw.decode().splitlines() if x.strip()]
    return status, lines


def ps(d):
    return {m["name"]: m for m in d.get("/api/ps")["models"]}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models")
    return {name: make_model(str(tmp / f"{name}.gguf"), preset, "q8_0", seed)
            for name, preset, seed in [("a", "tiny-qwen2", 1), ("b", "tiny-qwen2", 2), ("c", "tiny-qwen2", 3)]}


def start(tmp_path, models, names=("a",), **env):
    d = Daemon(str(tmp_path), **env)
    for n in names:
        d.create(n, models[n])
    return d


def test_runner_crash_mid_stream(tmp_path, models):
    d = start(tmp_path, models, QM_NUM_PARALLEL=1)
    try:
        assert generate(d, "a", "warm up", n=1)[0] == 200
        (pid,) = d.runner_pids()
        req = urllib.request.Request(d.url + "/api/generate", method="POST", data=json.dumps(
            {"model": "a", "prompt": "go on", "options": {"temperature": 0, "num_predict": 100000,
                                                          "num_ctx": 4096}}).encode())
        with urllib.request.urlopen(req, timeout=60) as r:
            first = json.loads(r.readline())
            assert first["done"] is False
            os.kill(pid, signal.SIGKILL)
            rest = [json.loads(x) for x in r.read().decode().splitlines() if x.strip()]
        # the stream ends with an error line, not with done
        assert rest and "error" in rest[-1], rest[-3:]
        assert d.proc.poll() is None
        status, body = generate(d, "a", "again", n=3)
        assert status == 200 and body["done"]
        assert d.runner_pids() and d.runner_pids()[0] != pid
    finally:
        assert d.stop() == 0
    assert not d.runner_pids()


def test_smaller_num_ctx_does_not_reload(tmp_path, models):
    d = start(tmp_path, models)
    try:
        assert generate(d, "a", "x", n=1, num_ctx=2048)[0] == 200
        (pid,) = d.runner_pids()
        assert ps(d)["a:latest"]["context_length"] == 2048
        assert generate(d, "a", "x", n=1, num_ctx=512)[0] == 200
        assert d.runner_pids() == [pid]
        assert generate(d, "a", "x", n=1, num_ctx=4096)[0] == 200
        assert d.runner_pids() != [pid]
        assert ps(d)["a:latest"]["context_length"] == 4096
    finally:
        assert d.stop() == 0


def test_slow_load_does_not_delay_a_loaded_model(tmp_path, models):
    # b's load is held until the test opens the gate: a's request must be
    # answered while b is still loading
    gate = tmp_path / "gate"
    slow = sha256_file(models["b"])[7:]
    d = start(tmp_path, models, ("a", "b"), QM_TEST_LOAD_GATE=f"{slow}:{gate}")
    try:
        assert generate(d, "a", "x", n=1)[0] == 200
        with cf.ThreadPoolExecutor(1) as ex:
            fb = ex.submit(generate, d, "b", "slow", 2)
            deadline = time.time() + 20
            while "b:latest" not in ps(d) and time.time() < deadline:
                time.sleep(0.02)
            assert "b:latest" in ps(d)         # b is loading
            # its keep-alive (5m by default) is shown as starting now, not as never
            exp = datetime.datetime.fromisoformat(ps(d)["b:latest"]["expires_at"].replace("Z", "+00:00"))
            left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
            assert 0 < left <= 300, ps(d)["b:latest"]
            status, body = generate(d, "a", "quick", n=2)
            assert status == 200 and body["done"]
            assert not fb.done()               # b still held: a did not wait for it
            gate.touch()
            assert fb.result(timeout=60)[0] == 200
    finally:
        assert d.stop() == 0


def test_concurrent_streams_match_solo(tmp_path, models):
    d = start(tmp_path, models, QM_NUM_PARALLEL=4)
    try:
        prompts = [f"story number {i} begins" for i in range(8)]
        solo = {}
        for p in prompts:
            status, lines = generate(d, "a", p, n=24, stream=True)
            assert status == 200
            solo[p] = "".join(x.get("response", "") for x in lines)

        def one(i):
            p = prompts[i % len(prompts)]
            status, lines = generate(d, "a", p, n=24, stream=True)
            assert lines[-1]["done"], lines[-1]
            return p, "".join(x.get("response", "") for x in lines)

        with cf.ThreadPoolExecutor(64) as ex:
            results = list(ex.map(one, range(64)))
        assert len(results) == 64
        for p, text in results:
            assert text == solo[p]
    finally:
        assert d.stop() == 0


def test_lru_eviction_on_simulated_gpu(tmp_path, models):
    # measure what one model takes, then give the simulated GPU room for two
    d = start(tmp_path / "probe", models, QM_SIM_GPU="vram=64GiB", QM_CONTEXT_LENGTH=256)
    try:
        generate(d, "a", "x", n=1)
        one = ps(d)["a:latest"]["size_vram"]
    finally:
        d.stop()
    assert one > 0
    vram = int(one * 2.6)
    d = start(tmp_path, models, ("a", "b", "c"), QM_SIM_GPU=f"vram={vram}", QM_CONTEXT_LENGTH=256)
    try:
        for m in ("a", "b"):
            assert generate(d, m, "x", n=1)[0] == 200
        assert set(ps(d)) == {"a:latest", "b:latest"}
        assert generate(d, "a", "x", n=1)[0] == 200      # b is now the least recently used
        assert generate(d, "c", "x", n=1)[0] == 200
        assert set(ps(d)) == {"a:latest", "c:latest"}
        # keep_alive 0 with no prompt unloads
        status, body = d.post("/api/generate", {"model": "a", "keep_alive": 0})
        assert status == 200 and json.loads(body)["done_reason"] == "unload"
        deadline = time.time() + 10
        while "a:latest" in ps(d) and time.time() < deadline:
            time.sleep(0.05)
        assert set(ps(d)) == {"c:latest"}
    finally:
        assert d.stop() == 0


def test_queue_overflow_is_503(tmp_path, models):
    d = start(tmp_path, models, QM_NUM_PARALLEL=1, QM_MAX_QUEUE=2)
    try:
        assert generate(d, "a", "x", n=1)[0] == 200

        def long(i):
            return generate(d, "a", f"long {i}", n=400)[0]

        with cf.ThreadPoolExecutor(8) as ex:
            statuses = list(ex.map(long, range(8)))
        assert 503 in statuses and 200 in statuses
        assert generate(d, "a", "after", n=1)[0] == 200
    finally:
        assert d.stop() == 0


def test_disconnect_cancels_generation(tmp_path, models):
    d = start(tmp_path, models, QM_NUM_PARALLEL=1)
    try:
        assert generate(d, "a", "warm up", n=1)[0] == 200
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        c.request("POST", "/api/generate", json.dumps(
            {"model": "a", "prompt": "never ending", "options": {"temperature": 0, "num_predict": 1000000}}))
        r = c.getresponse()
        assert json.loads(r.readline())["done"] is False
        c.sock.close()   # the client hangs up mid-stream
        c.close()
        status, body = generate(d, "a", "next", n=2)
        assert status == 200 and body["done"]
        # with NUM_PARALLEL=1 the next request ran only once the slot was free:
        # the hung-up one was cancelled, not run to its end
        assert ": request 2 done: cancel" in d.read_log()
    finally:
        assert d.stop() == 0


def test_preload_pins_a_model(tmp_path, models):
    d = start(tmp_path / "first", models, ("a", "b"))
    d.stop()
    # the same store, now with QM_PRELOAD=a and a keep-alive of one minute
    d = Daemon(str(tmp_path / "first"), QM_PRELOAD="a", QM_KEEP_ALIVE="1m")
    try:
        deadline = time.time() + 20
        while "a:latest" not in ps(d) and time.time() < deadline:
            time.sleep(0.05)
        assert "a:latest" in ps(d)        # loaded with no request
        assert generate(d, "a", "x", n=1)[0] == 200
        assert generate(d, "b", "x", n=1)[0] == 200
        loaded = ps(d)
        # pinned: never expires; b, loaded by a request, expires with the keep-alive
        assert loaded["a:latest"]["expires_at"].startswith("2262-"), loaded
        assert not loaded["b:latest"]["expires_at"].startswith("2262-"), loaded
    finally:
        assert d.stop() == 0
