/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAME
 *	store - content-addressed message objects: zstd, optionally CMS
 * SYNOPSIS
 *	#include "milters/archive/store.h"
 *
 *	arc_store *arc_store_open(const char *dir, int level, const arc_seal *seal,
 *	                          const arc_owner *owner, char **err);
 *	void arc_store_close(arc_store *s);
 *	void arc_store_set_name_key(arc_store *s,
 *	                            const unsigned char key[ARC_NAME_KEY_LEN]);
 *	int  arc_store_keyed(const arc_store *s);
 *	void arc_store_set_host(arc_store *s, const char *host);
 *
 *	int  arc_source_each(arc_source *src, arc_write_fn fn, void *ctx);
 *	int  arc_store_hash(arc_source *src, char sha[65],
 *	                    unsigned long long *size, arc_meta *meta);
 *	int  arc_store_name(const arc_store *s, arc_source *src, char name[65],
 *	                    unsigned long long *size, arc_meta *meta);
 *	int  arc_store_put(arc_store *s, arc_source *src, const char *sha,
 *	                   unsigned long long size, arc_object *obj, char **err);
 *	int  arc_store_find(const arc_store *s, const char *sha, char **path,
 *	                    int *encrypted);
 *	int  arc_store_touch(const arc_store *s, const char *sha);
 *	int  arc_store_stat(const arc_store *s, const char *sha, arc_object *obj);
 *	int  arc_store_read(const arc_store *s, const char *sha, const arc_key *key,
 *	                    arc_write_fn out, void *ctx, char **err);
 *	int  arc_store_check(const arc_store *s, const char *sha, const arc_key *key,
 *	                     arc_object *got, char **err);
 *	int  arc_store_remove(const arc_store *s, const char *sha);
 *	size_t arc_store_clean_temps(const arc_store *s, int all);
 *	int  arc_store_each(const arc_store *s, arc_object_fn fn, void *ctx);
 * DESCRIPTION
 *	Each distinct message is stored once, under the lower-case hex
 *	SHA-256 of its bytes, in dir/objects/XX/ where XX are the first two
 *	digits:
 *	    SHA.eml.zst        one zstd frame (content size and checksum set)
 *	    SHA.eml.zst.p7m    that zstd frame as the content of a CMS
 *	                       EnvelopedData (DER/BER), see seal(3)
 *	so `zstd -d < SHA.eml.zst` or `openssl cms -decrypt -inform DER -in
 *	SHA.eml.zst.p7m -inkey KEY | zstd -d` gives the message back.
 *
 *	Keyed names. In a sealed store (recipient certificates given) with a
 *	name key set by arc_store_set_name_key(), the name of a new object
 *	is not the SHA-256 of the message but its HMAC-SHA256 under that
 *	key (64 hex digits as well): whoever can list objects/ but does not
 *	hold the key cannot tell whether a message they know is archived.
 *	The same message still gets the same name, so deduplication holds.
 *	Reading checks the content against either form, so objects named by
 *	their SHA-256 (plain ones, and those written before names were
 *	keyed) stay readable; a keyed object can only be checked with the
 *	key. arc_store_keyed() tells whether new names are keyed.
 *
 *	A message to store is an arc_source: head bytes (the header block
 *	as the milter received it, or a whole message) followed by an
 *	optional pn_spool (the body). arc_source_each() hands its bytes to
 *	fn in chunks of at most 64 KB, so a message is never held in memory
 *	whole beyond what the spool itself keeps.
 *
 *	arc_store_hash() is the first pass: SHA-256 and size, and the index
 *	fields when meta is not NULL. arc_store_name() is the same pass
 *	giving the object's name instead (the keyed HMAC in a keyed store,
 *	else the SHA-256); the write path uses it. arc_store_put() is the second, done
 *	only for a message not stored yet: it compresses (and encrypts) the
 *	source into a temporary file ".tmp-PID-RANDOM" (".tmp-PID-RANDOM.HOST"
 *	once arc_store_set_host() named this host) in the object's own
 *	directory, fsyncs it, gives it its name with link(2) (an exclusive
 *	create, atomic on NFS as well; rename(2) only where the file system
 *	has no hard links), removes the temporary name and fsyncs the
 *	directory, then fills obj (sizes, SHA-256 of the stored bytes).
 *	Two writers storing the same message at once, in two processes or
 *	on two hosts sharing the directory, both succeed: the first
 *	writer's file stays, and the later one fills obj from that file
 *	(so the stored bytes a journal records are those on disk, even
 *	when the two differ: another compression level, another CMS
 *	envelope).
 *
 *	arc_store_find() tells whether an object exists (plain or
 *	encrypted) and where. arc_store_touch() refreshes its time (a
 *	reused object must not look unreferenced-and-old to prune while its
 *	delivery is being recorded). arc_store_stat() fills obj from the
 *	file alone (hashing it), for an object whose record was lost.
 *
 *	arc_store_read() writes the original message to out; an encrypted
 *	object needs key. The SHA-256 of what was written is checked
 *	against the name at the end. arc_store_check() (verify) hashes the
 *	stored file into got->stored_sha256/stored_size and, when the
 *	content can be read (plain, or key given), decodes it and checks the
 *	SHA-256 and size of the message.
 *
 *	arc_store_clean_temps() removes temporary files left by writers
 *	that no longer run (pid gone; only this host's files: another
 *	host's pid means nothing here) or, with all, every one older than a
 *	day; it returns how many it removed. arc_store_each() calls fn for
 *	every object file (obj->sha256, obj->encrypted, obj->time = mtime,
 *	obj->stored_size), in no particular order; fn returning -1 stops.
 *
 *	When the process runs as root, new files and directories are given
 *	to owner (see files(3)).
 * DIAGNOSTICS
 *	arc_store_open() returns NULL with *err when the directory cannot
 *	be created or used. arc_store_put() and arc_store_read() return -1
 *	with *err set (errno-based text: disk full, permission denied, or
 *	the codec's reason). arc_store_find() returns 0 or -1 (not found).
 *	arc_store_check() returns 0 (sound), 1 (corrupt: *err says why), -1
 *	(missing or unreadable: *err). arc_store_remove() returns 0, or -1.
 */
#ifndef ARC_STORE_H
#define ARC_STORE_H

#include <stddef.h>

#include "common/spool.h"
#include "milters/archive/files.h"
#include "milters/archive/meta.h"
#include "milters/archive/record.h"
#include "milters/archive/seal.h"

#define ARC_NAME_KEY_LEN 32

typedef struct arc_store arc_store;

typedef struct arc_source {
	const void *head;
	size_t head_len;
	pn_spool *body;		/* may be NULL */
} arc_source;

typedef int (*arc_object_fn)(void *ctx, const arc_object *obj);

arc_store *arc_store_open(const char *dir, int level, const arc_seal *seal,
			  const arc_owner *owner, char **err);
void arc_store_close(arc_store *s);
void arc_store_set_name_key(arc_store *s, const unsigned char key[ARC_NAME_KEY_LEN]);
int arc_store_keyed(const arc_store *s);
void arc_store_set_host(arc_store *s, const char *host);
int arc_source_each(arc_source *src, arc_write_fn fn, void *ctx);
int arc_store_hash(arc_source *src, char sha[65], unsigned long long *size, arc_meta *meta);
int arc_store_name(const arc_store *s, arc_source *src, char name[65], unsigned long long *size,
		   arc_meta *meta);
int arc_store_put(arc_store *s, arc_source *src, const char *sha, unsigned long long size,
		  arc_object *obj, char **err);
int arc_store_find(const arc_store *s, const char *sha, char **path, int *encrypted);
int arc_store_touch(const arc_store *s, const char *sha);
int arc_store_stat(const arc_store *s, const char *sha, arc_object *obj);
int arc_store_read(const arc_store *s, const char *sha, const arc_key *key,
		   arc_write_fn out, void *ctx, char **err);
int arc_store_check(const arc_store *s, const char *sha, const arc_key *key, arc_object *got,
		    char **err);
int arc_store_remove(const arc_store *s, const char *sha);
size_t arc_store_clean_temps(const arc_store *s, int all);
int arc_store_each(const arc_store *s, arc_object_fn fn, void *ctx);

#endif
