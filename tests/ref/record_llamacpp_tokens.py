#!/usr/bin/env python3
"""Records llama.cpp's token ids for the tokenizer corpus.

The twin of record_hf_tokens.py, through llama-cpp-python (built from
source, which is why it is not among the test requirements): for each model
of tokref.MODELS whose GGUF file is present, loads the vocabulary only and
writes tests/data/tokenizer/llamacpp-<model>.jsonl in the same format, with

    Llama(model_path, vocab_only=True).tokenize(text.encode(), add_bos=True, special=True)

The binding's add_bos is llama.cpp's add_special, which adds BOS/EOS only
where the vocabulary asks for them, like our add_special=true; special=True
is our parse_special=true.
tests/py/test_tokenizer_reference.py compares against this file as soon as
it exists.

Usage: python3 tests/ref/record_llamacpp_tokens.py [MODEL ...]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokref  # noqa: E402


def main() -> int:
    try:
        import llama_cpp
    except ImportError:
        print("llama-cpp-python is not installed (pip install llama-cpp-python builds llama.cpp)")
        return 1
    wanted = sys.argv[1:] or list(tokref.MODELS)
    corpus = tokref.load_corpus()
    for short in wanted:
        path = tokref.model_path(short)
        if not os.path.exists(path):
            print(f"{short}: {path} is missing; skipped (scripts/fetch-test-models.sh fetches it)")
            continue
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        # The binding's add_bos is llama_tokenize's add_special, which adds
        # BOS/EOS only where the vocabulary asks for them.
        ids = [llm.tokenize(text.encode("utf-8"), add_bos=True, special=True) for text in corpus]
        meta = {
            "source": "llamacpp",
            "how": "Llama(model_path, vocab_only=True).tokenize(text.encode(), add_bos=True, special=True)",
            "llama_cpp_python": llama_cpp.__version__,
            "model": os.path.basename(path),
            "model_bytes": os.path.getsize(path),
            "corpus_sha256": tokref.corpus_sha256(),
            "lines": len(corpus),
            "add_special": True,
            "parse_special": True,
        }
        out = tokref.ref_path("llamacpp", short)
        tokref.write_ref(out, meta, [list(map(int, row)) for row in ids])
        print(f"{short}: {len(ids)} lines, {sum(map(len, ids))} tokens -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
