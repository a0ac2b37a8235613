/* tests/link/src/features.c as a board module, for the Xtensa board test
 * (run-features.sh), and compiled natively into features_native.c for the
 * results it must give. Its two firmware imports become module functions
 * here, one of which calls the firmware's memcpy, so the module still calls
 * into the firmware; its 64-bit results are split into 32-bit halves, which
 * the board's `call` prints. */
#define fw_op fw_op_local
#define fw_copy fw_copy_local
#include "../link/src/features.c"
#undef fw_op
#undef fw_copy

int fw_op_local(int x) { return x * 3 + 1; }
void *fw_copy_local(void *d, const void *s, unsigned long n) { return memcpy(d, s, (size_t)n); }

static uint64_t u64(unsigned lo, unsigned hi) { return (uint64_t)hi << 32 | lo; }
NM_EXPORT int div64_lo(unsigned al, unsigned ah, unsigned bl, unsigned bh) { return (int)feat_div64(u64(al, ah), u64(bl, bh)); }
NM_EXPORT int div64_hi(unsigned al, unsigned ah, unsigned bl, unsigned bh) { return (int)(feat_div64(u64(al, ah), u64(bl, bh)) >> 32); }
NM_EXPORT int sdiv64_lo(unsigned al, unsigned ah, unsigned bl, unsigned bh) {
    return (int)(uint64_t)feat_sdiv64((int64_t)u64(al, ah), (int64_t)u64(bl, bh));
}
NM_EXPORT int sdiv64_hi(unsigned al, unsigned ah, unsigned bl, unsigned bh) {
    return (int)((uint64_t)feat_sdiv64((int64_t)u64(al, ah), (int64_t)u64(bl, bh)) >> 32);
}
NM_EXPORT int double_lo(int n, int d) { return (int)feat_double(n, d); }
NM_EXPORT int double_hi(int n, int d) { return (int)(feat_double(n, d) >> 32); }
