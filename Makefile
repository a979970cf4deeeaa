# walter - build, test, install.  See README.md.
# A GNU make file (ifeq, origin, $(shell), $(filter)); without GNU make:
# cc -Iinclude walter.c yaml_mini.c http_mini.c -o walter

PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man/man1
# CFLAGS from the command line or the environment win; otherwise -O2, and
# for the static musl build the size flags below. (Tested with origin:
# some make builds predefine CFLAGS, which ?= would keep.)
ifneq ($(filter default undefined,$(origin CFLAGS)),)
CFLAGS = -O2
OWN_CFLAGS = 1
endif
WFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow
SRC = walter.c yaml_mini.c http_mini.c
HDR = include/yaml_mini.h include/http_mini.h

SMALL_CFLAGS = -Os -fno-pie -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
	-fno-unwind-tables
SMALL_LDFLAGS = -no-pie -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro \
	-Wl,-z,common-page-size=64

# CC builds the sanitizer build; WALTER_CC builds ./walter: musl-gcc, for
# a static binary, when it is installed and CC was not set.
WALTER_CC = $(CC)
ifeq ($(origin CC),default)
MUSL := $(shell command -v musl-gcc 2>/dev/null)
ifneq ($(MUSL),)
WALTER_CC = musl-gcc
LDFLAGS += -static
ifdef OWN_CFLAGS
# one small static binary: -Os, unused functions dropped, no unwind tables
# (C has no exceptions), no position-independent code (the binary is a
# static non-PIE one with fixed addresses anyway; -fno-pie saves 3 KiB of
# rip-relative addressing), no page padding between code and data: code
# and data share no page boundary in the file (common-page-size), and no
# RELRO, which musl's static start-up never applies (the pages stay
# writable; it only padded the file to a page). The YAML parser too: at
# -O2 it ran 11% fewer instructions on make bench's 20,000 stages but
# took the same CPU time within 2% (its page faults and memory traffic
# weigh more), for 9 KiB more code.
CFLAGS = $(SMALL_CFLAGS)
LDFLAGS += $(SMALL_LDFLAGS)
endif
KIND = static, musl-gcc
else
KIND = dynamic, cc: not static (install musl-tools for a static build)
endif
else
KIND = $(CC)
endif

all: walter

walter: $(SRC) $(HDR)
	$(WALTER_CC) $(WFLAGS) $(CFLAGS) -Iinclude $(SRC) -o $@ $(LDFLAGS)
	@echo "built ./walter ($(KIND))"

run: walter
	cd examples && ../walter -c seed.yml

test: walter
	@sh tests/run.sh

bench: walter
	sh tests/bench.sh

install: walter
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)
	cp walter $(DESTDIR)$(BINDIR)/walter
	chmod 755 $(DESTDIR)$(BINDIR)/walter
	cp walter.1 $(DESTDIR)$(MANDIR)/walter.1

# Reliability: the whole suite under ASan/UBSan, fuzzing, static analysis.
asan:
	mkdir -p tests/bin
	$(CC) -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
		$(WFLAGS) -Iinclude $(SRC) -o tests/bin/walter-asan
	WALTER=$(CURDIR)/tests/bin/walter-asan WALTER_SANITIZED=1 sh tests/run.sh

FUZZ_TIME = 20
FUZZ_TARGETS = yaml http config
fuzz:
	mkdir -p tests/bin tests/tmp
	for t in $(FUZZ_TARGETS); do \
		clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			-std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude \
			tests/fuzz/fuzz_$$t.c yaml_mini.c http_mini.c -o tests/bin/fuzz_$$t -lm || exit 1; \
		mkdir -p tests/tmp/corpus_$$t; \
		tests/bin/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 -close_fd_mask=2 \
			tests/tmp/corpus_$$t tests/fuzz/corpus/$$t || exit 1; \
	done

lint:
	clang-format --dry-run -Werror $(SRC) $(HDR)
	cppcheck --quiet --enable=warning,portability,performance --error-exitcode=1 \
		--inline-suppr --std=c11 -Iinclude $(SRC)
	clang-tidy --quiet $(SRC) -- -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude

# ---- Release: make dist, make test-dist, make test-cross ---------------
# One version, one home: WALTER_VERSION in walter.c. The release file
# names read it from there, -version prints it, the JSON event and the
# reports carry it.
VERSION := $(shell sed -n 's/^.define WALTER_VERSION "\(.*\)"$$/\1/p' walter.c)
DIST = dist
# riscv64: Debian ships musl-dev:riscv64 from Debian 13 on, not in 12.
DIST_ARCHES = x86_64 aarch64 armhf
DIST_BINS = $(DIST_ARCHES:%=$(DIST)/walter-$(VERSION)-linux-%)
# Per architecture: the gcc, the musl of Debian's musl-dev for it (whose
# specs file turns that gcc into a musl-gcc) and the Debian architecture.
x86_64_CC = x86_64-linux-gnu-gcc
x86_64_MUSL = x86_64-linux-musl
x86_64_DEB = amd64
aarch64_CC = aarch64-linux-gnu-gcc
aarch64_MUSL = aarch64-linux-musl
aarch64_DEB = arm64
armhf_CC = arm-linux-gnueabihf-gcc
armhf_MUSL = arm-linux-musleabihf
armhf_DEB = armhf
riscv64_CC = riscv64-linux-gnu-gcc
riscv64_MUSL = riscv64-linux-musl
riscv64_DEB = riscv64
riscv64_NOTE = ; Debian 12 has no musl-dev:riscv64, Debian 13 has
MUSL_LIBDIR = /usr/lib
# The flags of the static build above, stripped, and nothing of the
# build machine in the output: no paths (-ffile-prefix-map), no dates
# (nothing reads one; SOURCE_DATE_EPOCH pins __DATE__ should one appear).
DIST_CFLAGS = $(SMALL_CFLAGS) -ffile-prefix-map=$(CURDIR)=.
DIST_LDFLAGS = -static -s $(SMALL_LDFLAGS)
DIST_EPOCH = 0
DIST_SPECS = $(MUSL_LIBDIR)/$($*_MUSL)/musl-gcc.specs
DIST_CC = SOURCE_DATE_EPOCH=$(DIST_EPOCH) $($*_CC) -specs $(DIST_SPECS) \
	$(WFLAGS) $(DIST_CFLAGS) -Iinclude
CROSS_ARCH = aarch64

# Always from scratch, so dist/ holds exactly this version's files.
dist:
	@tag=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) || :; \
	case $$tag in ""|v$(VERSION)) ;; *) echo "make dist: HEAD is tagged $$tag but walter.c says $(VERSION)" >&2; exit 1 ;; esac
	rm -rf $(DIST)
	$(MAKE) $(DIST_BINS) $(DIST)/walter.1
	cd $(DIST) && sha256sum $(DIST_BINS:$(DIST)/%=%) walter.1 > SHA256SUMS
	@echo "built $(DIST)/: $(DIST_ARCHES:%=walter-$(VERSION)-linux-%) walter.1 SHA256SUMS"

$(DIST)/walter-$(VERSION)-linux-%: $(SRC) $(HDR)
	@if [ -z "$($*_CC)" ]; then echo "make dist: unknown architecture $* (known: x86_64 aarch64 armhf riscv64)" >&2; exit 1; fi
	@command -v $($*_CC) >/dev/null && [ -r $(DIST_SPECS) ] || { \
		gcc=$$(command -v $($*_CC) >/dev/null || echo $($*_CC) | sed 's/\(.*\)-gcc$$/gcc-\1 /; s/_/-/g'); \
		echo "make dist: no static musl toolchain for $* (needs $($*_CC) and $(DIST_SPECS))$($*_NOTE)" >&2; \
		echo "  on Debian: dpkg --add-architecture $($*_DEB); apt-get update; apt-get install $${gcc}musl-dev:$($*_DEB)" >&2; \
		exit 1; }
	mkdir -p $(DIST)
	$(DIST_CC) $(SRC) -o $@ $(DIST_LDFLAGS)

$(DIST)/walter.1: walter.1
	mkdir -p $(DIST)
	cp walter.1 $@

# Two builds in two directories give the same bytes; each binary is
# static for its architecture and runs (under qemu-user when foreign).
test-dist:
	sh tests/dist.sh $(DIST_ARCHES)

# The system tests against one foreign binary under qemu-user: walter is
# emulated, the tasks' commands run natively. tests/cross.sh says which
# tests are left out and why.
test-cross: $(DIST)/walter-$(VERSION)-linux-$(CROSS_ARCH)
	sh tests/cross.sh $(CROSS_ARCH) $(DIST)/walter-$(VERSION)-linux-$(CROSS_ARCH)

.PHONY: dist test-dist test-cross

clean:
	rm -rf walter tests/bin tests/tmp $(DIST)

.PHONY: all run test bench install clean asan fuzz lint
