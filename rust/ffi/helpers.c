// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for the static inline functions and macros rext2 calls from
 * Rust. Each is a one-liner: logic belongs in Rust.
 */
#include "rext2_ffi.h"
#include <linux/statfs.h>
#include <linux/highmem.h>
#include <linux/kobject.h>
#include <linux/completion.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>

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

struct folio *rext2_h_grab_folio(struct address_space *mapping, pgoff_t index, int *err)
{
	struct folio *folio = __filemap_get_folio(mapping, index, FGP_WRITEBEGIN,
						  mapping_gfp_mask(mapping));

	if (IS_ERR(folio)) {
		*err = PTR_ERR(folio);
		return NULL;
	}
	return folio;
}

struct folio *rext2_h_lock_cached_folio(struct address_space *mapping, pgoff_t index)
{
	/* Stable: the caller changes the folio, which may be under writeback. */
	struct folio *folio = __filemap_get_folio(mapping, index, FGP_LOCK | FGP_STABLE, 0);

	return IS_ERR(folio) ? NULL : folio;
}

void rext2_h_folio_release(struct folio *folio)
{
	folio_unlock(folio);
	folio_put(folio);
}

size_t rext2_h_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

loff_t rext2_h_folio_pos(struct folio *folio)
{
	return folio_pos(folio);
}

void rext2_h_folio_zero(struct folio *folio, size_t start, size_t len)
{
	folio_zero_range(folio, start, len);
}

size_t rext2_h_copy_to_folio(struct folio *folio, size_t offset, size_t bytes, struct iov_iter *i)
{
	size_t copied;

	if (mapping_writably_mapped(folio->mapping))
		flush_dcache_folio(folio);
	copied = copy_folio_from_iter_atomic(folio, offset, bytes, i);
	flush_dcache_folio(folio);
	return copied;
}

void rext2_h_commit_write(struct folio *folio, size_t from, size_t to)
{
	block_commit_write(&folio->page, from, to);
}

struct buffer_head *rext2_h_folio_buffers(struct folio *folio, unsigned long blocksize,
					  bool *created)
{
	struct buffer_head *head = folio_buffers(folio);

	*created = !head;
	return head ? head : create_empty_buffers(folio, blocksize, 0);
}

void rext2_h_clear_buffer_uptodate(struct buffer_head *bh)
{
	clear_buffer_uptodate(bh);
}

bool rext2_h_buffer_write_io_error(struct buffer_head *bh)
{
	return buffer_write_io_error(bh);
}

void rext2_h_clear_buffer_write_io_error(struct buffer_head *bh)
{
	clear_buffer_write_io_error(bh);
}

int rext2_h_bh_read(struct buffer_head *bh)
{
	return bh_read(bh, 0);
}

void rext2_h_clean_bdev_aliases(struct super_block *sb, sector_t block, sector_t len)
{
	clean_bdev_aliases(sb->s_bdev, block, len);
}

void rext2_h_inode_lock(struct inode *inode, bool lock)
{
	if (lock)
		inode_lock(inode);
	else
		inode_unlock(inode);
}

ssize_t rext2_h_write_sync(struct kiocb *iocb, ssize_t count)
{
	return generic_write_sync(iocb, count);
}

bool rext2_h_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

unsigned long rext2_h_dirty_allowance(void)
{
	int left = current->nr_dirtied_pause - current->nr_dirtied;

	return left > 0 ? left : 0;
}

unsigned int rext2_h_nofs_save(void)
{
	return memalloc_nofs_save();
}

void rext2_h_nofs_restore(unsigned int flags)
{
	memalloc_nofs_restore(flags);
}

/* /sys/fs/rext2/<device>/<counter>: kobject glue around a Rust counter array. */
static const char *const rext2_stat_names[REXT2_NR_STATS] = {
	[REXT2_STAT_WRITES] = "writes",
	[REXT2_STAT_BATCHES] = "batches",
	[REXT2_STAT_BATCH_PAGES] = "batch_pages",
	[REXT2_STAT_BATCH_PAGES_MAX] = "batch_pages_max",
	[REXT2_STAT_RESERVATIONS] = "reservations",
	[REXT2_STAT_RESERVED_BLOCKS] = "reserved_blocks",
	[REXT2_STAT_RETURNS] = "returns",
	[REXT2_STAT_RETURNED_BLOCKS] = "returned_blocks",
	[REXT2_STAT_RESERVED_NOW] = "reserved_now",
	[REXT2_STAT_ALLOCS] = "allocs",
	[REXT2_STAT_ALLOC_RUNS] = "alloc_runs",
	[REXT2_STAT_ALLOC_BLOCKS] = "alloc_blocks",
	[REXT2_STAT_SHORT_COPIES] = "short_copies",
	[REXT2_STAT_ENOSPC_EARLY] = "enospc_before_copy",
	[REXT2_STAT_MAPPED_OVERWRITES] = "mapped_overwrites",
};

struct rext2_sysfs {
	struct kobject kobj;
	struct completion released;
	const u64 *values;
	struct kobj_attribute attrs[REXT2_NR_STATS];
	struct attribute *attr_ptrs[REXT2_NR_STATS + 1];
	struct attribute_group group;
};

static struct kset *rext2_kset;

static ssize_t rext2_stat_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct rext2_sysfs *s = container_of(kobj, struct rext2_sysfs, kobj);

	return sysfs_emit(buf, "%llu\n", READ_ONCE(s->values[attr - s->attrs]));
}

static void rext2_sysfs_release(struct kobject *kobj)
{
	complete(&container_of(kobj, struct rext2_sysfs, kobj)->released);
}

static const struct kobj_type rext2_sb_ktype = {
	.sysfs_ops = &kobj_sysfs_ops,
	.release = rext2_sysfs_release,
};

int rext2_h_sysfs_init(void)
{
	rext2_kset = kset_create_and_add("rext2", NULL, fs_kobj);
	return rext2_kset ? 0 : -ENOMEM;
}

void rext2_h_sysfs_exit(void)
{
	kset_unregister(rext2_kset);
}

struct rext2_sysfs *rext2_h_sysfs_add(struct super_block *sb, const u64 *values)
{
	struct rext2_sysfs *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int i, err;

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->values = values;
	init_completion(&s->released);
	for (i = 0; i < REXT2_NR_STATS; i++) {
		sysfs_attr_init(&s->attrs[i].attr);
		s->attrs[i].attr.name = rext2_stat_names[i];
		s->attrs[i].attr.mode = 0444;
		s->attrs[i].show = rext2_stat_show;
		s->attr_ptrs[i] = &s->attrs[i].attr;
	}
	s->group.attrs = s->attr_ptrs;
	s->kobj.kset = rext2_kset;
	err = kobject_init_and_add(&s->kobj, &rext2_sb_ktype, NULL, "%s", sb->s_id);
	if (!err)
		err = sysfs_create_group(&s->kobj, &s->group);
	if (err) {
		kobject_put(&s->kobj);
		wait_for_completion(&s->released);
		kfree(s);
		return ERR_PTR(err);
	}
	return s;
}

void rext2_h_sysfs_del(struct rext2_sysfs *s)
{
	/* kobject_del waits for readers; the counters may go after it. */
	kobject_del(&s->kobj);
	kobject_put(&s->kobj);
	wait_for_completion(&s->released);
	kfree(s);
}
