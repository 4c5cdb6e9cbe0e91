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

#include "output.h"

#define NM_FILESINK_COUNTERS(X)                                                               \
	X(records, "records written in frames")                                              \
	X(frames, "zstd frames written")                                                     \
	X(files, "files finished (renamed from .tmp)")                                       \
	X(write_errors, "frames, closes or renames that failed")                             \
	X(records_lost, "records lost (write error, or no memory)")

/*
 * The file output (see output.h). open creates the directory when it is
 * missing (not its parents) and fails unless it is a directory it may
 * write in; counters gives NM_FILESINK_COUNTERS.
 */
extern const struct nm_output_ops nm_filesink_ops;

#endif
