/* dot_stubs.c - TEMPORARY: reference dots not written yet; each is deleted as
   its real version lands in dot_ref.c.  Owned by the kernel work. */
#include <stdlib.h>
#include "quant_impl.h"

void qm_dot_f32_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_f16_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q4_0_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q4_1_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q5_0_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q5_1_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q8_0_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q2_k_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q3_k_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q4_k_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q5_k_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_q6_k_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_iq4_nl_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_iq4_xs_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
void qm_dot_bf16_ref(int64_t n, float *s, const void *w, const void *a) { (void)n; (void)s; (void)w; (void)a; abort(); }
