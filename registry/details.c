/* details.c - model details from a config blob or a GGUF header. */
#include "details.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gguf.h"

static const char *const ftype_names[] = {
    [0] = "F32",      [1] = "F16",      [2] = "Q4_0",     [3] = "Q4_1",    [7] = "Q8_0",
    [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",    [11] = "Q3_K_S", [12] = "Q3_K_M",
    [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M",  [16] = "Q5_K_S", [17] = "Q5_K_M",
    [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS",  [21] = "Q2_K_S", [22] = "IQ3_XS",
    [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL",  [26] = "IQ3_S", [27] = "IQ3_M",
    [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS",  [31] = "IQ1_M", [32] = "BF16",
    [36] = "TQ1_0",   [37] = "TQ2_0",   [38] = "MXFP4_MOE",
};

const char *qm_file_type_name(uint32_t ftype)
{
    return ftype < sizeof ftype_names / sizeof *ftype_names ? ftype_names[ftype] : NULL;
}

void qm_human_params(uint64_t n, char *buf, size_t cap)
{
    /* Ollama's format: whole numbers without decimals, else one decimal for
     * billions and two for millions; thousands rounded. */
    double v;
    const char *unit;
    int decimals;
    if (n >= 1000000000ull)
        v = (double)n / 1e9, unit = "B", decimals = 1;
    else if (n >= 1000000ull)
        v = (double)n / 1e6, unit = "M", decimals = 2;
    else if (n >= 1000ull)
        v = (double)n / 1e3, unit = "K", decimals = 0;
    else {
        snprintf(buf, cap, "%llu", (unsigned long long)n);
        return;
    }
    if (v == floor(v))
        decimals = 0;
    snprintf(buf, cap, "%.*f%s", decimals, v, unit);
}

/* Printable ASCII only: these strings come from files and go into JSON,
 * and a cut could otherwise split a UTF-8 sequence. */
static void copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && s[n] && n + 1 < cap; n++)
        dst[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
    dst[n] = '\0';
}

static void set_family(struct qm_details *d, const char *family)
{
    copy_str(d->family, sizeof d->family, family);
    if (d->n_families == 0 && family && *family) {
        copy_str(d->families[0], sizeof d->families[0], family);
        d->n_families = 1;
    }
}

bool qm_details_from_config(struct qm_details *d, const json_t *config)
{
    const char *fmt = json_string_value(json_object_get(config, "model_format"));
    const char *family = json_string_value(json_object_get(config, "model_family"));
    const char *type = json_string_value(json_object_get(config, "model_type"));
    const char *ftype = json_string_value(json_object_get(config, "file_type"));
    json_t *families = json_object_get(config, "model_families");
    if (fmt && *fmt)
        copy_str(d->format, sizeof d->format, fmt);
    size_t i;
    json_t *v;
    json_array_foreach(families, i, v) {
        if (d->n_families < QM_DETAILS_FAMILIES_MAX && json_is_string(v))
            copy_str(d->families[d->n_families++], sizeof d->families[0], json_string_value(v));
    }
    if (family && *family)
        set_family(d, family);
    if (type && *type)
        copy_str(d->parameter_size, sizeof d->parameter_size, type);
    if (ftype && *ftype)
        copy_str(d->quantization_level, sizeof d->quantization_level, ftype);
    return d->family[0] && d->parameter_size[0] && d->quantization_level[0];
}

/* For files without general.file_type: the type holding most 2-D weight bytes. */
static const char *dominant_type(const struct gguf_file *f)
{
    uint64_t bytes[QM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const struct gguf_tensor *t = gguf_tensor(f, i);
        if (t->n_dims >= 2 && (unsigned)t->type < QM_TYPE_COUNT)
            bytes[t->type] += t->nbytes;
    }
    int best = -1;
    for (int t = 0; t < QM_TYPE_COUNT; t++)
        if (bytes[t] && (best < 0 || bytes[t] > bytes[best]))
            best = t;
    return best < 0 ? NULL : qm_type_name((uint32_t)best);
}

int qm_details_from_gguf(struct qm_details *d, const char *path, struct qm_err *err)
{
    struct gguf_file *f;
    int rc = gguf_open(&f, path, GGUF_OPEN_ANY_TYPE, err);
    if (rc)
        return rc;
    copy_str(d->format, sizeof d->format, "gguf");
    struct gguf_str arch;
    if (gguf_get_str(f, "general.architecture", &arch, NULL) == QM_OK && arch.len) {
        char a[QM_DETAILS_STR_MAX + 1];
        gguf_str_copy(a, sizeof a, arch);
        if (!d->family[0])
            set_family(d, a);
    }
    uint64_t count = 0;
    for (int64_t i = 0; i < gguf_tensor_count(f); i++)
        count += (uint64_t)gguf_tensor_nelements(gguf_tensor(f, i));
    d->parameter_count = count;
    if (!d->parameter_size[0])
        qm_human_params(count, d->parameter_size, sizeof d->parameter_size);
    uint32_t ft;
    const char *ftname = NULL;
    if (gguf_get_u32(f, "general.file_type", &ft, NULL) == QM_OK)
        ftname = qm_file_type_name(ft);
    if (!ftname)
        ftname = dominant_type(f);
    if (!d->quantization_level[0] && ftname)
        copy_str(d->quantization_level, sizeof d->quantization_level, ftname);
    gguf_close(f);
    return QM_OK;
}

json_t *qm_details_json(const struct qm_details *d)
{
    json_t *fams = json_array();
    for (int i = 0; fams && i < d->n_families; i++)
        json_array_append_new(fams, json_string(d->families[i]));
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "parent_model", "", "format",
                     d->format[0] ? d->format : "gguf", "family", d->family, "families",
                     fams ? fams : json_null(), "parameter_size", d->parameter_size,
                     "quantization_level", d->quantization_level);
}
