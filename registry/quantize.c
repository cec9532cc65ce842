/* quantize.c - `qm create --quantize`: a quantized copy of an F32/F16/BF16
 * GGUF, written inside blobs/ and renamed to its digest (store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "quantize_model.h"
#include "store_impl.h"

struct progress_ctx {
    void (*fn)(int64_t done, int64_t count, void *ud);
    void *ud;
};

static void on_tensor(void *ctx, const struct qm_quant_progress *p)
{
    struct progress_ctx *c = ctx;
    if (c->fn)
        c->fn(p->index + 1, p->count, c->ud);
}

int qm_store_quantize(struct qm_store *s, const char *src_path, const char *type,
                      void (*progress)(int64_t done, int64_t count, void *ud), void *ud, char *digest_out,
                      struct qm_err *err)
{
    enum qm_ftype ftype;
    int rc = qm_ftype_parse(type, &ftype, err);
    if (rc < 0)
        return rc;
    if ((rc = store_check_writable(s, err)) < 0)
        return rc;
    /* a temporary name garbage collection never considers (not sha256-<hex>) */
    char *tmp;
    if (asprintf(&tmp, "%s/quantize-%ld-%p.gguf", s->blobs, (long)getpid(), (void *)&ftype) < 0)
        return qm_err_set(err, "out of memory"), QM_ENOMEM;
    struct progress_ctx pc = {progress, ud};
    struct qm_quant_stats st;
    rc = qm_quantize_model(src_path, tmp, ftype, 0, on_tensor, &pc, &st, err);
    if (rc == 0) {
        char digest[QM_DIGEST_STR_LEN + 1], *final = NULL;
        rc = qm_sha256_file(tmp, digest, NULL, err);
        if (rc == 0)
            rc = qm_store_blob_path(s, digest, &final, err);
        if (rc == 0 && rename(tmp, final) != 0)
            rc = store_os_error(s, err, "install", final, errno);
        if (rc == 0) {
            store_fsync_dir(s->blobs);
            memcpy(digest_out, digest, sizeof digest);
        }
        free(final);
    }
    unlink(tmp);   /* gone already when renamed */
    free(tmp);
    return rc;
}
