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

# CC builds the sanitizer build; WALTER_CC builds ./walter: musl-gcc, for
# a static binary, when it is installed and CC was not set.
WALTER_CC = $(CC)
ifeq ($(origin CC),default)
MUSL := $(shell command -v musl-gcc 2>/dev/null)
ifneq ($(MUSL),)
WALTER_CC = musl-gcc
LDFLAGS += -static
# musl's posix_spawn is vfork-fast and reports exec/chdir errors
DEFS = -DWALTER_SPAWN
ifdef OWN_CFLAGS
# one small static binary: -Os, unused functions dropped, no unwind tables
# (C has no exceptions), no page padding between code and data (a static
# non-PIE binary has fixed addresses anyway). The YAML parser stays -O2:
# -Os costs it 15% on big files (make bench: yaml-to-json).
CFLAGS = -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
HOT_CFLAGS = -O2
LDFLAGS += -Wl,--gc-sections -Wl,-z,noseparate-code
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
	$(WALTER_CC) $(WFLAGS) $(DEFS) $(CFLAGS) $(HOT_CFLAGS) -Iinclude -c yaml_mini.c -o yaml_mini.o
	$(WALTER_CC) $(WFLAGS) $(DEFS) $(CFLAGS) -Iinclude walter.c http_mini.c yaml_mini.o -o $@ $(LDFLAGS)
	rm -f yaml_mini.o
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

clean:
	rm -rf walter yaml_mini.o tests/bin tests/tmp

.PHONY: all run test bench install clean asan fuzz lint
