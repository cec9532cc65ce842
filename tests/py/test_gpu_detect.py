"""GPU detection in `qm serve` through NVML (loaded with dlopen), on machines
without a driver: no library, a library whose driver is missing, and a
stand-in library (tests/fake_nvml) that reports a GPU.  Every case still
answers on the CPU."""
import json
import os

import pytest

from daemon_util import Daemon, make_model

FAKE = os.environ.get("QM_FAKE_NVML", "build/tests/libfake_nvml.so")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model(str(tmp_path_factory.mktemp("m") / "tiny.gguf"))


def serve_and_answer(tmp_path, model, **env):
    d = Daemon(str(tmp_path), **env)
    try:
        d.create("tiny", model)
        status, body = d.post("/api/generate", {"model": "tiny", "prompt": "hi", "stream": False,
                                                "options": {"num_predict": 2, "temperature": 0}})
        assert status == 200, body
        assert json.loads(body)["eval_count"] >= 1
        ps = d.get("/api/ps")["models"]
        assert len(ps) == 1 and ps[0]["size_vram"] == 0, ps   # on the CPU
        return d.read_log()
    finally:
        assert d.stop() == 0


def test_no_library(tmp_path, model):
    log = serve_and_answer(tmp_path, model, QM_NVML_LIBRARY=str(tmp_path / "libnvidia-ml.so.1"))
    assert "no NVIDIA driver" in log and "models run on the CPU" in log, log


def test_library_without_driver(tmp_path, model):
    log = serve_and_answer(tmp_path, model, QM_NVML_LIBRARY=FAKE, FAKE_NVML_INIT="fail")
    assert "NVML did not start: Driver Not Loaded" in log, log


def test_gpu_reported(tmp_path, model):
    devices = tmp_path / "devices"
    devices.write_text("81559 80000 Fake H100\n")
    log = serve_and_answer(tmp_path, model, QM_NVML_LIBRARY=FAKE, FAKE_NVML_FILE=str(devices))
    assert "GPU 0: Fake H100, 80000 MiB free of 81559 MiB" in log, log
    # until the CUDA forward pass exists, the GPU is reported and not used
    assert "cannot run layers on a GPU yet" in log, log


def test_simulated_gpu_skips_nvml(tmp_path, model):
    devices = tmp_path / "devices"
    devices.write_text("81559 80000 Fake H100\n")
    d = Daemon(str(tmp_path), QM_NVML_LIBRARY=FAKE, FAKE_NVML_FILE=str(devices), QM_SIM_GPU="vram=8GiB")
    try:
        assert d.get("/api/version")["version"]
    finally:
        assert d.stop() == 0
    log = d.read_log()
    assert "Fake H100" not in log and "NVML" not in log and "NVIDIA" not in log, log
