// The stages an operation can fail at, numbered as protocol/Stage.ts lists them (the addon
// exports `stages`, and test/protocol.test.ts fails when the two lists differ).
#pragma once

#include <cstdint>

namespace linx {

enum class Stage : uint8_t {
  Read,
  OpenNs,
  Setns,
  OpenPidns,
  SetnsPid,
  Fork,
  OpenUserns,
  Unshare,
  Home,
  Resolve,
  Create,
  OpenTree,
  MountSetattr,
  MoveMount,
  Fsopen,
  Fsconfig,
  Fsmount,
  Fspick,
  Umount,
  PivotRoot,
  Verify,
  Statmount,
  MntnsId,
  FanotifyInit,
  FanotifyMark,
  WatchRead,
  WatchOverflow,
  Thread,
};

constexpr const char* kStageNames[] = {
    "read",     "open_ns",       "setns",      "open_pidns", "setns_pid", "fork",   "open_userns", "unshare",
    "home",     "resolve",       "create",     "open_tree",  "mount_setattr", "move_mount", "fsopen", "fsconfig",
    "fsmount",  "fspick",        "umount",     "pivot_root", "verify",    "statmount", "mntns_id", "fanotify_init",
    "fanotify_mark", "watch_read", "watch_overflow", "thread",
};

constexpr unsigned kStageCount = sizeof kStageNames / sizeof kStageNames[0];
static_assert(kStageCount == static_cast<unsigned>(Stage::Thread) + 1, "one name per stage");

}  // namespace linx
