# qemu-espt top-level Makefile.
#
#   make            assemble/refresh build/src, build, link ./qemu-system-arm
#   make guest      fetch Debian armhf kernels, build the test initramfs
#   make check      build everything and run every test
#   make demo       the main job: boot the default guest and run a workload
#   make bench      benchmarks: softmmu vs ESPT vs user mode (BENCHFLAGS=...)
#
# SPDX-License-Identifier: GPL-2.0-or-later

SHELL := /bin/bash
PYTHON ?= python3

-include build/config.mk

# ccache: hash sources relative to the build, not by absolute path, so a
# fresh clone elsewhere still hits the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

.PHONY: all build guest bench-image bench check demo clean distclean help

all: build

help:
	@sed -n '3,9p' Makefile

# configure is cheap when nothing changed: it re-verifies the base, re-applies
# patches/ only if they changed, relinks our files, and re-runs upstream
# configure only when its arguments changed.
build:
	@./configure $(CONFIGURE_ARGS)
	@test -f build/obj/build.ninja
	ninja -C build/obj qemu-system-arm qemu-arm
	@# Run from the build tree, QEMU looks for data files only under
	@# qemu-bundle/; the virt board's default NIC wants efi-virtio.rom,
	@# which Debian ships in ipxe-qemu.
	@mkdir -p build/obj/qemu-bundle/usr/local/share/qemu
	@for f in /usr/lib/ipxe/qemu/*.rom; do \
	    [ -e "$$f" ] && ln -sfn "$$f" build/obj/qemu-bundle/usr/local/share/qemu/; \
	done; true
	@ln -sfn build/obj/qemu-system-arm qemu-system-arm
	@ln -sfn build/obj/qemu-arm qemu-arm
	@./qemu-system-arm --version | head -n 1

guest:
	tests/guest/build.sh

bench-image: guest
	tests/bench/build.sh

bench: build bench-image
	$(PYTHON) scripts/bench.py $(BENCHFLAGS)

check: build guest bench-image
	$(PYTHON) tests/run.py $(TESTFLAGS)

demo: build guest
	$(PYTHON) scripts/demo.py

clean:
	@if [ -f build/obj/build.ninja ]; then ninja -C build/obj clean; fi
	rm -f qemu-system-arm qemu-arm

distclean:
	rm -rf build qemu-system-arm qemu-arm
