/*
 * Page-table models of two ESP32 MMUs behind the vmap back-end interface,
 * for tests and benchmarks on the host (and a reference for a real port).
 *
 * ESP32: two tables, PRO (core 0) and APP (core 1), kept identical.
 * Flash entries 0..255, 64 KB pages, value = physical page number (8 bits),
 * invalid = 0x100. Entries 0..63 show DROM0 (0x3f400000), 64..127 IRAM0
 * (0x40000000 + n * 64 KB; esp_mmu_map uses 0x400d0000 up), 128..191 IRAM1,
 * 192..255 IROM0. The vmap regions are ESP-IDF's: IRAM0 (EXEC, flash),
 * DROM0 (READ, flash) and DRAM1 (PSRAM, which ESP32 refuses with
 * NOT_SUPPORTED).
 *
 * ESP32-S3: one table of 512 entries shared by the instruction bus
 * (0x42000000) and the data bus (0x3c000000); entry = linear page, value =
 * physical page | 0x8000 for PSRAM, invalid = 0x4000. One region, all caps,
 * flash and PSRAM.
 */
#ifndef NATMOD_VMAP_ESP32_H
#define NATMOD_VMAP_ESP32_H

#include <stdint.h>

#include "natmod/vmap.h"

#define NM_ESP32_MMU_PAGE 0x10000u
#define NM_ESP32_MMU_ENTRIES 256u
#define NM_ESP32_MMU_INVALID 0x100u

typedef struct nm_vmap_esp32 {
    uint32_t pro[NM_ESP32_MMU_ENTRIES], app[NM_ESP32_MMU_ENTRIES];
    unsigned long n_writes;      /* entry writes, per table */
    unsigned long n_invalidates; /* cache syncs */
} nm_vmap_esp32_t;

#define NM_ESP32S3_MMU_ENTRIES 512u
#define NM_ESP32S3_MMU_INVALID 0x4000u
#define NM_ESP32S3_MMU_PSRAM 0x8000u

typedef struct nm_vmap_esp32s3 {
    uint32_t table[NM_ESP32S3_MMU_ENTRIES];
    unsigned long n_writes, n_invalidates;
} nm_vmap_esp32s3_t;

/* Entry index of a virtual address in the ESP32 flash table, -1 if none. */
int nm_vmap_esp32_entry(uintptr_t vaddr);
/* Entry index of an ESP32-S3 virtual address (either bus), -1 if none. */
int nm_vmap_esp32s3_entry(uintptr_t vaddr);

/* Fill cfg for the model: every table entry invalid, then the entries of
 * each reservation written as the bootloader would (reservations with a
 * target); cfg gets regions, page size, supported targets, the pool, the
 * reservations and the back-end. Lock fields are left 0 for the caller.
 * ESP32 flash is 16 MB at most (256 pages); S3 flash/PSRAM 1 GB. */
void nm_vmap_esp32_config(nm_vmap_config_t *cfg, nm_vmap_esp32_t *m, nm_vmap_block_t *pool,
                          unsigned pool_len, const nm_vmap_reserve_t *res, unsigned n_res);
void nm_vmap_esp32s3_config(nm_vmap_config_t *cfg, nm_vmap_esp32s3_t *m, nm_vmap_block_t *pool,
                            unsigned pool_len, const nm_vmap_reserve_t *res, unsigned n_res);

#endif /* NATMOD_VMAP_ESP32_H */
