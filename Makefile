# metersim: a digital twin of the WAGO 879-3000 / 879-3020 energy meter.
#
#   make run     install what is missing, build, start the twin on its demo scenario
#   make test    install what is missing, build, run every suite; ends "N passed, N failed"
#   make bench   the benchmarks, with their baselines measured in the same run
#   make test-sanitize  the unit, CLI and scenario suites against an ASan +
#                UBSan build of the twin in build-san/ (make test runs it too)
#   make deps    only install what is missing (Debian packages)
#   make install PREFIX=/usr/local DESTDIR=   the program, its scenario library,
#                schema, docs, man page, bash completion and libmetercore
#                (static, shared, headers, pkg-config); make uninstall
#                removes them all (README.md, Install)
#   make deb     the Debian packages, into build/deb/ (docs/deploy.md)

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
BUILD ?= build
CC ?= cc

# -ffp-contract=off: no fused multiply-add, so results are bit-identical on
# every x86-64 and ARM machine (docs/decisions.md, determinism).
WARN := -Wall -Wextra -Werror
CSTD := -std=c11
OPT ?= -O2 -g
BASE_CFLAGS := $(CSTD) $(OPT) $(WARN) -ffp-contract=off -MMD -MP
PKGS := sdl2 libserialport libcjson libpcap libmicrohttpd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

CORE_SRC := $(sort $(wildcard core/*.c))
SIM_DIRS := $(sort $(dir $(wildcard sim/*/*.c)))
SIM_INC := $(patsubst %/,-I%,$(SIM_DIRS))
SIM_SRC := $(sort $(wildcard sim/*/*.c) $(wildcard frontends/*/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
# The page of --http (frontends/web/), embedded in the binary (sim/http/web_assets.h).
WEB_FILES := $(shell find frontends/web -type f -not -path '*/node_modules/*' 2>/dev/null)
WEB_OBJ := $(BUILD)/gen/web_assets.o
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/%.o) $(WEB_OBJ)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

CORE_LIB := $(BUILD)/libmetercore.a
# libmetercore's ABI, apart from the program's VERSION: MAJOR moves when a
# program built against core/meter.h must be rebuilt (a meter_t field or a
# call's signature changed), MINOR when calls are added (docs/decisions.md).
METERCORE_MAJOR := 1
METERCORE_MINOR := 0
CORE_SONAME := libmetercore.so.$(METERCORE_MAJOR)
CORE_SO := $(BUILD)/$(CORE_SONAME).$(METERCORE_MINOR)
PIC_OBJ := $(CORE_SRC:%.c=$(BUILD)/pic/%.o)
MAN := $(BUILD)/metersim.1
VERSION_STAMP := $(BUILD)/version.txt
SIM_LIB := $(BUILD)/libmetersim.a
BIN := $(BUILD)/metersim

.SECONDARY:
.PHONY: all run test bench deps deps-build install uninstall deb lib man FORCE clean check-core check-facade check-format \
	test-bins sanitize-build test-sanitize
.DEFAULT_GOAL := all

all: $(BIN) check-core

deps:
	@sh mk/deps.sh test

deps-build:
	@sh mk/deps.sh build

# The core is pure: libc maths and its own headers only (DESIGN.md).
check-core:
	@if grep -nE '#include *<(stdio|stdlib|time|unistd|fcntl|SDL|cjson/|libserialport|sys/|pthread)' core/*.[ch]; then \
		echo "core/ must not include host headers (DESIGN.md)"; exit 1; fi

# One style: the repo's .clang-format, on every C file of the project (tables
# whose alignment carries meaning are fenced with clang-format off/on).
check-format:
	@sh tests/style/format.sh

# The facade is the only door: nothing outside core/ writes a meter_t field
# or includes core/internal.h (core/meter.h, tests/style/facade.sh).
check-facade:
	@sh tests/style/facade.sh

$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Icore -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -D_DEFAULT_SOURCE -Icore -Isim $(SIM_INC) -Ifrontends $(DEFS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/gen/web_assets.c: $(WEB_FILES) frontends/web mk/embed_web.sh
	@mkdir -p $(dir $@)
	sh mk/embed_web.sh frontends/web > $@.tmp && mv $@.tmp $@

$(WEB_OBJ): $(BUILD)/gen/web_assets.c
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Isim/http -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The shared library: the same sources as position-independent objects.
$(BUILD)/pic/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -fPIC -Icore -c $< -o $@

$(CORE_SO): $(PIC_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(CORE_SONAME) -o $@ $^ -lm
	ln -sf $(notdir $@) $(BUILD)/$(CORE_SONAME)
	ln -sf $(CORE_SONAME) $(BUILD)/libmetercore.so

lib: $(CORE_LIB) $(CORE_SO)

# The version the binary prints (mk/version.sh), in a stamp rewritten only
# when it changes: sim/version/version.c alone is rebuilt then.
$(VERSION_STAMP): FORCE
	@mkdir -p $(dir $@)
	@v=$$(sh mk/version.sh) && { [ -f $@ ] && [ "$$(cat $@)" = "$$v" ] || printf '%s\n' "$$v" > $@; }

$(BUILD)/sim/version/version.o: $(VERSION_STAMP)
$(BUILD)/sim/version/version.o: DEFS = -DMETERSIM_VERSION='"$(shell cat $(VERSION_STAMP))"'

# metersim(1), generated from docs/cli.md, its one source (mk/man.lua).
$(MAN): docs/cli.md mk/man.lua VERSION
	@mkdir -p $(dir $@)
	@command -v pandoc >/dev/null || { echo "make: pandoc is missing, for the man page:" \
		"make deps-build (or apt-get install pandoc)" >&2; exit 1; }
	pandoc --from gfm --to man --standalone --lua-filter mk/man.lua \
		--metadata title=METERSIM --metadata section=1 \
		--metadata footer="metersim $$(cat VERSION)" --metadata header="metersim manual" \
		docs/cli.md --output $@

man: $(MAN)

$(SIM_LIB): $(SIM_OBJ)
	@rm -f $@
	@mkdir -p $(dir $@)
	@printf '!<arch>\n' > $@
	$(if $^,ar rcs $@ $^)

$(BIN): $(BUILD)/sim/main.o $(SIM_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lutil

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(SIM_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lm -lutil

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(SIM_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lutil

# The demo of issue 4: an office building over a day, night tariff on the
# input; in the window where a display exists, else as text.
RUN_ARGS ?= --scenario scenarios/office-day.json

run: deps-build
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN) $(RUN_ARGS)

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN) $(BENCH_BIN)
	@BUILD=$(BUILD) sh tests/run.sh

# The twin and its unit tests with AddressSanitizer (and LeakSanitizer) and
# UndefinedBehaviorSanitizer, every finding fatal, in a build folder of their
# own (tests/sanitize/test_sanitize.sh builds it and runs the suites on it).
SAN_BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

test-bins: $(TEST_BIN)

sanitize-build:
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) OPT="-O2 -g" CFLAGS="$(SAN_FLAGS)" \
		LDFLAGS="$(SAN_FLAGS)" $(SAN_BUILD)/metersim $(SAN_BUILD)/bench/fidelity_agree test-bins

test-sanitize: deps
	@SAN_BUILD=$(SAN_BUILD) sh tests/sanitize/test_sanitize.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) sh bench/run.sh

# mk/install.sh does both, from one list of files; every path is quoted, so
# a PREFIX or DESTDIR with spaces works.
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" LIBDIR="$(LIBDIR)" BUILD="$(BUILD)" \
	CC="$(CC)" CORE_SONAME="$(CORE_SONAME)" CORE_SO="$(CORE_SO)" MAN="$(MAN)"

install: $(BIN) $(CORE_LIB) $(CORE_SO) $(MAN)
	@$(INSTALL_ENV) sh mk/install.sh install

uninstall:
	@$(INSTALL_ENV) sh mk/install.sh uninstall

# The Debian packages metersim, libmetercore1 and libmetercore-dev, built
# with dpkg-buildpackage from a copy of the tree into $(BUILD)/deb/
# (mk/deb.sh; docs/deploy.md).
deb:
	@sh mk/deps.sh deb
	@BUILD=$(BUILD) sh mk/deb.sh

clean:
	rm -rf $(BUILD) $(SAN_BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
