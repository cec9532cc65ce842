/* cmd_generate.c - `qm generate`: run the engine on one prompt, no daemon.
 *
 *   qm generate --file MODEL.gguf -p PROMPT [--chat] [--system TEXT]
 *               [--template NAME] [sampling options] [-n N] [--stop S]...
 *
 * With --chat the prompt is one user turn rendered with the model's chat
 * template (recognised from tokenizer.chat_template, or named with
 * --template); without it the prompt is raw text.  The answer streams to
 * stdout; --verbose prints token counts and speeds to stderr. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "generate.h"
#include "prompt.h"
#include "template.h"

#define MAX_STOPS 16

struct gen_opts {
    const char *file, *prompt, *system, *template_name, *kv_type;
    bool chat, verbose;
    int32_t n_ctx, threads;
    struct qm_gen_params gp;
    const char *stops[MAX_STOPS];
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qm generate --file MODEL.gguf -p PROMPT [options]\n"
            "  --chat                 render PROMPT as a user turn of the model's chat template\n"
            "  --system TEXT          system prompt (with --chat)\n"
            "  --template NAME        chat format: chatml, gemma, llama3, llama2, mistral-v7, ...\n"
            "  -n, --num-predict N    most tokens to generate (default: until the end token)\n"
            "  --temperature T        0 = greedy (default 0.8)\n"
            "  --top-k K --top-p P --min-p P --typical-p P\n"
            "  --repeat-penalty R --repeat-last-n N --presence-penalty P --frequency-penalty P\n"
            "  --seed S               same seed, same prompt: same answer (default random)\n"
            "  --stop TEXT            stop string (repeatable)\n"
            "  -c, --ctx N            context length (default 4096)\n"
            "  -t, --threads N        CPU threads (default: one per core)\n"
            "  --kv-cache-type T      f16 (default) or q8_0; also QM_KV_CACHE_TYPE\n"
            "  --verbose              print token counts and speed to stderr\n");
}

static int num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "qm generate: %s wants a number in [%g, %g], not '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse(int argc, char **argv, struct gen_opts *o)
{
    size_t n_stops = 0;
    qm_gen_params_default(&o->gp);
    o->n_ctx = 4096;
    o->kv_type = getenv("QM_KV_CACHE_TYPE");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (!strcmp(a, "--chat")) { o->chat = true; continue; }
        if (!strcmp(a, "--verbose")) { o->verbose = true; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (!v) {
            fprintf(stderr, "qm generate: %s needs a value\n", a);
            return -1;
        }
        i++;
        struct qm_sampler_params *s = &o->gp.sampling;
        if (!strcmp(a, "--file") || !strcmp(a, "-m")) o->file = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--template")) o->template_name = v;
        else if (!strcmp(a, "--kv-cache-type")) o->kv_type = v;
        else if (!strcmp(a, "--stop")) {
            if (n_stops == MAX_STOPS) {
                fprintf(stderr, "qm generate: at most %d stop strings\n", MAX_STOPS);
                return -1;
            }
            o->stops[n_stops++] = v;
        }
#define NUM(name1, name2, lo, hi, dst)                                                              \
        else if (!strcmp(a, name1) || (name2[0] && !strcmp(a, name2))) {                              \
            if (num(a, v, lo, hi, &d) < 0) return -1;                                              \
            dst;                                                                                    \
        }
        NUM("-n", "--num-predict", -1, 1e9, o->gp.num_predict = (int32_t)d)
        NUM("-c", "--ctx", 1, 1e8, o->n_ctx = (int32_t)d)
        NUM("-t", "--threads", 0, 1024, o->threads = (int32_t)d)
        NUM("--temperature", "", 0, 100, s->temperature = (float)d)
        NUM("--top-k", "", -1, 1e9, s->top_k = (int32_t)d)
        NUM("--top-p", "", 0, 1, s->top_p = (float)d)
        NUM("--min-p", "", 0, 1, s->min_p = (float)d)
        NUM("--typical-p", "", 0, 1, s->typical_p = (float)d)
        NUM("--repeat-penalty", "", 0.001, 100, s->repeat_penalty = (float)d)
        NUM("--repeat-last-n", "", -1, 1e9, s->repeat_last_n = (int32_t)d)
        NUM("--presence-penalty", "", -100, 100, s->presence_penalty = (float)d)
        NUM("--frequency-penalty", "", -100, 100, s->frequency_penalty = (float)d)
        NUM("--seed", "", -1, 4294967295.0, s->seed = (int64_t)d)
#undef NUM
        else {
            fprintf(stderr, "qm generate: unknown option '%s'\n", a);
            return -1;
        }
    }
    o->gp.stop = o->stops;
    o->gp.n_stop = n_stops;
    if (!o->file || !o->prompt) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* The prompt as the model should read it: raw text, or one chat turn. */
static int build_prompt(const struct gen_opts *o, const struct qm_model *m, char **out, struct qm_err *err)
{
    struct qm_prompt_spec spec = {
        .prompt = o->prompt, .system = o->system, .format_name = o->template_name, .raw = !o->chat};
    int rc = qm_prompt_build(m, &spec, out, err);
    if (rc == 0 && o->chat && !o->template_name && !qm_chat_format_renderable(qm_prompt_model_format(m)))
        fprintf(stderr, "qm generate: the model has no chat template qm recognises; the prompt is used as it is"
                        " (name one with --template)\n");
    return rc;
}

static int emit_stdout(void *ud, const char *text, size_t len)
{
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    struct gen_opts o = {0};
    struct qm_err err = {{0}};
    struct qm_model *m = NULL;
    struct qm_tokenizer *tok = NULL;
    struct qm_ctx *c = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    int rc = 1;

    if (parse(argc, argv, &o) < 0)
        return 2;
    struct qm_ctx_params cp;
    qm_ctx_default_params(&cp);
    cp.n_ctx = o.n_ctx;
    cp.n_threads = o.threads;
    if (qm_kv_type_parse(o.kv_type, &cp.kv_type, &err) < 0 || qm_model_load(&m, o.file, &err) < 0 ||
        qm_tokenizer_load(&tok, m->file, &err) < 0 || qm_ctx_create(&c, m, &cp, &err) < 0 ||
        build_prompt(&o, m, &text, &err) < 0 ||
        qm_tokenize(tok, text, strlen(text), true, o.chat, &ids, &n_ids, &err) < 0)
        goto out;

    struct qm_gen_stats st;
    if (qm_generate(c, tok, ids, n_ids, &o.gp, emit_stdout, NULL, &st, &err) < 0)
        goto out;
    printf("\n");
    if (o.verbose)
        fprintf(stderr,
                "prompt: %d tokens in %.3f s (%.2f tok/s)\n"
                "answer: %d tokens in %.3f s (%.2f tok/s), done: %s\n",
                st.n_prompt, st.prompt_s, st.prompt_s > 0 ? st.n_prompt / st.prompt_s : 0.0, st.n_gen, st.gen_s,
                st.gen_s > 0 ? st.n_gen / st.gen_s : 0.0, qm_done_reason_name(st.reason));
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "qm generate: %s\n", err.msg);
    free(ids);
    free(text);
    qm_ctx_free(c);
    qm_tokenizer_free(tok);
    qm_model_free(m);
    return rc;
}
