#!/usr/bin/env python3
"""Records llama.cpp's greedy continuation and logits on qm's test models.

For every architecture (tiny-<arch> presets of tests/tools/make_test_model,
random weights from a fixed seed) and every weight type in TYPES, this makes
the model file, has llama.cpp (llama-cpp-python, built from source; not a
test requirement) tokenize PROMPT and decode STEPS tokens greedily, and
writes tests/data/logits/<arch>-<type>.json with:

  model_sha256   the file's hash: the test remakes the model and checks it
                 is the same file before comparing anything
  prompt         the prompt's token ids
  tokens         llama.cpp's greedy tokens, STEPS of them
  top            per step (the last prompt token, then each generated one
                 but the last), llama.cpp's 10 highest [id, logit] pairs

It also records the same for the real models of scripts/fetch-test-models.sh
(REAL: file name -> prompt, REAL_STEPS steps) into real-<file>.json, whose
model_sha256 is the file's as fetched.

Usage: record_llamacpp_logits.py MAKE_TEST_MODEL_BINARY [REAL_MODELS_DIR]
  (run with the Python that has llama_cpp installed)
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import llama_cpp

ARCHS = ["llama", "qwen2", "qwen3", "gemma", "gemma2", "gemma3"]
TYPES = ["f16", "q8_0", "q4_k_m", "q2_k"]
# presets beyond tiny-<arch>: (case name, preset, arch, types)
VARIANTS = [("qwen2-yarn", "tiny-qwen2-yarn", "qwen2", ["f16", "q8_0"])]
PROMPT = b"The quick brown fox jumps over the lazy dog. Once upon a time,"
STEPS = 64
SEED = 7
REAL = {
    "gemma-3-270m-q4_k_m.gguf": b"The capital of France is",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": b"The capital of France is",
}
REAL_STEPS = 24
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "logits")


def greedy(path, text, steps):
    """llama.cpp's prompt ids, greedy tokens and per-step top-10 [id, logit]."""
    llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=2,
                          logits_all=True, verbose=False)
    prompt = llm.tokenize(text, add_bos=True, special=False)
    llm.eval(prompt)
    tokens, top = [], []
    for step in range(steps):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        order = np.argsort(-logits, kind="stable")[:10]
        top.append([[int(i), float(logits[i])] for i in order])
        t = int(order[0])
        tokens.append(t)
        if step + 1 < steps:
            llm.eval([t])
    del llm
    return prompt, tokens, top


def record(maker, arch, ftype, tmp, name=None, preset=None):
    name, preset = name or arch, preset or f"tiny-{arch}"
    path = os.path.join(tmp, f"{name}-{ftype}.gguf")
    subprocess.run([maker, "--preset", preset, "--arch", arch, "--type", ftype,
                    "--seed", str(SEED), "--out", path], check=True, stdout=subprocess.DEVNULL)
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    prompt, tokens, top = greedy(path, PROMPT, STEPS)
    rec = {"arch": arch, "type": ftype, "seed": SEED, "preset": preset,
           "model_sha256": sha, "prompt": prompt, "tokens": tokens, "top": top,
           "llama_cpp_python": llama_cpp.__version__}
    with open(os.path.join(OUT, f"{name}-{ftype}.json"), "w") as f:
        json.dump(rec, f)
    print(f"{name}-{ftype}: {len(prompt)} prompt tokens, {STEPS} steps")


def record_real(models_dir):
    for name, text in REAL.items():
        path = os.path.join(models_dir, name)
        if not os.path.exists(path):
            print(f"{name}: not found, skipped")
            continue
        sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
        prompt, tokens, top = greedy(path, text, REAL_STEPS)
        rec = {"file": name, "model_sha256": sha, "prompt": prompt, "tokens": tokens, "top": top,
               "llama_cpp_python": llama_cpp.__version__}
        with open(os.path.join(OUT, f"real-{name[:-5]}.json"), "w") as f:
            json.dump(rec, f)
        print(f"{name}: {len(prompt)} prompt tokens, {REAL_STEPS} steps")


def main():
    maker = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    if len(sys.argv) > 2:
        record_real(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            for ftype in TYPES:
                record(maker, arch, ftype, tmp)
        for name, preset, arch, types in VARIANTS:
            for ftype in types:
                record(maker, arch, ftype, tmp, name, preset)


if __name__ == "__main__":
    main()
