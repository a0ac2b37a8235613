# natmod as a MicroPython user C module (make ports): docs/micropython.md.
#   make USER_C_MODULES=<natmod>/ports NATMOD_COMMIT_EXEC=1 \
#        NATMOD_FLASH_BASE=0x20000000 NATMOD_FLASH_SIZE=0x40000 \
#        [NATMOD_EXPORT_SRC="my_exports.c ..."]
# The NATMOD_* variables are a shortcut for the MICROPY_NATMOD_* macros
# (modnatmod.c) and the port hook (natmod_port.h) a board can set itself.
NATMOD_MP_DIR := $(USERMOD_DIR)
NATMOD_TOP := $(abspath $(USERMOD_DIR)/../..)
NATMOD_GEN_DIR := $(BUILD)/natmod

SRC_USERMOD_C += $(NATMOD_MP_DIR)/modnatmod.c
SRC_USERMOD_LIB_C += $(NATMOD_MP_DIR)/natmod_mp.c \
	$(NATMOD_TOP)/src/store/store.c \
	$(addprefix $(NATMOD_TOP)/src/loader/,loader.c place.c reloc.c resolve.c verify.c xip.c trust.c sha512.c ed25519.c) \
	$(addprefix $(NATMOD_TOP)/src/format/,crc32.c read.c detail.c universal.c) \
	$(NATMOD_GEN_DIR)/exports.c
CFLAGS_USERMOD += -I$(NATMOD_MP_DIR) -I$(NATMOD_TOP)/include -I$(NATMOD_TOP)/src
ifeq ($(NATMOD_COMMIT_EXEC),1)
CFLAGS_USERMOD += -include $(NATMOD_MP_DIR)/natmod_port.h
endif
ifneq ($(NATMOD_FLASH_SIZE),)
CFLAGS_USERMOD += -DMICROPY_NATMOD_FLASH_BASE=$(NATMOD_FLASH_BASE) -DMICROPY_NATMOD_FLASH_SIZE=$(NATMOD_FLASH_SIZE)
endif
ifneq ($(NATMOD_RW_SIZE),)
CFLAGS_USERMOD += -DMICROPY_NATMOD_RW_SIZE=$(NATMOD_RW_SIZE)
endif

# The export table: nm-gen-exports (a host program) over the preprocessed
# sources that mark exports with NM_FW_EXPORT, as natmod's own boards do.
NATMOD_EXPORT_SRC += $(NATMOD_MP_DIR)/natmod_exports.c
HOST_CC ?= cc
$(NATMOD_GEN_DIR)/nm-gen-exports: $(NATMOD_TOP)/ports/host/gen_exports.c $(NATMOD_TOP)/ports/host/gen_protos.c
	$(ECHO) "GEN $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -O1 -std=c11 -I$(NATMOD_TOP)/include -I$(NATMOD_TOP)/ports/host -o $@ $^

$(NATMOD_GEN_DIR)/exports.c: $(NATMOD_GEN_DIR)/nm-gen-exports $(NATMOD_EXPORT_SRC)
	$(ECHO) "GEN $@"
	$(Q)for f in $(NATMOD_EXPORT_SRC); do $(CC) $(CFLAGS) -E $$f || exit 1; done > $(NATMOD_GEN_DIR)/exports.i
	$(Q)$(NATMOD_GEN_DIR)/nm-gen-exports -o $@ -s $(NATMOD_GEN_DIR)/board.syms $(NATMOD_GEN_DIR)/exports.i
