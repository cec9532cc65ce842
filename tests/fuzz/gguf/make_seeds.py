"""Write the seed corpus of the GGUF fuzzer: a few valid, tiny .gguf files.

Run with the project's venv (it has the gguf package):
    .venv/bin/python tests/fuzz/gguf/make_seeds.py
The files land next to this script.  Each one is small (under 2 KiB) so that
a mutation has a fair chance of hitting every structure: header, KVs of every
value type, nested arrays, tensor infos, padding and data.
"""

import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as VT
from gguf import GGUFWriter

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    # the smallest valid file: a header and nothing else
    with open(path("header_only.gguf"), "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))

    # every scalar type, arrays, nested arrays, custom alignment, two tensors
    w = GGUFWriter(path("all_types.gguf"), "llama")
    w.add_custom_alignment(64)
    scalars = [(VT.UINT8, 200), (VT.INT8, -5), (VT.UINT16, 60000), (VT.INT16, -3),
               (VT.UINT32, 7), (VT.INT32, -7), (VT.FLOAT32, 0.5), (VT.BOOL, True),
               (VT.STRING, "hi"), (VT.UINT64, 2**40), (VT.INT64, -2**40), (VT.FLOAT64, 0.25)]
    for i, (t, v) in enumerate(scalars):
        w.add_key_value(f"s.{i}", v, t)
    w.add_key_value("a.u32", [1, 2, 3], VT.ARRAY, sub_type=VT.UINT32)
    w.add_array("a.str", ["a", "bc", "d"])
    w.add_array("a.nested", [[1, 2], [3]])
    w.add_array("a.deep", [[["x"]], [["y", "z"]]])
    w.add_tensor("w.f32", np.arange(8, dtype=np.float32).reshape(2, 4))
    w.add_tensor("w.q8", np.zeros((1, 34), dtype=np.uint8), raw_dtype=Q.Q8_0)
    finish(w)

    # a small llama-like file: vocabulary, F16 and Q4_K tensors
    w = GGUFWriter(path("tiny_llama.gguf"), "llama")
    w.add_uint32("llama.block_count", 1)
    w.add_uint32("llama.embedding_length", 256)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(16)])
    w.add_key_value("tokenizer.ggml.scores", [float(-i) for i in range(16)], VT.ARRAY,
                    sub_type=VT.FLOAT32)
    w.add_tensor("output_norm.weight", np.ones(256, dtype=np.float16))
    w.add_tensor("blk.0.ffn_down.weight", np.zeros((1, 144), dtype=np.uint8), raw_dtype=Q.Q4_K)
    finish(w)

    # version 2 has the same layout: the file above with its version patched
    with open(path("tiny_llama.gguf"), "rb") as f:
        b = bytearray(f.read())
    b[4:8] = struct.pack("<I", 2)
    with open(path("tiny_llama_v2.gguf"), "wb") as f:
        f.write(bytes(b))


if __name__ == "__main__":
    main()
