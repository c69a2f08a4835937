// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for the static inline functions and macros rext2 calls from
 * Rust. Each is a one-liner: logic belongs in Rust.
 */
#include "rext2_ffi.h"
#include <linux/statfs.h>

struct rext2_inode_info *rext2_h_inode_info(struct inode *inode)
{
	return container_of(inode, struct rext2_inode_info, vfs_inode);
}

static void rext2_inode_init_once(void *obj)
{
	struct rext2_inode_info *ei = obj;

	mutex_init(&ei->i_map_lock);
	inode_init_once(&ei->vfs_inode);
}

struct kmem_cache *rext2_h_inode_cache_create(void)
{
	return kmem_cache_create("rext2_inode_cache", sizeof(struct rext2_inode_info), 0,
				 SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT, rext2_inode_init_once);
}

struct inode *rext2_h_alloc_inode(struct super_block *sb, struct kmem_cache *cache)
{
	struct rext2_inode_info *ei = alloc_inode_sb(sb, cache, GFP_KERNEL);

	return ei ? &ei->vfs_inode : NULL;
}

struct buffer_head *rext2_h_sb_bread(struct super_block *sb, sector_t block)
{
	return sb_bread(sb, block);
}

void rext2_h_brelse(struct buffer_head *bh)
{
	brelse(bh);
}

void rext2_h_map_bh(struct buffer_head *bh, struct super_block *sb, sector_t block)
{
	map_bh(bh, sb, block);
}

loff_t rext2_h_bdev_nr_bytes(struct super_block *sb)
{
	return bdev_nr_bytes(sb->s_bdev);
}

void rext2_h_i_uid_write(struct inode *inode, uid_t uid)
{
	i_uid_write(inode, uid);
}

void rext2_h_i_gid_write(struct inode *inode, gid_t gid)
{
	i_gid_write(inode, gid);
}

void rext2_h_set_times(struct inode *inode, time64_t atime, time64_t mtime, time64_t ctime)
{
	inode_set_atime(inode, atime, 0);
	inode_set_mtime(inode, mtime, 0);
	inode_set_ctime(inode, ctime, 0);
}

void rext2_h_i_size_write(struct inode *inode, loff_t size)
{
	i_size_write(inode, size);
}

dev_t rext2_h_mkdev(u32 major, u32 minor)
{
	return MKDEV(major, minor);
}

bool rext2_h_dir_emit(struct dir_context *ctx, const char *name, int len, u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}

void rext2_h_fc_error(struct fs_context *fc, const char *msg)
{
	errorfc(fc, "%s", msg);
}

void rext2_h_sb_msg(struct super_block *sb, int level, const char *msg, u64 value)
{
	/* Rate-limited: a corrupt image can make every lookup complain. */
	switch (level) {
	case 3:
		pr_err_ratelimited("rext2 (%s): %s (%llu)\n", sb->s_id, msg, value);
		break;
	case 4:
		pr_warn_ratelimited("rext2 (%s): %s (%llu)\n", sb->s_id, msg, value);
		break;
	default:
		pr_info("rext2 (%s): %s\n", sb->s_id, msg);
	}
}

__kernel_fsid_t rext2_h_uuid_to_fsid(const u8 *uuid)
{
	u8 copy[16];

	memcpy(copy, uuid, sizeof(copy));
	return uuid_to_fsid(copy);
}

void rext2_h_lock_buffer(struct buffer_head *bh)
{
	lock_buffer(bh);
}

struct buffer_head *rext2_h_sb_getblk(struct super_block *sb, sector_t block)
{
	return sb_getblk(sb, block);
}

void rext2_h_set_buffer_uptodate(struct buffer_head *bh)
{
	set_buffer_uptodate(bh);
}

bool rext2_h_buffer_new(struct buffer_head *bh)
{
	return buffer_new(bh);
}

void rext2_h_set_buffer_new(struct buffer_head *bh)
{
	set_buffer_new(bh);
}

const char *rext2_h_param_string(struct fs_parameter *param)
{
	return param->type == fs_value_is_string ? param->string : NULL;
}

void rext2_h_mark_inode_dirty(struct inode *inode)
{
	mark_inode_dirty(inode);
}

void rext2_h_inode_inc_link_count(struct inode *inode)
{
	inode_inc_link_count(inode);
}

void rext2_h_inode_dec_link_count(struct inode *inode)
{
	inode_dec_link_count(inode);
}

void rext2_h_panic(const char *msg)
{
	panic("rext2: %s\n", msg);
}

struct timespec64 rext2_h_current_time(struct inode *inode)
{
	return current_time(inode);
}

time64_t rext2_h_inode_get_atime_sec(struct inode *inode)
{
	return inode_get_atime_sec(inode);
}

time64_t rext2_h_inode_get_mtime_sec(struct inode *inode)
{
	return inode_get_mtime_sec(inode);
}

time64_t rext2_h_inode_get_ctime_sec(struct inode *inode)
{
	return inode_get_ctime_sec(inode);
}

uid_t rext2_h_i_uid_read(struct inode *inode)
{
	return i_uid_read(inode);
}

gid_t rext2_h_i_gid_read(struct inode *inode)
{
	return i_gid_read(inode);
}

void rext2_h_seq_puts(struct seq_file *m, const char *s)
{
	seq_puts(m, s);
}

void rext2_h_mutex_lock(struct mutex *m)
{
	mutex_lock(m);
}

void rext2_h_touch_mc(struct inode *inode)
{
	inode_set_mtime_to_ts(inode, inode_set_ctime_current(inode));
}

void rext2_h_sb_start_pagefault(struct super_block *sb)
{
	sb_start_pagefault(sb);
}

void rext2_h_sb_end_pagefault(struct super_block *sb)
{
	sb_end_pagefault(sb);
}

void rext2_h_invalidate_lock_shared(struct address_space *mapping, bool lock)
{
	if (lock)
		filemap_invalidate_lock_shared(mapping);
	else
		filemap_invalidate_unlock_shared(mapping);
}

void rext2_h_invalidate_lock(struct address_space *mapping, bool lock)
{
	if (lock)
		filemap_invalidate_lock(mapping);
	else
		filemap_invalidate_unlock(mapping);
}

vm_fault_t rext2_h_vmf_fs_error(int err)
{
	return vmf_fs_error(err);
}

void rext2_h_file_accessed(struct file *file)
{
	file_accessed(file);
}
