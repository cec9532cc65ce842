/* quant_tool.c - the tensor-type table driven from the command line, for the
 * Python tests that hold our conversions against the gguf package.
 *
 *   quant_tool dequant TYPE_ID IN.bin OUT.f32   blocks of TYPE_ID -> f32
 *   quant_tool quant   TYPE_ID IN.f32 OUT.bin   f32 -> blocks of TYPE_ID
 *
 * Both go through qm_type_traits() exactly as the engine does.  Exit status
 * 0 on success, 1 with one line on stderr otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quant.h"

static int qt_read(const char *path, void **buf, size_t *len, struct qm_err *err)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return qm_err_set(err, "cannot open %s: %s", path, strerror(errno)), QM_EIO;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 1 << 16;
            char *q = realloc(p, ncap);
            if (!q) {
                qm_err_set(err, "out of memory reading %s", path);
                goto err;
            }
            p = q;
            cap = ncap;
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        qm_err_set(err, "cannot read %s", path);
        goto err;
    }
    fclose(f);
    *buf = p;
    *len = n;
    return 0;
err:
    fclose(f);
    free(p);
    return QM_EIO;
}

static int qt_write(const char *path, const void *buf, size_t len, struct qm_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return qm_err_set(err, "cannot create %s: %s", path, strerror(errno)), QM_EIO;
    size_t put = fwrite(buf, 1, len, f);
    if (fclose(f) != 0 || put != len)
        return qm_err_set(err, "cannot write %s", path), QM_EIO;
    return 0;
}

int main(int argc, char **argv)
{
    struct qm_err err = {{0}};
    void *in = NULL, *out = NULL;
    size_t len = 0;
    int rc = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: quant_tool dequant|quant TYPE_ID IN OUT\n");
        return 1;
    }
    const struct qm_type_traits *t = qm_type_traits((uint32_t)strtoul(argv[2], NULL, 10));
    if (!t) {
        fprintf(stderr, "quant_tool: %s is no type id\n", argv[2]);
        return 1;
    }
    if (qt_read(argv[3], &in, &len, &err) < 0)
        goto err;

    if (strcmp(argv[1], "dequant") == 0) {
        if (!t->to_float || len % t->size) {
            qm_err_set(&err, "%s: no dequantizer, or %zu bytes is no whole number of blocks", t->name, len);
            goto err;
        }
        int64_t n = (int64_t)(len / t->size) * t->blck;
        out = malloc((size_t)n * sizeof(float) + 1);
        if (!out)
            goto err;
        t->to_float(in, out, n);
        if (qt_write(argv[4], out, (size_t)n * sizeof(float), &err) < 0)
            goto err;
    } else if (strcmp(argv[1], "quant") == 0) {
        int64_t n = (int64_t)(len / sizeof(float));
        if (!t->from_float || len % sizeof(float) || n % t->blck) {
            qm_err_set(&err, "%s: no quantizer, or %zu bytes is no whole number of blocks of floats", t->name, len);
            goto err;
        }
        size_t olen = (size_t)(n / t->blck) * t->size;
        out = malloc(olen + 1);
        if (!out)
            goto err;
        /* the input buffer came from realloc: aligned for float */
        t->from_float(in, out, n);
        if (qt_write(argv[4], out, olen, &err) < 0)
            goto err;
    } else {
        qm_err_set(&err, "unknown command %s", argv[1]);
        goto err;
    }
    rc = 0;
err:
    if (rc)
        fprintf(stderr, "quant_tool: %s\n", err.msg[0] ? err.msg : "out of memory");
    free(in);
    free(out);
    return rc;
}
