# rext2 top-level Makefile. `make help` lists the targets.
SHELL := /bin/bash
ROOT := $(CURDIR)

# Debian's rustc has rust-src; the rustup one first on PATH does not.
KRUSTC ?= /usr/bin/rustc
REXT2_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rext2
BINDGEN ?= $(REXT2_CACHE)/tools/bin/bindgen
export KRUSTC REXT2_CACHE BINDGEN

# The kernel tree the module builds against: the cached test kernel unless
# KDIR= names another (unpatched, Rust-enabled, configured and built) tree.
KDIR ?=

CLIPPY_DRIVER ?= /usr/bin/clippy-driver
# $$kdir: KDIR, or the cached test kernel (built on first use).
FIND_KDIR = kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$$(bash qemu/build-kernel.sh debug); \
	[ -f "$$kdir/Makefile" ] || { echo "no kernel tree at '$$kdir': run 'make setup kernel' or pass KDIR=" >&2; exit 1; }
KMAKE = $(MAKE) -C "$$kdir" M=$(ROOT) RUSTC=$(KRUSTC) BINDGEN=$(BINDGEN) \
	HOSTRUSTC=$(KRUSTC) CLIPPY_DRIVER=$(CLIPPY_DRIVER) $(if $(filter 1,$(CLIPPY)),CLIPPY=1)

.PHONY: all module setup kernel print-kernel test host-test run shell bench insn-profile soak xfstests clean fmt fmt-check help

all: module

help:
	@echo "make setup         install missing Debian/crates.io/PyPI tools"
	@echo "make kernel        build (or find cached) the test kernel"
	@echo "make print-kernel  print the path of the test kernel image"
	@echo "make               build rext2.ko (KDIR= another kernel tree; CLIPPY=1 for clippy)"
	@echo "make run           set up, build, boot QEMU, mount a fresh rext2 disk, show it working"
	@echo "make test          host unit tests + the in-VM suite (TESTS='name ...' for some)"
	@echo "make shell         interactive shell in the VM, module loaded, a disk attached"
	@echo "make soak          long stress / hostile-image / I/O-error / crash runs and their table (SOAK_MINUTES=60)"
	@echo "make xfstests      xfstests with FSTYP=rext2 in the VM (XFSTESTS_DIR=built tree; TESTS=, GROUP=; resumes)"
	@echo "make bench         benchmarks vs ext2/ext4/XFS/tmpfs on the non-debug kernel (CSV, table, PNG)"
	@echo "make insn-profile  exact kernel instructions per write, per function, write=multipage vs classic"
	@echo "make fmt           rustfmt the module"

setup:
	@bash qemu/setup.sh

kernel: setup
	@bash qemu/build-kernel.sh debug >/dev/null

print-kernel:
	@echo "$$(bash qemu/build-kernel.sh debug)/arch/x86/boot/bzImage"

module:
	+@$(FIND_KDIR); $(KMAKE) modules

host-test:
	cargo test --quiet

test: setup kernel
	+@$(MAKE) --no-print-directory module
	@bash qemu/run-tests.sh $(TESTS)

run: setup kernel
	+@$(MAKE) --no-print-directory module
	@bash qemu/demo.sh

soak: setup kernel
	+@$(MAKE) --no-print-directory module
	@bash qemu/soak.sh

xfstests: setup kernel
	+@$(MAKE) --no-print-directory module
	@bash qemu/xfstests.sh

bench: setup
	@bash qemu/bench.sh

insn-profile: setup
	@bash qemu/insn-profile.sh

shell: setup kernel
	+@$(MAKE) --no-print-directory module
	@bash qemu/shell.sh

RUST_SOURCES = $(shell find rust -name '*.rs' ! -name bindings_generated.rs)

fmt:
	rustfmt --edition 2021 $(RUST_SOURCES)

fmt-check:
	rustfmt --check --edition 2021 $(RUST_SOURCES)

clean:
	rm -rf target
	-@$(FIND_KDIR); $(KMAKE) clean
	rm -f rust/ffi/bindings_generated.rs
