#!/usr/bin/env python3
"""Records Hugging Face's token ids for the tokenizer corpus.

For each model of tokref.MODELS whose GGUF file is present, builds the
tokenizer transformers makes from the GGUF (see tokref.hf_tokenizer) and
writes tests/data/tokenizer/hf-<model>.jsonl: a header line describing the
run, then the ids of every corpus line with add_special_tokens=True (BOS as
the file's add_bos_token says) and special-token texts matched, which is our
qm_tokenize(add_special=true, parse_special=true).

Needs transformers and tokenizers (pinned in scripts/requirements-test.txt),
not torch.  The output is committed, so tests need none of this to run.

Usage: python3 tests/ref/record_hf_tokens.py [MODEL ...]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokref  # noqa: E402


def main() -> int:
    wanted = sys.argv[1:] or list(tokref.MODELS)
    corpus = tokref.load_corpus()
    for short in wanted:
        path = tokref.model_path(short)
        if not os.path.exists(path):
            print(f"{short}: {path} is missing; skipped (scripts/fetch-test-models.sh fetches it)")
            continue
        tok = tokref.hf_tokenizer(short)
        ids = [tokref.hf_encode(tok, text) for text in corpus]
        import tokenizers
        import transformers

        meta = {
            "source": "hf",
            "how": "PreTrainedTokenizerFast.from_pretrained(dir, gguf_file=name); "
                   "tok(text, add_special_tokens=True)",
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "model": os.path.basename(path),
            "model_bytes": os.path.getsize(path),
            "corpus_sha256": tokref.corpus_sha256(),
            "lines": len(corpus),
            "add_special": True,
            "parse_special": True,
            "fixups": tokref.HF_FIXUPS,
        }
        out = tokref.ref_path("hf", short)
        tokref.write_ref(out, meta, ids)
        print(f"{short}: {len(ids)} lines, {sum(map(len, ids))} tokens -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
