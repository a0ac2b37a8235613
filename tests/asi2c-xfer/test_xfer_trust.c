/*
 * The signature policy over the link (docs/trust.md): a receiving board
 * with a trusted key, a hostile or careless sender. Whatever it offers —
 * a module signed by an unknown key, one whose signature is cut short, an
 * unsigned one, a replayed older version of what is installed — the
 * sender is told why (DONE status NM_ERR_TRUST and the receiver's line),
 * nothing is committed and the store's flash is byte-identical before and
 * after. A good signed module goes in, for copy mode and for a linked
 * (XIP) store, which marks it verified so loads need not verify again.
 * Modules are signed here with libsodium, as `natmod sign` does.
 */
#include <sodium.h>

#include "../test.h"
#include "xfer_rig.h"

static const sf_geom_t g_copy = {"4K blocks, copy mode", 4096, 16, 64, 0, 2, 0};
static const sf_geom_t g_linked = {"1K blocks, linked", 1024, 16, 64, 0, 2, 1};

static uint8_t pk_dev[32], sk_dev[64], pk_other[32], sk_other[64];

struct msg {
    uint8_t buf[16384];
    size_t n;
};

static void collect(void *arg, const void *p, size_t n) {
    struct msg *m = arg;
    CHECK(m->n + n <= sizeof m->buf);
    memcpy(m->buf + m->n, p, n);
    m->n += n;
}

/* A module of the board's kind (linked or not), version and signer (sk
 * NULL: unsigned, with only a version trailer). malloc'd. */
static uint8_t *module(int linked, uint32_t version, const uint8_t *sk, const uint8_t *pk, uint64_t seed,
                       size_t *len) {
    uint8_t *plain, *out;
    size_t plain_len;
    nm_detail_t d;
    CHECK_EQ(sf_module(linked, "app", seed, 3000, &plain, &plain_len), NM_OK);
    uint8_t id[NM_KEY_ID_SIZE];
    if (sk) {
        nm_key_id(pk, id);
    }
    CHECK_EQ(nm_slice_set_trailer(plain, plain_len, version, sk ? id : NULL, &out, len, &d), NM_OK);
    free(plain);
    if (sk) {
        nm_image_t img;
        static struct msg m;
        uint8_t sig[64];
        CHECK_EQ(nm_image_parse(out, *len, &img, &d), NM_OK);
        m.n = 0;
        nm_sig_message(&img, collect, &m);
        crypto_sign_detached(sig, NULL, m.buf, m.n, sk);
        CHECK_EQ(nm_slice_put_signature(out, *len, sig, &d), NM_OK);
    }
    return out;
}

static sf_store_t *trusted_store(const sf_geom_t *g) {
    sf_store_t *f = calloc(1, sizeof *f);
    nm_detail_t d;
    CHECK(f && sf_open(f, g) == NM_OK);
    f->lcfg.trusted_keys = (const uint8_t(*)[NM_PUBKEY_SIZE])pk_dev;
    f->lcfg.n_trusted_keys = 1;
    CHECK_EQ(nm_store_format(&f->st, &f->cfg, &d), NM_OK);
    return f;
}

static size_t flash_size(const sf_store_t *f) {
    return (size_t)f->cfg.block_size * f->cfg.block_count;
}

/* Send mod over the simulated link into f; the sender's result. */
static int send(sf_store_t *f, const uint8_t *mod, size_t len, char *why, size_t why_len) {
    xr_rig_t *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    r->store = f;
    r->sender_side = NM_SIM_R;
    r->scfg.module = mod;
    r->scfg.module_len = len;
    r->scfg.name = "app";
    r->scfg.timeout_ms = 1000;
    r->scfg.retries = 20;
    nm_sim_config_t sc = {.scl_hz = 400000};
    xr_start(r, &sc);
    CHECK_EQ(r->init_rc, 0);
    CHECK_EQ(nm_sim_run(r->sim, 120 * XR_SEC, xr_sent, r), 0);
    nm_xfer_send_t *s = xr_snd(r);
    int rc = s->result;
    snprintf(why, why_len, "%s", s->detail.msg);
    xr_end(r);
    free(r);
    return rc;
}

/* Send, expect a refusal naming `reason`, and the flash unchanged. */
static void refused(sf_store_t *f, const char *what, const uint8_t *mod, size_t len, int want, const char *reason) {
    uint8_t *before = malloc(flash_size(f));
    char why[NM_DETAIL_MAX + 40];
    CHECK(before != NULL);
    memcpy(before, f->emu.mem, flash_size(f));
    int rc = send(f, mod, len, why, sizeof why);
    CHECK_EQ(rc, want);
    CHECK_STR_CONTAINS(why, reason);
    CHECK(memcmp(before, f->emu.mem, flash_size(f)) == 0);
    printf("  %-40s refused: %s\n", what, why);
    free(before);
}

static void hostile_sender_cannot_install_and_the_store_stays_byte_identical(int linked) {
    const sf_geom_t *g = linked ? &g_linked : &g_copy;
    sf_store_t *f = trusted_store(g);
    size_t l_good, l_other, l_unsigned, l_cut, l_old;
    uint8_t *good = module(linked, 5, sk_dev, pk_dev, 1, &l_good);
    uint8_t *other = module(linked, 9, sk_other, pk_other, 2, &l_other);
    uint8_t *unsig = module(linked, 7, NULL, NULL, 3, &l_unsigned);
    uint8_t *cut = module(linked, 6, sk_dev, pk_dev, 4, &l_cut);
    uint8_t *old = module(linked, 4, sk_dev, pk_dev, 5, &l_old);
    char why[NM_DETAIL_MAX + 40];
    printf("%s:\n", g->label);

    refused(f, "signed by an unknown key", other, l_other, NM_ERR_TRUST, "does not trust");
    refused(f, "unsigned", unsig, l_unsigned, NM_ERR_TRUST, "not signed");
    /* the signature cut short: its second half (S) zeroed, CRC made right */
    {
        nm_image_t img;
        CHECK_EQ(nm_image_parse(cut, l_cut, &img, NULL), NM_OK);
        memset(cut + (img.signature - cut) + 32, 0, 32);
        uint32_t crc = nm_image_crc(cut, img.image_size);
        memcpy(cut + 12, &crc, 4); /* little-endian host */
        refused(f, "signature cut short (S zeroed)", cut, l_cut, NM_ERR_TRUST, "bad signature");
        /* and cut off the file: the sender refuses it before any offer */
        CHECK(send(f, cut, l_cut - 40, why, sizeof why) != NM_OK);
        printf("  %-40s refused by the sender: %s\n", "trailer cut off the file", why);
    }

    CHECK_EQ(send(f, good, l_good, why, sizeof why), NM_OK);
    CHECK_STR_CONTAINS(why, "installed app");
    const nm_store_entry_t *e = nm_store_find(&f->st, "app");
    CHECK(e != NULL);
    if (e) {
        nm_image_t img;
        const uint8_t *at = f->emu.mem + (size_t)e->start * f->cfg.block_size;
        CHECK_EQ(nm_image_parse(at, e->size, &img, NULL), NM_OK);
        CHECK_EQ(img.version, 5);
        CHECK_EQ(img.is_signed, 1);
        /* a linked install says it verified the slice; copy mode keeps it as signed */
        CHECK_EQ(!!(img.flags & NM_FLAG_SIG_CHECKED), linked);
        CHECK_EQ(nm_trust_check(&f->lcfg, &img, NULL), NM_OK);
    }
    printf("  %-40s installed: %s\n", "signed by the trusted key, version 5", why);

    refused(f, "replayed older version 4", old, l_old, NM_ERR_TRUST, "older than installed");
    free(good);
    free(other);
    free(unsig);
    free(cut);
    free(old);
    sf_close(f);
    free(f);
}

static void hostile_sender_copy_mode(void) {
    hostile_sender_cannot_install_and_the_store_stays_byte_identical(0);
}

static void hostile_sender_linked_store(void) {
    hostile_sender_cannot_install_and_the_store_stays_byte_identical(1);
}

int main(void) {
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(pk_dev, sk_dev);
    crypto_sign_keypair(pk_other, sk_other);
    RUN(hostile_sender_copy_mode);
    RUN(hostile_sender_linked_store);
    return TEST_DONE();
}
