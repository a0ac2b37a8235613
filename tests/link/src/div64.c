/* 64-bit division on ARMv6-M needs libgcc's __aeabi_uldivmod / __aeabi_ldivmod. */
#define NM_EXPORT __attribute__((visibility("default"), used))
NM_EXPORT unsigned long long udiv64(unsigned long long a, unsigned long long b) { return a / b; }
NM_EXPORT long long smod64(long long a, long long b) { return a % b; }
