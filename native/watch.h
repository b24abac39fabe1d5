// Mount watches: the setup of a fanotify group marked for one mount namespace's mount
// events, and a poller that waits for them (or for mountinfo's POLLPRI, the fallback) on the
// main event loop. No threads, no queues: a uv_poll_t on the loop of the calling
// environment, non-blocking reads, and a JavaScript callback when the descriptor is ready.
#pragma once

#include <napi.h>

#include <cstdint>

#include "stages.h"

namespace linx {

// What a setup step reports: the stage that failed and its errno (0: it did not).
struct WatchFailure {
  Stage stage = Stage::Thread;
  int errnum = 0;
};

// The fanotify setup, synchronous, run by a worker at home (runBatch's Watch op): reads the
// id of the mount namespace `nsFd` (an nsfs file the caller opened and checked; borrowed),
// creates a FAN_REPORT_MNT group (FAN_CLOEXEC | FAN_NONBLOCK) and marks the namespace for
// FAN_MNT_ATTACH | FAN_MNT_DETACH. On success *fd is the group's descriptor (the caller
// owns it; descriptors are process-wide) and *nsId the namespace's id. The mark does not pin
// the namespace: it dies with its last process. Stages: mntns_id, fanotify_init,
// fanotify_mark.
WatchFailure openMountWatch(int nsFd, int* fd, uint64_t* nsId);

// The JavaScript object exported as `watch`:
//   openMountInfo(path: string): { fd: number } | { stage: "read", errno } — the fallback's
//     setup: a mountinfo file, which the kernel marks POLLPRI after every change to that
//     table (procfs: opening it never waits).
//   Poller: new (fd, kind: 0 fanotify | 1 mountinfo, nsId: bigint, onReady: (errno) => void)
//     .arm(): fanotify: waits once for the descriptor to be readable (onReady(0), then
//       disarmed); mountinfo: starts polling for POLLPRI for good (onReady(0) at each
//       change: re-registering would lose one, see onPoll). onReady(errno) when polling
//       failed (then disarmed). Ref'd while armed: an armed poller keeps the process alive.
//     .read(maxEvents): fanotify events as records (see watch.cc), or { stage, errno }.
//     .close(): stops polling and closes the descriptor; idempotent.
//   uniqueMountId(path: string): bigint | { stage: "statx", errno } — STATX_MNT_ID_UNIQUE of
//     what `path` names, without following a final symlink or triggering an automount.
Napi::Object DefineWatch(Napi::Env env);

}  // namespace linx
