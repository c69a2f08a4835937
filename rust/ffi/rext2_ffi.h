/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C API rext2 uses. bindgen turns this header (and what it includes) into
 * rust/ffi/bindings_generated.rs; helpers.c implements the rext2_h_* wrappers
 * for static inline functions and macros bindgen cannot call.
 */
#ifndef REXT2_FFI_H
#define REXT2_FFI_H

#include <linux/buffer_head.h>
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/iomap.h>
#include <linux/mpage.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/blkdev.h>
#include <linux/uio.h>
#include <linux/writeback.h>
#include <linux/seq_file.h>
#include <linux/ratelimit.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>

/*
 * In-memory inode: what rext2 keeps beside the VFS inode. Defined in C so the
 * inode slab and container_of arithmetic stay in one place.
 */
struct rext2_inode_info {
	/* i_block[] as on disk (little endian): direct and indirect pointers,
	 * or a fast symlink's target. One spare byte keeps the target
	 * NUL-terminated. */
	__le32 i_data[15];
	char i_data_nul;
	u32 i_flags;
	u32 i_dtime;
	u32 i_file_acl;
	u32 i_block_group;
	u32 i_generation;
	/* Serialises changes to the block map (allocation, truncate). */
	struct mutex i_map_lock;
	/* Last logical/physical block allocated: the goal for the next. */
	u32 i_last_lblk;
	u32 i_last_pblk;
	struct inode vfs_inode;
};

struct rext2_inode_info *rext2_h_inode_info(struct inode *inode);
struct kmem_cache *rext2_h_inode_cache_create(void);
struct inode *rext2_h_alloc_inode(struct super_block *sb, struct kmem_cache *cache);

struct buffer_head *rext2_h_sb_bread(struct super_block *sb, sector_t block);
void rext2_h_brelse(struct buffer_head *bh);
void rext2_h_lock_buffer(struct buffer_head *bh);
struct buffer_head *rext2_h_sb_getblk(struct super_block *sb, sector_t block);
void rext2_h_set_buffer_uptodate(struct buffer_head *bh);
bool rext2_h_buffer_new(struct buffer_head *bh);
void rext2_h_set_buffer_new(struct buffer_head *bh);
void rext2_h_map_bh(struct buffer_head *bh, struct super_block *sb, sector_t block);
loff_t rext2_h_bdev_nr_bytes(struct super_block *sb);

void rext2_h_i_uid_write(struct inode *inode, uid_t uid);
void rext2_h_i_gid_write(struct inode *inode, gid_t gid);
void rext2_h_set_times(struct inode *inode, time64_t atime, time64_t mtime, time64_t ctime);
void rext2_h_i_size_write(struct inode *inode, loff_t size);
dev_t rext2_h_mkdev(u32 major, u32 minor);

bool rext2_h_dir_emit(struct dir_context *ctx, const char *name, int len, u64 ino, unsigned int type);

void rext2_h_fc_error(struct fs_context *fc, const char *msg);
void rext2_h_sb_msg(struct super_block *sb, int level, const char *msg, u64 value);
__kernel_fsid_t rext2_h_uuid_to_fsid(const u8 *uuid);
const char *rext2_h_param_string(struct fs_parameter *param);
void rext2_h_mark_inode_dirty(struct inode *inode);
void rext2_h_inode_inc_link_count(struct inode *inode);
void rext2_h_inode_dec_link_count(struct inode *inode);
void rext2_h_panic(const char *msg);
struct timespec64 rext2_h_current_time(struct inode *inode);
time64_t rext2_h_inode_get_atime_sec(struct inode *inode);
time64_t rext2_h_inode_get_mtime_sec(struct inode *inode);
time64_t rext2_h_inode_get_ctime_sec(struct inode *inode);
uid_t rext2_h_i_uid_read(struct inode *inode);
gid_t rext2_h_i_gid_read(struct inode *inode);
void rext2_h_mutex_lock(struct mutex *m);
void rext2_h_touch_mc(struct inode *inode);
void rext2_h_sb_start_pagefault(struct super_block *sb);
void rext2_h_sb_end_pagefault(struct super_block *sb);
void rext2_h_invalidate_lock_shared(struct address_space *mapping, bool lock);
void rext2_h_invalidate_lock(struct address_space *mapping, bool lock);
vm_fault_t rext2_h_vmf_fs_error(int err);
void rext2_h_file_accessed(struct file *file);
void rext2_h_seq_puts(struct seq_file *m, const char *s);

/* Page cache, buffer heads and user copies for the multipage write path. */
struct folio *rext2_h_grab_folio(struct address_space *mapping, pgoff_t index, int *err);
struct folio *rext2_h_lock_cached_folio(struct address_space *mapping, pgoff_t index);
void rext2_h_folio_release(struct folio *folio);
size_t rext2_h_folio_size(struct folio *folio);
loff_t rext2_h_folio_pos(struct folio *folio);
void rext2_h_folio_zero(struct folio *folio, size_t start, size_t len);
size_t rext2_h_copy_to_folio(struct folio *folio, size_t offset, size_t bytes, struct iov_iter *i);
void rext2_h_commit_write(struct folio *folio, size_t from, size_t to);
struct buffer_head *rext2_h_folio_buffers(struct folio *folio, unsigned long blocksize,
					  bool *created);
void rext2_h_clear_buffer_uptodate(struct buffer_head *bh);
bool rext2_h_buffer_write_io_error(struct buffer_head *bh);
void rext2_h_clear_buffer_write_io_error(struct buffer_head *bh);
int rext2_h_bh_read(struct buffer_head *bh);
void rext2_h_clean_bdev_aliases(struct super_block *sb, sector_t block, sector_t len);
void rext2_h_inode_lock(struct inode *inode, bool lock);
ssize_t rext2_h_write_sync(struct kiocb *iocb, ssize_t count);
bool rext2_h_fatal_signal_pending(void);
unsigned long rext2_h_dirty_allowance(void);
unsigned int rext2_h_nofs_save(void);
void rext2_h_nofs_restore(unsigned int flags);

/*
 * Per-mount counters under /sys/fs/rext2/<device>/: one read-only file per
 * counter, named by rext2_stat_names[] in helpers.c, in this order.
 */
enum rext2_stat {
	REXT2_STAT_WRITES,
	REXT2_STAT_BATCHES,
	REXT2_STAT_BATCH_PAGES,
	REXT2_STAT_BATCH_PAGES_MAX,
	REXT2_STAT_RESERVATIONS,
	REXT2_STAT_RESERVED_BLOCKS,
	REXT2_STAT_RETURNS,
	REXT2_STAT_RETURNED_BLOCKS,
	REXT2_STAT_RESERVED_NOW,
	REXT2_STAT_ALLOCS,
	REXT2_STAT_ALLOC_RUNS,
	REXT2_STAT_ALLOC_BLOCKS,
	REXT2_STAT_SHORT_COPIES,
	REXT2_STAT_ENOSPC_EARLY,
	REXT2_STAT_MAPPED_OVERWRITES,
	REXT2_NR_STATS,
};

struct rext2_sysfs;
int rext2_h_sysfs_init(void);
void rext2_h_sysfs_exit(void);
struct rext2_sysfs *rext2_h_sysfs_add(struct super_block *sb, const u64 *values);
void rext2_h_sysfs_del(struct rext2_sysfs *s);

#endif
