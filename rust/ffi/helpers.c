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

struct kmem_cache *rext2_h_inode_cache_create(void (*ctor)(void *))
{
	return kmem_cache_create("rext2_inode_cache", sizeof(struct rext2_inode_info), 0,
				 SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT, ctor);
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
