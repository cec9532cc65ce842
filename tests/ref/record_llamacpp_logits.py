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

Usage: record_llamacpp_logits.py MAKE_TEST_MODEL_BINARY
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
PROMPT = b"The quick brown fox jumps over the lazy dog. Once upon a time,"
STEPS = 64
SEED = 7
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "logits")


def record(maker, arch, ftype, tmp):
    path = os.path.join(tmp, f"{arch}-{ftype}.gguf")
    subprocess.run([maker, "--preset", f"tiny-{arch}", "--arch", arch, "--type", ftype,
                    "--seed", str(SEED), "--out", path], check=True, stdout=subprocess.DEVNULL)
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=2,
                          logits_all=True, verbose=False)
    prompt = llm.tokenize(PROMPT, add_bos=True, special=False)
    llm.eval(prompt)
    tokens, top = [], []
    for step in range(STEPS):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        order = np.argsort(-logits, kind="stable")[:10]
        top.append([[int(i), float(logits[i])] for i in order])
        t = int(order[0])
        tokens.append(t)
        if step + 1 < STEPS:
            llm.eval([t])
    del llm
    rec = {"arch": arch, "type": ftype, "seed": SEED, "preset": f"tiny-{arch}",
           "model_sha256": sha, "prompt": prompt, "tokens": tokens, "top": top,
           "llama_cpp_python": llama_cpp.__version__}
    with open(os.path.join(OUT, f"{arch}-{ftype}.json"), "w") as f:
        json.dump(rec, f)
    print(f"{arch}-{ftype}: {len(prompt)} prompt tokens, {STEPS} steps")


def main():
    maker = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            for ftype in TYPES:
                record(maker, arch, ftype, tmp)


if __name__ == "__main__":
    main()
