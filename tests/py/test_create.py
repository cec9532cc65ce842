"""/api/create with quantize: an F16 GGUF re-quantized into the store by the
engine's quantizers, with Ollama's progress lines; bad requests refused."""
import json
import os

import pytest

from daemon_util import Daemon, make_model, sha256_file


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("create")
    f16 = make_model(str(tmp / "tiny-f16.gguf"), ftype="f16", seed=5)
    q8 = make_model(str(tmp / "tiny-q8.gguf"), ftype="q8_0", seed=5)
    d = Daemon(str(tmp))
    for path in (f16, q8):
        with open(path, "rb") as f:
            status, body = d.post(f"/api/blobs/{sha256_file(path)}", f.read())
        assert status in (200, 201), body
    yield d, f16, q8
    d.stop()


def lines(body):
    return [json.loads(x) for x in body.decode().splitlines() if x.strip()]


def test_quantize_streams_progress_and_creates(env):
    d, f16, _ = env
    status, body = d.post("/api/create", {"model": "tiny:q4_k_m", "files": {"m.gguf": sha256_file(f16)},
                                          "quantize": "q4_k_m"})
    assert status == 200
    out = lines(body)
    assert out[0] == {"status": "quantizing F16 model to Q4_K_M"}
    ticks = [o for o in out if o.get("total")]
    assert ticks and ticks[-1]["completed"] == ticks[-1]["total"]
    assert [o["completed"] for o in ticks] == sorted(o["completed"] for o in ticks)
    assert out[-1] == {"status": "success"}
    layer = [o["status"] for o in out if o["status"].startswith("creating new layer sha256:")]
    assert len(layer) == 1
    digest = layer[0].split()[-1]
    # the new blob is in the store under its own hash, and no temporary is left
    blob = os.path.join(d.store, "blobs", digest.replace(":", "-"))
    assert sha256_file(blob) == digest
    assert not [n for n in os.listdir(os.path.join(d.store, "blobs")) if n.startswith("quantize-")]
    tags = {m["name"]: m for m in d.get("/api/tags")["models"]}
    assert tags["tiny:q4_k_m"]["details"]["quantization_level"] == "Q4_K_M"
    assert os.path.getsize(blob) < os.path.getsize(f16) / 2
    status, body = d.post("/api/generate", {"model": "tiny:q4_k_m", "prompt": "hi", "stream": False,
                                            "options": {"num_predict": 4, "temperature": 0}})
    assert status == 200, body
    assert json.loads(body)["eval_count"] >= 1
    # /api/ps names the loaded model with the same ID as /api/tags
    ps = {m["name"]: m for m in d.get("/api/ps")["models"]}
    assert ps["tiny:q4_k_m"]["digest"] == tags["tiny:q4_k_m"]["digest"]
    assert len(ps["tiny:q4_k_m"]["digest"]) == 64
    # re-created with a new parameter while loaded: same weights, a new manifest;
    # the next request runs in the same instance, and /api/ps shows the new ID
    status, _ = d.post("/api/create", {"model": "tiny:q4_k_m", "from": "tiny:q4_k_m",
                                       "parameters": {"num_predict": 3}, "stream": False})
    assert status == 200
    new_id = {m["name"]: m for m in d.get("/api/tags")["models"]}["tiny:q4_k_m"]["digest"]
    assert new_id != tags["tiny:q4_k_m"]["digest"]
    status, body = d.post("/api/generate", {"model": "tiny:q4_k_m", "prompt": "hi", "stream": False})
    assert status == 200 and json.loads(body)["eval_count"] <= 3, body
    ps = {m["name"]: m for m in d.get("/api/ps")["models"]}
    assert ps["tiny:q4_k_m"]["digest"] == new_id


def test_quantize_not_streamed_from_a_model(env):
    d, f16, _ = env
    status, _ = d.post("/api/create", {"model": "tiny:f16", "files": {"m.gguf": sha256_file(f16)}, "stream": False})
    assert status == 200
    status, body = d.post("/api/create", {"model": "tiny:q8", "from": "tiny:f16", "quantize": "Q8_0",
                                          "stream": False})
    assert status == 200, body
    assert json.loads(body) == {"status": "success"}
    tags = {m["name"]: m for m in d.get("/api/tags")["models"]}
    assert tags["tiny:q8"]["details"]["quantization_level"] == "Q8_0"


def test_quantize_refusals(env):
    d, f16, q8 = env
    status, body = d.post("/api/create", {"model": "bad", "files": {"m.gguf": sha256_file(f16)},
                                          "quantize": "q7_x", "stream": False})
    assert status == 400
    assert "q7_x" in json.loads(body)["error"].lower()
    # an already quantized model cannot be re-quantized
    status, body = d.post("/api/create", {"model": "bad", "files": {"m.gguf": sha256_file(q8)},
                                          "quantize": "q4_0", "stream": False})
    assert status == 400, body
    assert json.loads(body)["error"]
    status, body = d.post("/api/create", {"model": "bad", "from": "no-such-model", "quantize": "q4_0",
                                          "stream": False})
    assert status == 404, body
    assert "bad:latest" not in {m["name"] for m in d.get("/api/tags")["models"]}
    assert not [n for n in os.listdir(os.path.join(d.store, "blobs")) if n.startswith("quantize-")]
