/*
 * Reference x86-64 modules, assembled by hand as bytes, so loader tests can
 * call the loaded code on the host and check what it returns. Each builder
 * returns a malloc'd slice from nm_write_image.
 */
#ifndef NATMOD_TEST_X64_MODULES_H
#define NATMOD_TEST_X64_MODULES_H

#include <stdint.h>
#include <string.h>

#include "format/writer.h"

static inline void x_put32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4); /* x86-64 is little-endian */
}

/* "get": mov eax, imm32; ret. float_abi selectable; init optional, returning init_ret. */
static inline int x_build_const(uint8_t **out, size_t *len, const char *name, uint8_t fabi, uint32_t value,
                         int with_init, uint32_t init_ret) {
    static uint8_t text[16];
    memset(text, 0xCC, sizeof text);
    text[0] = 0xB8;
    x_put32(text + 1, value);
    text[5] = 0xC3;
    text[8] = 0xB8;
    x_put32(text + 9, init_ret);
    text[13] = 0xC3;
    static const nm_wexport_t ex[] = {
        {"get", 0, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"nm_init", 8, NM_REGION_TEXT, NM_EXPORT_FUNC},
    };
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = fabi;
    m.name = name;
    m.text = text;
    m.text_size = 16;
    m.rw_offset = 16;
    m.text_align_log2 = 4;
    m.exports = ex;
    m.n_exports = 2;
    m.init_idx = with_init ? 1 : NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    return nm_write_image(&m, out, len, NULL);
}

/*
 * "pcrel": an RW_PCREL module (one IMAGE block). Imports host_add (a
 * function) and marker (an int). RW layout:
 *   0  GOT[0] = &host_add     PTR64 import 0
 *   8  GOT[1] = &marker       PTR64 import 1
 *  16  ptr    = &value        PTR64 RW (+24)
 *  24  value  = 1234
 *  32  counter (bss)
 * Text (rw_offset 80):
 *   0 get42:    mov eax,42; ret
 *   8 call_add: jmp [rip+GOT0]                    (tail call into the firmware)
 *  16 read_ptr: mov rax,[rip+ptr]; mov eax,[rax]; ret
 *  32 nm_init:  mov rax,[rip+GOT1]; mov dword [rax],0x11; xor eax,eax; ret
 *  48 nm_deinit: mov rax,[rip+GOT1]; mov dword [rax],0x22; ret
 *  64 bump:     mov eax,[rip+counter]; add eax,1; mov [rip+counter],eax; ret
 */
#define X_PCREL_RW 80u
static inline int x_build_pcrel_types(uint8_t **out, size_t *len, const char *const *imports,
                                      const nm_wimport_type_t *types) {
    static uint8_t text[80];
    static uint8_t data[28];
    memset(text, 0xCC, sizeof text);
    memset(data, 0, sizeof data);
    uint8_t *t = text;
    /* get42 */
    t[0] = 0xB8;
    x_put32(t + 1, 42);
    t[5] = 0xC3;
    /* call_add: FF 25 disp32, next ip 14 */
    t[8] = 0xFF;
    t[9] = 0x25;
    x_put32(t + 10, X_PCREL_RW + 0 - 14);
    /* read_ptr: 48 8B 05 disp32 (next ip 23); 8B 00; C3 */
    t[16] = 0x48, t[17] = 0x8B, t[18] = 0x05;
    x_put32(t + 19, X_PCREL_RW + 16 - 23);
    t[23] = 0x8B, t[24] = 0x00, t[25] = 0xC3;
    /* nm_init: 48 8B 05 disp32 (next ip 39); C7 00 imm32; 31 C0; C3 */
    t[32] = 0x48, t[33] = 0x8B, t[34] = 0x05;
    x_put32(t + 35, X_PCREL_RW + 8 - 39);
    t[39] = 0xC7, t[40] = 0x00;
    x_put32(t + 41, 0x11);
    t[45] = 0x31, t[46] = 0xC0, t[47] = 0xC3;
    /* nm_deinit: same shape, stores 0x22, next ip 55 */
    t[48] = 0x48, t[49] = 0x8B, t[50] = 0x05;
    x_put32(t + 51, X_PCREL_RW + 8 - 55);
    t[55] = 0xC7, t[56] = 0x00;
    x_put32(t + 57, 0x22);
    t[61] = 0xC3;
    /* bump: 8B 05 disp32 (next 70); 83 C0 01; 89 05 disp32 (next 79); C3 */
    t[64] = 0x8B, t[65] = 0x05;
    x_put32(t + 66, X_PCREL_RW + 32 - 70);
    t[70] = 0x83, t[71] = 0xC0, t[72] = 0x01;
    t[73] = 0x89, t[74] = 0x05;
    x_put32(t + 75, X_PCREL_RW + 32 - 79);
    t[79] = 0xC3;
    x_put32(data + 16, 24); /* ptr: RW offset of value, relocated by RW base */
    x_put32(data + 24, 1234);

    static const nm_wexport_t ex[] = {
        {"get42", 0, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"call_add", 8, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"read_ptr", 16, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"nm_init", 32, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"nm_deinit", 48, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"bump", 64, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"value", 24, NM_REGION_RW, NM_EXPORT_DATA},
        {"counter", 32, NM_REGION_RW, NM_EXPORT_DATA},
    };
    static const nm_reloc_t rel[] = {
        {.site = X_PCREL_RW + 16, .kind = NM_RELOC_PTR64, .target = NM_TARGET_RW},
        {.site = X_PCREL_RW + 0, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0 + 0},
        {.site = X_PCREL_RW + 8, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0 + 1},
    };
    static const char *const default_imports[] = {"host_add", "marker"};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.flags = NM_FLAG_RW_PCREL;
    m.name = "pcrel";
    m.text = text;
    m.text_size = sizeof text;
    m.data = data;
    m.data_size = sizeof data;
    m.bss_size = 16;
    m.rw_offset = X_PCREL_RW;
    m.got_offset = 0;
    m.got_count = 2;
    m.text_align_log2 = 4;
    m.rw_align_log2 = 3;
    m.relocs = rel;
    m.n_relocs = 3;
    m.imports = imports ? imports : default_imports;
    m.n_imports = 2;
    m.exports = ex;
    m.n_exports = 8;
    m.init_idx = 3;
    m.deinit_idx = 4;
    m.import_types = types; /* NULL: none (docs/format.md 2.3) */
    return nm_write_image(&m, out, len, NULL);
}

static inline int x_build_pcrel(uint8_t **out, size_t *len, const char *const *imports) {
    return x_build_pcrel_types(out, len, imports, NULL);
}

/*
 * "split": no RW_PCREL, so TEXT and RW are separate allocations; code
 * reaches data and the firmware through relocated 64-bit immediates in text.
 *   0 get_value: movabs rax, RW+0 (PTR64 at 2); mov eax,[rax]; ret
 *  16 call_host: movabs rax, &host_add (PTR64 at 18); jmp rax
 * RW: data 4 bytes = 777, bss 4.
 */
static inline int x_build_split(uint8_t **out, size_t *len) {
    static uint8_t text[32];
    static uint8_t data[4];
    memset(text, 0xCC, sizeof text);
    text[0] = 0x48, text[1] = 0xB8;
    memset(text + 2, 0, 8);
    text[10] = 0x8B, text[11] = 0x00, text[12] = 0xC3;
    text[16] = 0x48, text[17] = 0xB8;
    memset(text + 18, 0, 8);
    text[26] = 0xFF, text[27] = 0xE0;
    x_put32(data, 777);
    static const nm_wexport_t ex[] = {
        {"get_value", 0, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"call_host", 16, NM_REGION_TEXT, NM_EXPORT_FUNC},
    };
    static const nm_reloc_t rel[] = {
        {.site = 18, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0},
        {.site = 2, .kind = NM_RELOC_PTR64, .target = NM_TARGET_RW},
    };
    static const char *const imports[] = {"host_add"};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.name = "split";
    m.text = text;
    m.text_size = sizeof text;
    m.data = data;
    m.data_size = sizeof data;
    m.bss_size = 4;
    m.rw_offset = 4096;
    m.text_align_log2 = 4;
    m.rw_align_log2 = 2;
    m.relocs = rel;
    m.n_relocs = 2;
    m.imports = imports;
    m.n_imports = 1;
    m.exports = ex;
    m.n_exports = 2;
    m.init_idx = m.deinit_idx = NM_NO_INDEX;
    return nm_write_image(&m, out, len, NULL);
}

#endif /* NATMOD_TEST_X64_MODULES_H */
