/* test_fp16.c - the portable half/bfloat16 conversions against F16C-free
 * facts: every one of the 65536 halves survives a round trip through f32,
 * and rounding of f32 -> f16 is to nearest even. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fp16.h"

static void half_round_trip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = qm_f16_to_f32((qm_f16)h);
        if (isnan(f)) {
            assert_true(isnan(qm_f16_to_f32(qm_f32_to_f16(f))));
            continue;
        }
        assert_int_equal(qm_f32_to_f16(f), h);
    }
}

static void half_rounding(void **state)
{
    (void)state;
    assert_int_equal(qm_f32_to_f16(1.0f), 0x3c00);
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to even (1.0) */
    assert_int_equal(qm_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    /* 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9: up to even */
    assert_int_equal(qm_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    assert_int_equal(qm_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(qm_f32_to_f16(65520.0f), 0x7c00);          /* overflows to inf */
    assert_int_equal(qm_f32_to_f16(0x1p-24f), 0x0001);          /* smallest subnormal */
    assert_int_equal(qm_f32_to_f16(0x1p-25f), 0x0000);          /* tie to even zero */
    assert_int_equal(qm_f32_to_f16(-2.0f), 0xc000);
    assert_true(qm_f16_to_f32(0x0001) == 0x1p-24f);
}

static void bfloat16(void **state)
{
    (void)state;
    assert_int_equal(qm_f32_to_bf16(1.0f), 0x3f80);
    assert_true(qm_bf16_to_f32(0x3f80) == 1.0f);
    /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to even */
    assert_int_equal(qm_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    assert_int_equal(qm_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    assert_true(isnan(qm_bf16_to_f32(qm_f32_to_bf16(NAN))));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(half_round_trip),
        cmocka_unit_test(half_rounding),
        cmocka_unit_test(bfloat16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
