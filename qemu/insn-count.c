// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for qemu/insn-profile.sh: counts the guest instructions
 * executed in kernel text, per translation block, and at exit writes
 * "ADDRESS INSTRUCTIONS" lines (hex, decimal) to the file given as out=PATH.
 * The count is exact and does not depend on the host's load or on timing.
 *
 * QEMU installs no plugin header in Debian 12, so the few entry points of
 * the plugin API (version 1, QEMU 7.2) used here are declared below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info_t;
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
/* op 0 is QEMU_PLUGIN_INLINE_ADD_U64 */
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, int op,
					      void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, void *), void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* Kernel text on x86-64 lies in the top half of the address space. */
#define KERNEL_START 0xffff800000000000ull

/* One per translation: a block translated again gets a second record. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t runs; /* incremented inline by the translated code */
};

#define PER_CHUNK 65536
struct chunk {
	struct chunk *next;
	int used;
	struct block b[PER_CHUNK];
};

static struct chunk *chunks;
static const char *out_path;

static struct block *new_block(void)
{
	if (!chunks || chunks->used == PER_CHUNK) {
		struct chunk *c = calloc(1, sizeof(*c));

		if (!c)
			return NULL;
		c->next = chunks;
		chunks = c;
	}
	return &chunks->b[chunks->used++];
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	struct block *b;

	if (vaddr < KERNEL_START)
		return;
	b = new_block();
	if (!b)
		return;
	b->vaddr = vaddr;
	b->insns = qemu_plugin_tb_n_insns(tb);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, 0, &b->runs, 1);
}

static void write_counts(qemu_plugin_id_t id, void *unused)
{
	FILE *f = fopen(out_path, "w");

	if (!f) {
		perror(out_path);
		return;
	}
	for (struct chunk *c = chunks; c; c = c->next)
		for (int i = 0; i < c->used; i++)
			if (c->b[i].runs)
				fprintf(f, "%llx %llu\n", (unsigned long long)c->b[i].vaddr,
					(unsigned long long)(c->b[i].runs * c->b[i].insns));
	fclose(f);
}

__attribute__((visibility("default"))) int
qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out_path = argv[i] + 4;
	if (!out_path) {
		fprintf(stderr, "insn-count: needs out=PATH\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, write_counts, NULL);
	return 0;
}
