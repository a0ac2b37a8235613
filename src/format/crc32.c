/*
 * CRC-32 as in IEEE 802.3 / zlib (polynomial 0xEDB88320 reflected, init and
 * final xor 0xFFFFFFFF). A 16-entry table (nibble at a time) keeps it at 64
 * bytes of rodata, which matters more on a microcontroller than speed here:
 * a module is checked once per load.
 */
#include "natmod/format.h"

static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t nm_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    /* Chainable: undo the previous final xor so a result can be fed back in. */
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 0xF];
        crc = (crc >> 4) ^ crc_nibble[crc & 0xF];
    }
    return ~crc;
}

uint32_t nm_image_crc(const void *image, uint32_t image_size) {
    const uint8_t *p = image;
    /* Everything but the CRC field itself: arch, float ABI and flags change
     * how a module is run, so a flipped bit there must be caught too. */
    uint32_t crc = nm_crc32(0, p, NM_CRC_START - 4);
    return nm_crc32(crc, p + NM_CRC_START, image_size - NM_CRC_START);
}
