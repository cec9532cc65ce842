/* details.h - what `qm list` and /api/tags say about a model: format,
 * family, parameter size ("494.03M", "7.6B") and quantization ("Q4_K_M").
 *
 * They come from the model's config blob when it has them (Ollama writes
 * model_format, model_family, model_families, model_type, file_type), else
 * from the GGUF header: general.architecture, general.file_type, and the sum
 * of the tensors' element counts. */
#ifndef QM_REGISTRY_DETAILS_H
#define QM_REGISTRY_DETAILS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

enum { QM_DETAILS_FAMILIES_MAX = 4, QM_DETAILS_STR_MAX = 63 };

struct qm_details {
    char format[16];                  /* "gguf" */
    char family[QM_DETAILS_STR_MAX + 1];
    char families[QM_DETAILS_FAMILIES_MAX][QM_DETAILS_STR_MAX + 1];
    int n_families;
    char parameter_size[32];          /* "494.03M" */
    char quantization_level[32];      /* "Q4_K_M" */
    uint64_t parameter_count;         /* 0 when only the config was read */
};

/* Fill what the config blob's JSON has; returns whether it had a family,
 * a model type and a file type (otherwise read the GGUF too). */
bool qm_details_from_config(struct qm_details *d, const json_t *config);

/* Fill from the GGUF header at path (the file is mapped, not read whole).
 * Fields already set are kept unless the GGUF knows better: call it after
 * qm_details_from_config to complete what the config lacked. */
int qm_details_from_gguf(struct qm_details *d, const char *path, struct qm_err *err);

/* The details as Ollama's JSON: {"parent_model":"","format":...,"family":...,
 * "families":[...],"parameter_size":...,"quantization_level":...}. */
json_t *qm_details_json(const struct qm_details *d);

/* 494032768 -> "494.03M", 7615616512 -> "7.6B", 8e9 -> "8B", 1500 -> "2K". */
void qm_human_params(uint64_t n, char *buf, size_t cap);

/* llama.cpp's general.file_type names ("Q4_K_M"); NULL for unknown ids. */
const char *qm_file_type_name(uint32_t ftype);

#endif
