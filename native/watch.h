// Mount watches: the setup of a fanotify group marked for one mount namespace's mount
// events, and a poller that waits for them (or for mountinfo's POLLPRI, the fallback) on the
// main event loop. No threads, no queues: a uv_poll_t on the loop of the calling
// environment, non-blocking reads, and a JavaScript callback when the descriptor is ready.
#pragma once

#include <napi.h>

#include <cstdint>

namespace linx {

// What a setup step reports: the stage that failed and its errno, or stage == nullptr.
struct WatchFailure {
  const char* stage = nullptr;
  int errnum = 0;
};

// The whole fanotify setup, synchronous, for any thread (a worker's included; descriptors
// are process-wide): opens `nsPath`, checks it is an nsfs file of type CLONE_NEWNS, reads
// its id (NS_GET_MNTNS_ID), creates a FAN_REPORT_MNT group (FAN_CLOEXEC | FAN_NONBLOCK) and
// marks the namespace for FAN_MNT_ATTACH | FAN_MNT_DETACH. On success *fd is the group's
// descriptor (the caller owns it) and *nsId the namespace's id; the namespace file is closed
// either way, so the watch never keeps a dead namespace alive. Stages: "open_ns" (ENOENT,
// EINVAL for a file that is not a mount namespace), "mntns_id", "fanotify_init",
// "fanotify_mark".
WatchFailure openMountWatch(const char* nsPath, int* fd, uint64_t* nsId);

// The fallback's setup: opens a mountinfo file (O_RDONLY | O_CLOEXEC | O_NONBLOCK), which
// the kernel marks POLLPRI after every change to that table. Stage "read".
WatchFailure openMountInfoWatch(const char* path, int* fd);

// The JavaScript object exported as `watch`:
//   openMountWatch(nsPath: string): { fd: number, nsId: bigint } | { stage, errno }
//   openMountInfo(path: string): { fd: number } | { stage: "read", errno }
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
