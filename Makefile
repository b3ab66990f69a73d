# qemu-espt top-level Makefile.
#
#   make            assemble/refresh the selected base, build, link ./qemu-system-arm
#                   and ./qemu-arm (10.0 also ./qemu-system-aarch64, ./qemu-aarch64)
#   make guest      fetch Debian armhf and arm64 kernels, build the test initramfs
#   make guest-va39 build the 39-bit VA arm64 kernel from Debian's source (once, ~15 min)
#   make python-image  Debian's armhf python3.11 and CPython's tests, for tests/test_python.py
#   make check      build everything and run every test on the selected base
#   make demo       the main job: boot the default guest and run a workload
#   make bench      benchmarks: softmmu vs ESPT vs user mode, every base and ISA (BENCHFLAGS=...)
#   make build-B    build base B (7.2, 10.0) in build/B without selecting it
#   make check-B    run the tests (TESTFLAGS=...) on base B's build
#   make check-series  prove every patch of the selected base's series builds
#   make install    install the selected base under PREFIX (/usr/local; DESTDIR=...)
#   make uninstall  remove what make install put under PREFIX
#   make deb        Debian package qemu-espt of the selected base in build/deb/
#   make install-B, deb-B   the same of base B's build
#
# SPDX-License-Identifier: GPL-2.0-or-later

SHELL := /bin/bash
PYTHON ?= python3

-include build/config.mk

# ccache: hash sources relative to the build, not by absolute path, so a
# fresh clone elsewhere still hits the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

BASES := 7.2 10.0
# Every program a base may build (10.0 adds AArch64), linked at the top.
ALL_BINS := qemu-system-arm qemu-arm qemu-system-aarch64 qemu-aarch64

.PHONY: all build guest guest-va39 bench-image python-image bench check demo clean distclean help \
	check-series $(addprefix build-,$(BASES)) $(addprefix check-,$(BASES))

all: build

help:
	@sed -n '3,18p' Makefile

# configure is cheap when nothing changed: it re-verifies the base, re-applies
# patches/ only if they changed, relinks our files, and re-runs upstream
# configure only when its arguments changed.
# ninja-obj DIR: build the base's programs (BINS in DIR/../config.mk) in DIR.  Run from the build tree,
# QEMU looks for data files only under qemu-bundle/; the virt board's
# default NIC wants efi-virtio.rom, which Debian ships in ipxe-qemu.
define ninja-obj
	@test -f $(1)/build.ninja
	ninja -C $(1) $$(sed -n 's/^BINS := //p' $(1)/../config.mk)
	@mkdir -p $(1)/qemu-bundle/usr/local/share/qemu
	@for f in /usr/lib/ipxe/qemu/*.rom; do \
	    [ -e "$$f" ] && ln -sfn "$$f" $(1)/qemu-bundle/usr/local/share/qemu/; \
	done; true
endef

build:
	@./configure $(CONFIGURE_ARGS)
	$(call ninja-obj,build/obj)
	@rm -f $(ALL_BINS)
	@for b in $$(sed -n 's/^BINS := //p' build/config.mk); do ln -sfn build/obj/$$b $$b; done
	@./qemu-system-arm --version | head -n 1

# Another base, side by side with the selected one (its own arguments if
# it was configured before).
$(addprefix build-,$(BASES)): build-%:
	@./configure --no-select $(or $(shell sed -n 's/^CONFIGURE_ARGS :=//p' build/$*/config.mk 2>/dev/null),--base=$*)
	$(call ninja-obj,build/$*/obj)
	@build/$*/obj/qemu-system-arm --version | head -n 1

$(addprefix check-,$(BASES)): check-%: build-% guest bench-image python-image
	@if [ -x build/$*/obj/qemu-system-aarch64 ]; then tests/guest/kernel-va39.sh; fi
	QEMU_ESPT_BASE=$* $(PYTHON) tests/run.py $(TESTFLAGS)

check-series: build
	scripts/check-series

guest:
	tests/guest/build.sh
	tests/guest/build.sh --arch=arm64

# The arm64 guest's second kernel (39-bit VA, Android's layout), which
# Debian does not ship: built from Debian's linux source, cached.
guest-va39: guest
	tests/guest/kernel-va39.sh

bench-image: guest
	tests/bench/build.sh
	tests/bench/build.sh --arch=arm64

# CPython's regression tests (tests/test_python.py): rebuilt only when
# its inputs change.
python-image: guest
	tests/pytest/build.sh

# Every base side by side: stock softmmu, ESPT and qemu-arm of each.
bench: build $(addprefix build-,$(BASES)) bench-image guest-va39
	$(PYTHON) scripts/bench.py --bases=all $(BENCHFLAGS)

check: build guest bench-image python-image
	@if [ -x qemu-system-aarch64 ]; then tests/guest/kernel-va39.sh; fi
	$(PYTHON) tests/run.py $(TESTFLAGS)

demo: build guest
	$(PYTHON) scripts/demo.py

# Installing: everything under PREFIX/lib/qemu-espt, on PATH as
# qemu-espt-system-arm and qemu-espt-arm (scripts/install, scripts/mkdeb).
PREFIX ?= /usr/local
.PHONY: install uninstall deb $(addprefix install-,$(BASES)) $(addprefix deb-,$(BASES))

install: build
	scripts/install --prefix='$(PREFIX)' --destdir='$(DESTDIR)' build/obj

$(addprefix install-,$(BASES)): install-%: build-%
	scripts/install --prefix='$(PREFIX)' --destdir='$(DESTDIR)' build/$*/obj

uninstall:
	scripts/install --uninstall --prefix='$(PREFIX)' --destdir='$(DESTDIR)'

deb: build
	scripts/mkdeb build/obj

$(addprefix deb-,$(BASES)): deb-%: build-%
	scripts/mkdeb build/$*/obj

clean:
	@if [ -f build/obj/build.ninja ]; then ninja -C build/obj clean; fi
	rm -f $(ALL_BINS)

distclean:
	rm -rf build $(ALL_BINS)
