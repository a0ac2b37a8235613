/*
 * natmod's Ed25519 verifier and SHA-512 against libsodium: RFC 8032's
 * vectors, SHA-512 at every length and chunking, then NATMOD_ED25519_CASES
 * (default 1,000,000) random cases in which natmod's accept/reject must equal
 * crypto_sign_verify_detached's. Every case is derived from its index alone
 * (fixed seed), so a failure printed as "case N" replays with
 * NATMOD_ED25519_FIRST=N NATMOD_ED25519_CASES=1. Cases run on
 * NATMOD_ED25519_THREADS threads (default: the online CPUs).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "natmod/ed25519.h"

#define SEED 0x6e61746d6f64ed25ull
#define MAX_MSG 300

/* ---- deterministic randomness: splitmix64 per case ---- */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rng_below(rng *r, uint32_t n) { return (uint32_t)(rng_next(r) % n); }

static void rng_bytes(rng *r, uint8_t *p, size_t n) {
    while (n > 0) {
        uint64_t v = rng_next(r);
        for (int i = 0; i < 8 && n > 0; i++, n--) {
            *p++ = (uint8_t)(v >> (8 * i));
        }
    }
}

static void hex_to(uint8_t *out, const char *hex) {
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void print_hex(const char *label, const uint8_t *p, size_t n) {
    fprintf(stderr, "  %s (%zu bytes): ", label, n);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "%02x", p[i]);
    }
    fprintf(stderr, "\n");
}

/* ---- constants (facts about the curve, not code) ---- */
static const char *const L_HEX = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
/* y of the small-order points, little-endian, bit 255 clear: 0, 1, p-1, p
 * (0 again), p+1 (1 again), and the two order-8 y's. */
static const char *const SMALL_Y_HEX[7] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
};
static uint8_t small_enc[14][32]; /* each y with the sign bit clear and set */
static uint8_t torsion[8][32];    /* m T for an order-8 point T, m = 0..7 */
static uint8_t L_bytes[32];
/* Keys are drawn from a pool (key generation would cost as much as a
 * signature per case); messages and signatures are fresh in every case. */
#define KEY_POOL 1024
static uint8_t pool_pk[KEY_POOL][32], pool_sk[KEY_POOL][64];

/* ---- RFC 8032 section 7.1 ---- */
struct rfc_vector {
    const char *name, *sk, *pk, *msg, *sig;
};
static const struct rfc_vector rfc[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
     "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
     "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
     "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
     "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
     "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
     "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
     "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
     "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
     "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
     "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
     "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
     "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
     "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
     "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
     "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
     "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
     "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
     "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
     "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
     "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
     "c60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
};

static int failures;

static int test_rfc(void) {
    int bad = 0;
    for (size_t v = 0; v < sizeof rfc / sizeof rfc[0]; v++) {
        uint8_t seed[32], pk[32], want_pk[32], sk[64], sig[64], want_sig[64], msg[1024];
        size_t len = strlen(rfc[v].msg) / 2;
        hex_to(seed, rfc[v].sk);
        hex_to(want_pk, rfc[v].pk);
        hex_to(msg, rfc[v].msg);
        hex_to(want_sig, rfc[v].sig);
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(sig, NULL, msg, len, sk);
        int ok = memcmp(pk, want_pk, 32) == 0 && memcmp(sig, want_sig, 64) == 0 &&
                 crypto_sign_verify_detached(want_sig, msg, len, want_pk) == 0 &&
                 nm_ed25519_verify(want_sig, msg, len, want_pk) == 0;
        /* the same vector with its last message bit (or R's first) flipped is refused */
        if (len > 0) {
            msg[len - 1] ^= 1;
        } else {
            want_sig[0] ^= 1;
        }
        ok = ok && nm_ed25519_verify(want_sig, msg, len, want_pk) == NM_ED25519_ERR_MISMATCH;
        printf("RFC 8032 %-14s %4zu-byte message: %s\n", rfc[v].name, len, ok ? "ok" : "FAILED");
        bad += !ok;
    }
    return bad;
}

static int test_sha512(void) {
    int bad = 0;
    uint8_t buf[2000], a[64], b[64];
    rng r = {SEED ^ 0x5a5a};
    rng_bytes(&r, buf, sizeof buf);
    for (size_t len = 0; len <= 300; len++) {
        nm_sha512_ctx c;
        nm_sha512_init(&c);
        nm_sha512_update(&c, buf, len);
        nm_sha512_final(&c, a);
        crypto_hash_sha512(b, buf, len);
        if (memcmp(a, b, 64) != 0) {
            fprintf(stderr, "SHA-512 differs at length %zu\n", len);
            bad++;
        }
    }
    int chunked = 5000;
    for (int i = 0; i < chunked; i++) {
        size_t len = rng_below(&r, sizeof buf + 1), done = 0;
        nm_sha512_ctx c;
        nm_sha512_init(&c);
        while (done < len) {
            /* mostly small chunks, sometimes whole blocks and more */
            size_t n = rng_below(&r, 4) == 0 ? rng_below(&r, 600) : rng_below(&r, 130);
            if (n > len - done) {
                n = len - done;
            }
            nm_sha512_update(&c, buf + done, n);
            done += n;
        }
        nm_sha512_final(&c, a);
        crypto_hash_sha512(b, buf, len);
        if (memcmp(a, b, 64) != 0) {
            fprintf(stderr, "SHA-512 differs for chunked length %zu (iteration %d)\n", len, i);
            bad++;
        }
    }
    printf("SHA-512: lengths 0..300 and %d random chunked lengths up to %zu: %s\n", chunked, sizeof buf,
           bad ? "FAILED" : "ok");
    return bad != 0;
}

/* ---- the random differential cases ---- */
enum category {
    CAT_VALID,         /* a libsodium signature on a random message */
    CAT_FLIP_SIG,      /* 1-3 distinct bits flipped in the signature */
    CAT_FLIP_MSG,      /* 1-3 bits flipped in the message */
    CAT_FLIP_KEY,      /* 1-3 bits flipped in the public key */
    CAT_S_GE_L,        /* S replaced by S + nL, L, 2^256 - 1, random >= L */
    CAT_SMALL_R,       /* R replaced by a small-order encoding (14) */
    CAT_SMALL_A,       /* A replaced by a small-order encoding (14) */
    CAT_NONCANON_R,    /* R replaced by y = p + t (t < 19), either sign */
    CAT_NONCANON_A,    /* A replaced by y = p + t (t < 19), either sign */
    CAT_RANDOM_KEY,    /* A replaced by 32 random bytes */
    CAT_TORSION,       /* A and/or R with an order-8 component, S made to satisfy the equation */
    CAT_RANDOM_SIG,    /* R or S or both random bytes */
    CAT_COUNT_
};
static const char *const cat_name[CAT_COUNT_] = {
    "valid signature", "bit flip in signature", "bit flip in message", "bit flip in key",
    "S >= L", "small-order R", "small-order A", "non-canonical R (y >= p)",
    "non-canonical A (y >= p)", "random 32-byte key", "torsion in A or R", "random R or S",
};
/* Weights (per 32): the cases that reach the scalar multiplication dominate. */
static const int cat_weight[CAT_COUNT_] = {5, 3, 3, 3, 2, 2, 2, 2, 2, 3, 3, 2};

struct counts {
    long cases[CAT_COUNT_], accepted[CAT_COUNT_], agree[CAT_COUNT_], streamed;
    long failed;
};

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void set_small(uint8_t out[32], rng *r) { memcpy(out, small_enc[rng_below(r, 14)], 32); }

static void set_noncanonical(uint8_t out[32], rng *r) {
    memcpy(out, small_enc[3], 32); /* p */
    out[0] = (uint8_t)(out[0] + rng_below(r, 19));
    out[31] |= (uint8_t)(rng_below(r, 2) << 7);
}

/* S = S + nL while it fits in 256 bits, or another value >= L. */
static void set_s_ge_l(uint8_t s[32], rng *r) {
    switch (rng_below(r, 5)) {
    case 0:
    case 1: {
        unsigned n = 1 + rng_below(r, 14); /* S < L, so S + 14L < 15L < 2^256 */
        for (unsigned k = 0; k < n; k++) {
            unsigned carry = 0;
            for (int i = 0; i < 32; i++) {
                carry += s[i] + L_bytes[i];
                s[i] = (uint8_t)carry;
                carry >>= 8;
            }
        }
        break;
    }
    case 2:
        memcpy(s, L_bytes, 32);
        s[0] = (uint8_t)(s[0] + rng_below(r, 3)); /* L, L+1, L+2 */
        break;
    case 3:
        memset(s, 0xff, 32);
        break;
    default:
        rng_bytes(r, s, 32);
        s[31] |= 0x10; /* >= 2^252 + 2^253 ... at least 2^252 */
        if (s[31] == 0x10) {
            s[31] = 0x11;
        }
        break;
    }
}

/* Make (R, S) with R = [r]B + T_j that verifies under the non-cofactored
 * equation for the key A + T_m (a = the secret scalar of A): [S]B - [k](A +
 * T_m) = R needs S = r + k a and T_j = -[k] T_m; try j until k agrees. */
static int torsion_sign(uint8_t sig[64], uint8_t pk_t[32], const uint8_t sk[64], const uint8_t *msg,
                        size_t len, rng *r, int with_key_torsion) {
    uint8_t h[64], a[32], rnd[64], rs[32], rb[32], k[32], ka[32];
    unsigned m = with_key_torsion ? 1 + rng_below(r, 7) : 0;
    crypto_hash_sha512(h, sk, 32);
    h[0] &= 248;
    h[31] &= 127;
    h[31] |= 64;
    memcpy(a, h, 32); /* clamped: < 2^255, used mod L below */
    memcpy(pk_t, sk + 32, 32);
    if (m != 0 && crypto_core_ed25519_add(pk_t, sk + 32, torsion[m]) != 0) {
        return -1;
    }
    /* One [r]B, then R = [r]B + T_j for each j in turn: about 8 hashes and
     * point additions instead of 8 scalar multiplications. */
    for (int attempt = 0; attempt < 4; attempt++) {
        rng_bytes(r, rnd, 64);
        crypto_core_ed25519_scalar_reduce(rs, rnd);
        if (crypto_scalarmult_ed25519_base_noclamp(rb, rs) != 0) {
            continue;
        }
        unsigned j0 = rng_below(r, 8);
        for (unsigned jj = 0; jj < 8; jj++) {
            unsigned j = (j0 + jj) & 7;
            uint8_t R[32];
            memcpy(R, rb, 32);
            if (j != 0 && crypto_core_ed25519_add(R, rb, torsion[j]) != 0) {
                continue;
            }
            crypto_hash_sha512_state st;
            crypto_hash_sha512_init(&st);
            crypto_hash_sha512_update(&st, R, 32);
            crypto_hash_sha512_update(&st, pk_t, 32);
            crypto_hash_sha512_update(&st, msg, len);
            crypto_hash_sha512_final(&st, h);
            crypto_core_ed25519_scalar_reduce(k, h);
            /* The verifier multiplies by k mod L (this k), and [k]T_m = [k m mod 8]T_1. */
            unsigned km = (unsigned)(k[0] & 7) * m % 8;
            if (((8 - km) & 7) != j) {
                continue;
            }
            uint8_t a_red[64] = {0};
            memcpy(a_red, a, 32);
            uint8_t ar[32];
            crypto_core_ed25519_scalar_reduce(ar, a_red);
            crypto_core_ed25519_scalar_mul(ka, k, ar);
            crypto_core_ed25519_scalar_add(sig + 32, rs, ka);
            memcpy(sig, R, 32);
            return 0;
        }
    }
    return -1;
}

static void run_case(uint64_t index, struct counts *cnt) {
    rng r = {SEED ^ (index * 0xd1342543de82ef95ull)};
    rng_next(&r);
    uint8_t pk[32], sk[64], sig[64], msg[MAX_MSG + 1];
    size_t len = rng_below(&r, MAX_MSG + 1);
    uint32_t pick = rng_below(&r, 32), acc = 0;
    int cat = 0;
    while (acc + (uint32_t)cat_weight[cat] <= pick) {
        acc += (uint32_t)cat_weight[cat++];
    }
    uint32_t key = rng_below(&r, KEY_POOL);
    memcpy(pk, pool_pk[key], 32);
    memcpy(sk, pool_sk[key], 64);
    rng_bytes(&r, msg, len);
    crypto_sign_detached(sig, NULL, msg, len, sk);

    switch (cat) {
    case CAT_VALID:
        break;
    case CAT_FLIP_SIG:
    case CAT_FLIP_KEY:
    case CAT_FLIP_MSG: {
        uint8_t *p = cat == CAT_FLIP_SIG ? sig : cat == CAT_FLIP_KEY ? pk : msg;
        size_t n = cat == CAT_FLIP_SIG ? 64 : cat == CAT_FLIP_KEY ? 32 : len;
        if (n == 0) {
            msg[0] = (uint8_t)rng_next(&r); /* an empty message gains a byte */
            len = 1;
            break;
        }
        /* 1-3 distinct bits, so the input always changes */
        unsigned flips = 1 + rng_below(&r, 3);
        size_t bits[3];
        for (unsigned f = 0; f < flips; f++) {
            int dup;
            do {
                bits[f] = rng_below(&r, (uint32_t)(8 * n));
                dup = 0;
                for (unsigned g = 0; g < f; g++) {
                    dup |= bits[g] == bits[f];
                }
            } while (dup);
            p[bits[f] / 8] ^= (uint8_t)(1u << (bits[f] % 8));
        }
        break;
    }
    case CAT_S_GE_L:
        set_s_ge_l(sig + 32, &r);
        break;
    case CAT_SMALL_R:
        set_small(sig, &r);
        break;
    case CAT_SMALL_A:
        set_small(pk, &r);
        break;
    case CAT_NONCANON_R:
        set_noncanonical(sig, &r);
        break;
    case CAT_NONCANON_A:
        set_noncanonical(pk, &r);
        break;
    case CAT_RANDOM_KEY:
        rng_bytes(&r, pk, 32);
        break;
    case CAT_TORSION: {
        uint8_t pk_t[32];
        if (torsion_sign(sig, pk_t, sk, msg, len, &r, rng_below(&r, 4) != 0) == 0) {
            memcpy(pk, pk_t, 32);
            if (rng_below(&r, 4) == 0) {
                /* extra torsion in R: the equation no longer holds */
                uint8_t R[32];
                if (crypto_core_ed25519_add(R, sig, torsion[1 + rng_below(&r, 7)]) == 0) {
                    memcpy(sig, R, 32);
                }
            }
        }
        break;
    }
    default: /* CAT_RANDOM_SIG */ {
        unsigned which = rng_below(&r, 3);
        if (which != 1) {
            rng_bytes(&r, sig, 32);
        }
        if (which != 0) {
            rng_bytes(&r, sig + 32, 32);
            sig[63] &= 0x1f; /* often below L, so the equation is reached */
        }
        break;
    }
    }

    int want = crypto_sign_verify_detached(sig, msg, len, pk);
    int got = nm_ed25519_verify(sig, msg, len, pk);
    int ok = (want == 0) == (got == 0);
    int streamed = -1;
    if ((index & 15) == 0) {
        /* the streaming API with random chunks gives the same verdict */
        nm_ed25519_ctx c;
        size_t done = 0;
        nm_ed25519_verify_init(&c, sig, pk);
        while (done < len) {
            size_t n = 1 + rng_below(&r, 80);
            n = n > len - done ? len - done : n;
            nm_ed25519_verify_update(&c, msg + done, n);
            done += n;
        }
        streamed = nm_ed25519_verify_final(&c);
        ok = ok && streamed == got;
        cnt->streamed++;
    }
    cnt->cases[cat]++;
    cnt->accepted[cat] += want == 0;
    cnt->agree[cat] += ok;
    if (!ok) {
        cnt->failed++;
        pthread_mutex_lock(&print_lock);
        fprintf(stderr, "DISAGREEMENT case %llu (%s): libsodium %s, natmod %d (%s), streamed %d\n",
                (unsigned long long)index, cat_name[cat], want == 0 ? "accepts" : "rejects", got,
                nm_ed25519_strerror(got), streamed);
        print_hex("pk", pk, 32);
        print_hex("sig", sig, 64);
        print_hex("msg", msg, len);
        pthread_mutex_unlock(&print_lock);
    }
}

struct worker {
    pthread_t thread;
    uint64_t first, count, stride, offset;
    struct counts cnt;
};

static void *work(void *arg) {
    struct worker *w = arg;
    for (uint64_t i = w->offset; i < w->count; i += w->stride) {
        run_case(w->first + i, &w->cnt);
    }
    return NULL;
}

static uint64_t env_u64(const char *name, uint64_t def) {
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : def;
}

int main(void) {
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    hex_to(L_bytes, L_HEX);
    for (int i = 0; i < 7; i++) {
        hex_to(small_enc[2 * i], SMALL_Y_HEX[i]);
        memcpy(small_enc[2 * i + 1], small_enc[2 * i], 32);
        small_enc[2 * i + 1][31] |= 0x80;
    }
    memcpy(torsion[0], small_enc[2], 32); /* y = 1: the neutral point */
    memcpy(torsion[1], small_enc[10], 32); /* an order-8 point */
    for (int m = 2; m < 8; m++) {
        if (crypto_core_ed25519_add(torsion[m], torsion[m - 1], torsion[1]) != 0) {
            fprintf(stderr, "setup: torsion point %d\n", m);
            return 1;
        }
    }

    for (int k = 0; k < KEY_POOL; k++) {
        uint8_t seed[32];
        rng r = {SEED ^ (0x1000u + (uint64_t)k)};
        rng_bytes(&r, seed, 32);
        crypto_sign_seed_keypair(pool_pk[k], pool_sk[k], seed);
    }

    failures += test_rfc();
    failures += test_sha512();

    /* every small-order encoding is refused with the right reason */
    for (int i = 0; i < 14; i++) {
        uint8_t sig[64] = {0}, pk[32];
        memcpy(sig, small_enc[i], 32);
        int rc_r = nm_ed25519_verify(sig, "", 0, small_enc[i]);
        memcpy(pk, small_enc[i], 32);
        memset(sig, 0, 32);
        sig[0] = 2;
        int rc_a = nm_ed25519_verify(sig, "", 0, pk);
        int want_a = (i / 2 == 3 || i / 2 == 4) ? NM_ED25519_ERR_KEY_NONCANONICAL : NM_ED25519_ERR_KEY_SMALL_ORDER;
        if (rc_r != NM_ED25519_ERR_R || rc_a != want_a) {
            fprintf(stderr, "small-order encoding %d: R gives %d, A gives %d\n", i, rc_r, rc_a);
            failures++;
        }
    }

    uint64_t cases = env_u64("NATMOD_ED25519_CASES", 1000000);
    uint64_t first = env_u64("NATMOD_ED25519_FIRST", 0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t threads = env_u64("NATMOD_ED25519_THREADS", ncpu > 0 ? (uint64_t)ncpu : 1);
    if (threads < 1) {
        threads = 1;
    }
    if (threads > 64) {
        threads = 64;
    }
    struct worker *w = calloc(threads, sizeof *w);
    struct timespec t0, t1;
    clock_t cpu0 = clock();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t t = 0; t < threads; t++) {
        w[t].first = first;
        w[t].count = cases;
        w[t].stride = threads;
        w[t].offset = t;
        pthread_create(&w[t].thread, NULL, work, &w[t]);
    }
    struct counts sum = {0};
    for (uint64_t t = 0; t < threads; t++) {
        pthread_join(w[t].thread, NULL);
        for (int c = 0; c < CAT_COUNT_; c++) {
            sum.cases[c] += w[t].cnt.cases[c];
            sum.accepted[c] += w[t].cnt.accepted[c];
            sum.agree[c] += w[t].cnt.agree[c];
        }
        sum.streamed += w[t].cnt.streamed;
        sum.failed += w[t].cnt.failed;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(w);

    printf("%-28s %9s %9s %9s\n", "category", "cases", "accepted", "agree");
    for (int c = 0; c < CAT_COUNT_; c++) {
        printf("%-28s %9ld %9ld %9ld\n", cat_name[c], sum.cases[c], sum.accepted[c], sum.agree[c]);
    }
    printf("%llu random cases from %llu on %llu threads in %.1f s, %.1f s CPU (%ld also streamed in chunks)\n",
           (unsigned long long)cases, (unsigned long long)first, (unsigned long long)threads,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           (double)(clock() - cpu0) / CLOCKS_PER_SEC, sum.streamed);
    long total = (long)cases + 5 + 1 + 14; /* + RFC vectors, SHA-512, small-order reasons */
    long failed = sum.failed + failures;
    printf("%ld passed, %ld failed\n", total - failed, failed);
    return failed ? 1 : 0;
}
