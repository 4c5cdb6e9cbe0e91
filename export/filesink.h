/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * File sink: rotating files of zstd frames; each frame decompresses to
 * exactly what a Kafka message value holds (many length-delimited
 * FlowMessage records), so `zstd -dc FILE` is a length-delimited stream.
 * Files are written as NAME.tmp and renamed to
 *   flows-YYYYmmddTHHMMSS.uuuuuuZ-PID-SEQ.pb.zst
 * when rotated (by size or age) or at shutdown, so readers only see whole
 * files. Interface counters go to counters-....pb.zst files likewise.
 */
#ifndef NM_FILESINK_H
#define NM_FILESINK_H

#include <stdio.h>

#include "config.h"
#include "worker.h"

struct nm_filesink;

struct nm_filesink *nm_filesink_open(const struct nm_cfg_sink *cfg, char *err, size_t errlen);
void nm_filesink_write(struct nm_filesink *s, const struct nm_batch *b);
void nm_filesink_idle(struct nm_filesink *s);
void nm_filesink_close(struct nm_filesink *s);
void nm_filesink_print(const struct nm_filesink *s, const char *prefix, FILE *o);
void nm_filesink_free(struct nm_filesink *s);

#endif
