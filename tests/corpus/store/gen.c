/*
 * Seeds for fuzz/fuzz_store.c: store images in its input layout (byte 0 the
 * geometry, then the metadata areas, then the data blocks, trailing erased
 * bytes dropped), for each of its geometries: empty, three modules, a log
 * with REMOVE and MOVE records, and after a metadata compaction.
 *
 *   cc -std=c11 -Iinclude -Isrc tests/corpus/store/gen.c src/format/[*].c \
 *       src/loader/[*].c src/store/store.c src/store/bd_emu.c -o /tmp/gen   (globs)
 *   /tmp/gen tests/corpus/store
 *
 * The linked geometry's images depend on where the emulated device was
 * mapped, so its seeds differ from run to run; any run's serve.
 */
#include "../../../fuzz/fuzz_store.c"

static const char *out_dir;

static void emit(unsigned gi, const char *tag) {
    const sf_geom_t *g = &fz_geoms[gi];
    sf_store_t *f = fz[gi].f;
    size_t meta = (size_t)2 * g->meta_blocks * g->block_size, data = f->emu.size - meta;
    size_t n = 1 + f->emu.size;
    uint8_t *out = malloc(n);
    if (!out) {
        abort();
    }
    out[0] = (uint8_t)gi;
    memcpy(out + 1, f->emu.mem + data, meta);
    memcpy(out + 1 + meta, f->emu.mem, data);
    while (n > 1 && out[n - 1] == 0xFF) {
        n--;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/g%u-%s.bin", out_dir, gi, tag);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(out, 1, n, fp) != n || fclose(fp)) {
        perror(path);
        exit(1);
    }
    free(out);
}

static void put(unsigned gi, const char *name, uint64_t seed, uint32_t size) {
    uint8_t *m;
    size_t len;
    nm_detail_t d;
    if (sf_module(fz_geoms[gi].linked, name, seed, size, &m, &len) != NM_OK ||
        nm_store_install(&fz[gi].f->st, m, len, name, NULL, &d) != NM_OK) {
        fprintf(stderr, "gen: geometry %u: install %s failed\n", gi, name);
        exit(1);
    }
    free(m);
}

int main(int argc, char **argv) {
    out_dir = argc > 1 ? argv[1] : ".";
    setup_once();
    for (unsigned gi = 0; gi < 4; gi++) {
        sf_store_t *f = fz[gi].f;
        const sf_geom_t *g = &fz_geoms[gi];
        nm_detail_t d;
        nm_store_defrag_result_t r;
        if (nm_store_format(&f->st, &f->cfg, &d) != NM_OK) {
            fprintf(stderr, "gen: geometry %u: %s\n", gi, d.msg);
            return 1;
        }
        emit(gi, "empty");
        put(gi, "a", 1, 200);
        put(gi, "b", 2, g->block_size + 100 < 1500 ? g->block_size + 100 : 700);
        put(gi, "c", 3, 150);
        emit(gi, "three");
        nm_store_remove(&f->st, "a", &d);
        put(gi, "c", 4, 300);
        nm_store_defrag(&f->st, 0, &r, &d);
        emit(gi, "log");
        uint32_t gen = f->st.generation;
        for (unsigned i = 0; f->st.generation == gen && i < 200; i++) {
            put(gi, "b", 10 + i, 180);
        }
        put(gi, "a", 5, 220);
        emit(gi, "compacted");
    }
    return 0;
}
