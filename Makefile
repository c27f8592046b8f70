# lxcfs: container-aware /proc served by a master and a pool of restartable workers.
#
#   make            build build/{lxcfs,lxcfs-worker,lxcfs-ctl} (installs missing Debian packages)
#   make run        build and run lxcfs in the foreground on /var/lib/lxcfs
#   make test       unit + integration tests, then the same suite under ASan/UBSan
#   make bench      read-latency table: native /proc, FUSE floor, this lxcfs, upstream lxcfs
#   make install    PREFIX=/usr/local DESTDIR=   (binaries, unit, man pages, completion, LXC hooks)
#   make uninstall  PREFIX=/usr/local DESTDIR=   (the same files, and the folders install made)
#   make clean

PREFIX     ?= /usr/local
DESTDIR    ?=
MOUNTPOINT ?= /var/lib/lxcfs
BUILD      ?= build
SAN        ?= 0
VERSION    ?= 0.1.0

CC ?= gcc

# Debian packages each step needs; installed on demand (apt-get update first).
BUILD_PKGS := gcc make pkg-config libfuse3-dev libjemalloc-dev fuse3
FUZZ_PKGS  := $(BUILD_PKGS) clang python3
TEST_PKGS  := $(BUILD_PKGS) procps python3 util-linux psmisc lxcfs busybox-static \
              python3-prometheus-client man-db systemd lxc

BUILD_ID := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wno-unused-parameter -D_GNU_SOURCE -I. -g -pthread \
	-DLXCFS_VERSION='"$(VERSION)"' -DLXCFS_BUILD_ID='"$(BUILD_ID)"' \
	-DLXCFS_LIBEXECDIR='"$(PREFIX)/libexec/lxcfs"'

ifeq ($(SAN),1)
CFLAGS_MODE := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS_MODE := -fsanitize=address,undefined
MALLOC_LIBS :=
else
CFLAGS_MODE := -O2
LDFLAGS_MODE :=
MALLOC_LIBS = -ljemalloc
endif

FUSE_CFLAGS = $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS   = $(shell pkg-config --libs fuse3 2>/dev/null)

CFLAGS  += $(CFLAGS_COMMON) $(CFLAGS_MODE) $(FUSE_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS += $(LDFLAGS_MODE)

# Each folder is one process's code; its *_main.c holds the entry point.
SHM_SRC    := $(wildcard shm/*.c)
RENDER_SRC := $(wildcard proc_render/*.c)
WORKER_SRC := $(filter-out workers/worker_main.c,$(wildcard workers/*.c))
MASTER_SRC := $(filter-out master/main.c master/ctl_main.c,$(wildcard master/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
BENCH_SRC  := $(wildcard bench/*.c)
TOOL_SRC   := $(wildcard tests/tools/*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBSHM    := $(BUILD)/libshm.a
LIBRENDER := $(BUILD)/librender.a
LIBWORKER := $(BUILD)/libworker.a
LIBMASTER := $(BUILD)/libmaster.a

BINS  := $(BUILD)/lxcfs $(BUILD)/lxcfs-worker $(BUILD)/lxcfs-ctl
UNITS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
TOOL_BINS  := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

.SECONDARY:

.PHONY: all deps test-deps fuzz-deps run test unit integration test-asan bench soak fuzz fuzzers install uninstall clean format

all: deps
	@$(MAKE) --no-print-directory binaries

binaries: $(BINS) $(UNITS) $(BENCH_BINS) $(TOOL_BINS)

# dpkg-query answers from the local database: cheap enough to run on every build.
deps:
	@missing=$$(for p in $(BUILD_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages: $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

test-deps:
	@missing=$$(for p in $(TEST_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages: $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

fuzz-deps:
	@missing=$$(for p in $(FUZZ_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages: $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBSHM): $(call obj,$(SHM_SRC))
$(LIBRENDER): $(call obj,$(RENDER_SRC))
$(LIBWORKER): $(call obj,$(WORKER_SRC))
$(LIBMASTER): $(call obj,$(MASTER_SRC))
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lxcfs: $(call obj,master/main.c) $(LIBMASTER) $(LIBSHM)
	$(CC) $(LDFLAGS) -o $@ $^ $(FUSE_LIBS) $(MALLOC_LIBS)

$(BUILD)/lxcfs-worker: $(call obj,workers/worker_main.c) $(LIBWORKER) $(LIBRENDER) $(LIBSHM)
	$(CC) $(LDFLAGS) -o $@ $^ $(MALLOC_LIBS)

$(BUILD)/lxcfs-ctl: $(call obj,master/ctl_main.c) $(LIBMASTER) $(LIBSHM)
	$(CC) $(LDFLAGS) -o $@ $^ $(FUSE_LIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(LIBWORKER) $(LIBRENDER) $(LIBMASTER) $(LIBSHM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FUSE_LIBS)

# Small programs the integration tests run as readers inside containers.
$(BUILD)/tools/%: $(call obj,tests/tools/%.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/bench/%: $(call obj,bench/%.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FUSE_LIBS)

run: all
	mkdir -p $(MOUNTPOINT)
	$(BUILD)/lxcfs -f --worker-binary $(CURDIR)/$(BUILD)/lxcfs-worker $(MOUNTPOINT)

unit: all
	@tests/run_unit.sh $(BUILD)

integration: all
	@tests/run_integration.sh $(BUILD)

# The whole suite, then again with AddressSanitizer and UBSan builds of every binary.
test: test-deps
	@$(MAKE) --no-print-directory binaries
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 binaries
	@tests/run_all.sh build build-asan

# The long chaos runs under 16 readers: a random worker SIGKILLed every 50 ms for 60 s,
# then the master SIGKILLed 20 times in 60 s.
soak: test-deps
	@$(MAKE) --no-print-directory binaries
	@LXCFS_BUILD=$(CURDIR)/$(BUILD) LXCFS_TEST_TIMEOUT=300 tests/run_integration.sh $(BUILD) soak_chaos soak_master

# libFuzzer harnesses (tests/fuzz/), built with clang, ASan and UBSan into build-fuzz/,
# each run FUZZ_SECONDS (default 60).
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SAN=1 \
		EXTRA_CFLAGS=-fsanitize=fuzzer-no-link fuzzers
	@tests/fuzz/run.sh build-fuzz

fuzzers: $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(BUILD)/fuzz/%: $(call obj,tests/fuzz/%.c) $(LIBMASTER) $(LIBSHM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUSE_LIBS)

bench: test-deps
	@$(MAKE) --no-print-directory binaries
	@bench/run.sh $(BUILD)

# Where make install puts things, as a distribution package would.
BINDIR      = $(PREFIX)/bin
LIBEXECDIR  = $(PREFIX)/libexec/lxcfs
UNITDIR     = $(PREFIX)/lib/systemd/system
MANDIR      = $(PREFIX)/share/man
COMPLDIR    = $(PREFIX)/share/bash-completion/completions
HOOKDIR     = $(PREFIX)/share/lxcfs
LXCCONFDIR  = $(PREFIX)/share/lxc/config/common.conf.d
# The LXC hooks and the configuration that enables them: whatever files the
# tree holds in these folders (an executable file stays executable; a folder
# in them is not installed).
files_in = $(foreach f,$(wildcard $(1)/*),$(if $(wildcard $(f)/.),,$(f)))
HOOK_FILES    = $(call files_in,share/lxcfs)
LXCCONF_FILES = $(call files_in,share/lxc/config/common.conf.d)

INSTALLED = $(BINDIR)/lxcfs $(BINDIR)/lxcfs-ctl $(LIBEXECDIR)/lxcfs-worker \
	$(UNITDIR)/lxcfs.service $(MANDIR)/man1/lxcfs.1 $(MANDIR)/man8/lxcfs-ctl.8 \
	$(COMPLDIR)/lxcfs-ctl \
	$(addprefix $(HOOKDIR)/,$(notdir $(HOOK_FILES))) \
	$(addprefix $(LXCCONFDIR)/,$(notdir $(LXCCONF_FILES)))

# install_tree FILES,DIR: each regular file of FILES into DIR, 0755 if executable, else 0644.
install_tree = for f in $(1); do [ -f "$$f" ] || continue; \
	install -d $(DESTDIR)$(2); \
	if [ -x "$$f" ]; then m=0755; else m=0644; fi; \
	install -m $$m "$$f" $(DESTDIR)$(2)/; done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPLDIR)
	install -m 0755 $(BUILD)/lxcfs $(DESTDIR)$(BINDIR)/lxcfs
	install -m 0755 $(BUILD)/lxcfs-ctl $(DESTDIR)$(BINDIR)/lxcfs-ctl
	install -m 0755 $(BUILD)/lxcfs-worker $(DESTDIR)$(LIBEXECDIR)/lxcfs-worker
	sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@mountpoint@|$(MOUNTPOINT)|g' \
		dist/systemd/lxcfs.service.in >$(DESTDIR)$(UNITDIR)/lxcfs.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lxcfs.service
	install -m 0644 man/lxcfs.1 $(DESTDIR)$(MANDIR)/man1/lxcfs.1
	install -m 0644 man/lxcfs-ctl.8 $(DESTDIR)$(MANDIR)/man8/lxcfs-ctl.8
	install -m 0644 dist/bash-completion/lxcfs-ctl $(DESTDIR)$(COMPLDIR)/lxcfs-ctl
	@$(call install_tree,$(HOOK_FILES),$(HOOKDIR))
	@# The configuration names the hooks where this install puts them.
	@for f in $(LXCCONF_FILES); do install -d $(DESTDIR)$(LXCCONFDIR); \
		sed 's|/usr/share/lxcfs/|$(HOOKDIR)/|' "$$f" >$(DESTDIR)$(LXCCONFDIR)/$${f##*/}; \
		chmod 0644 $(DESTDIR)$(LXCCONFDIR)/$${f##*/}; done

# The files install put there, then the folders it made, once empty: lxcfs'
# own (libexec/lxcfs, share/lxcfs) always; shared ones (bin, share/man/man8,
# ...) only under a DESTDIR, a staging tree that install filled from empty,
# up to DESTDIR itself. On a live system they may have been there before.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@for d in $(LIBEXECDIR) $(HOOKDIR); do \
		[ ! -d $(DESTDIR)$$d ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)$$d; done
	@dest='$(DESTDIR)'; dest=$${dest%/}; [ -n "$$dest" ] || exit 0; \
	for d in $(sort $(dir $(INSTALLED))); do \
		d=$$dest$${d%/}; \
		while [ $${#d} -gt $${#dest} ]; do \
			[ ! -d "$$d" ] || rmdir "$$d" 2>/dev/null || break; d=$${d%/*}; done; \
	done

clean:
	rm -rf build build-asan build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
