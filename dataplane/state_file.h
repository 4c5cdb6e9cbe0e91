/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoder state across restarts (config `state`): each worker's decoder
 * state (decoders/decode.h, nm_decoder_state_*) in the file PATH.<worker>,
 * loaded at start-up and written at shutdown, atomically.
 */
#ifndef NM_STATE_FILE_H
#define NM_STATE_FILE_H

#include "config.h"
#include "worker.h"

/*
 * Preflight (start-up and --check): the directory of cfg->state_path exists
 * and this process may create files in it. 0, or -1 with the reason in err.
 */
int nm_state_file_check(const struct nm_config *cfg, char *err, size_t errlen);

/*
 * Loads worker w's state from cfg->state_path.<id> into its fresh decoder.
 * One line on stderr says what happened: loaded (exporters, templates, age),
 * no file, or refused with its reason ("starting clean"). Never fails the
 * start: without a usable file the decoder starts empty.
 */
void nm_state_file_load(struct nm_worker *w, const struct nm_config *cfg);

/*
 * Writes worker w's decoder state to cfg->state_path.<id>: PATH.<id>.tmp,
 * fsync, rename over PATH.<id>, fsync of the directory; a crash at any
 * point leaves the old file or the new one, never a mix. Call it when the
 * worker no longer runs. Returns 0, or -1 with the reason on stderr.
 */
int nm_state_file_save(const struct nm_worker *w, const struct nm_config *cfg);

/*
 * Writes out the snapshot worker w made while running (state.interval;
 * nm_worker_state_snapshot), if there is one, the same way, and hands the
 * buffer back. Called by the stats thread, so that a worker never waits on
 * the disk. A failure is said once; the shutdown save reports again.
 */
void nm_state_file_flush(struct nm_worker *w, const struct nm_config *cfg);

#endif
