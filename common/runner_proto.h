/* runner_proto.h - what the daemon and a `qm runner` process say to each other.
 *
 * The daemon starts one runner per loaded model instance with a socketpair
 * on the runner's fd 3 (stdin is /dev/null, stderr goes to the daemon's
 * log).  Both directions carry newline-terminated JSON objects, one per line
 * (jansson, JSON_COMPACT: no raw newline can appear inside one).  Text is
 * UTF-8; the runner never cuts a character in two.
 *
 * Start:  qm runner --model PATH [--ctx N] [--parallel N] [--threads N]
 *                   [--gpu-layers N] [--kv-type f16|q8_0] [--batch N]
 *
 * Runner -> daemon
 *   {"type":"progress","progress":0.42}             while loading (0..1)
 *   {"type":"ready","n_ctx":4096,"n_ctx_train":32768,"n_parallel":4,
 *    "n_vocab":151936,"ram":BYTES,"vram":BYTES,"gpu_layers":N,
 *    "n_layer":24,"arch":"qwen2","chat_format":"chatml"}
 *   {"type":"error","error":"…"}                     load failed; the runner exits 1
 *   {"type":"token","id":ID,"text":"…",             a piece of output (may be "")
 *    "logprobs":[{"token":"…","logprob":-0.1,"bytes":[…],
 *                 "top_logprobs":[{"token":"…","logprob":…,"bytes":[…]},…]},…]}
 *                                                   (logprobs only when asked; one entry
 *                                                    per generated token in this piece)
 *   {"type":"done","id":ID,"done_reason":"stop"|"length"|"cancel",
 *    "prompt_eval_count":N,"prompt_eval_duration":NS,"eval_count":N,
 *    "eval_duration":NS,"prompt_cached":N,"context":[ids…]}
 *                                                   prompt_eval_count counts the tokens
 *                                                   evaluated, not those reused from the
 *                                                   slot's cache (prompt_cached)
 *   {"type":"embedding","id":ID,"embeddings":[[…],…],"prompt_eval_count":N}
 *   {"type":"tokens","id":ID,"tokens":[…]}          answer to "tokenize"
 *   {"type":"fail","id":ID,"error":"…","status":400} the request failed, the runner lives on
 *
 * Daemon -> runner
 *   {"op":"completion","id":ID, …the job fields below…}
 *   {"op":"embed","id":ID,"input":["…",…],"truncate":true,"dimensions":N}
 *                                                   ("tokens":[[ids…],…] instead of "input"
 *                                                    for inputs given as token ids)
 *   {"op":"tokenize","id":ID,"text":"…"}
 *   {"op":"cancel","id":ID}                         ends it with done_reason "cancel"
 *   {"op":"quit"}                                   finish nothing, exit 0
 *
 * Job fields of a completion (the http codecs build them; the runner reads them):
 *   "prompt":"…"            text; rendered through the template unless "raw"
 *   "tokens":[…]            token ids, taken as they are (OpenAI's prompt arrays)
 *   "messages":[{"role":"…","content":"…"},…]   a chat, rendered by the runner
 *   "system":"…"            system prompt (replaces the model's default)
 *   "template":"…"          a Go template (Modelfile TEMPLATE) instead of the
 *                           model's built-in chat format
 *   "raw":true              the prompt goes to the tokenizer untouched
 *   "suffix":"…"            (reserved)
 *   "options":{             Ollama's option names:
 *       "temperature","top_k","top_p","min_p","typical_p","repeat_last_n",
 *       "repeat_penalty","presence_penalty","frequency_penalty","seed",
 *       "num_predict","stop":[…],"num_keep"}
 *   "logit_bias":{"ID":BIAS,…}
 *   "logprobs":true,"top_logprobs":N
 *   "format":"json" | {JSON schema}   constrained output
 *   "context":[…]           /api/generate's returned context (token ids), prepended
 *
 * A runner serves at most n_parallel requests at once (the daemon queues
 * the rest).  Ids are the daemon's; the runner only echoes them. */
#ifndef QM_COMMON_RUNNER_PROTO_H
#define QM_COMMON_RUNNER_PROTO_H

/* The fd on which a runner finds its socketpair end. */
#define QM_RUNNER_FD 3

/* The longest line either side accepts (a prompt can be long). */
#define QM_RUNNER_MAX_LINE (64u << 20)

#endif
