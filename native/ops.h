// The syscall sequences behind each request, free of N-API so they can run on any thread.
#pragma once

#include <cstdint>
#include <string>

namespace linx {

enum class OpKind { Mount = 0, Umount = 1, PivotRoot = 2 };
enum class NsKind { Self = 0, Pid = 1, Path = 2 };

// One request, its strings owned here so the op can outlive the JavaScript call frame.
struct Op {
  OpKind kind = OpKind::Mount;
  NsKind ns = NsKind::Self;
  int pid = 0;              // NsKind::Pid
  std::string nsPath;       // NsKind::Path
  bool pidns = false;       // mount from inside pid's PID namespace (proc)
  bool create = false;      // create an empty placeholder file at target first
  // Bind whose source is looked up in the calling thread's home namespace, not in the
  // target's: open_tree(OPEN_TREE_CLONE) at home, then move_mount after setns.
  bool sourceFromHome = false;
  std::string source;       // "" -> NULL
  std::string target;
  std::string fstype;       // "" -> NULL
  std::string data;         // "" -> NULL
  unsigned long flags = 0;  // MS_* for mount, MNT_*/UMOUNT_* for umount
  // Non-zero for a bind that must become read-only (or nosuid/nodev/noexec): the per-mount
  // flags of the MS_REMOUNT|MS_BIND follow-up, which the kernel ignores on the bind itself.
  unsigned long remountFlags = 0;
  std::string putOld;       // pivot_root: target is new_root
};

// What failed, as a stage name and an errno; stage == nullptr means success.
struct Outcome {
  const char* stage = nullptr;
  int err = 0;
};

// The home namespaces of a pool thread, and where it is between ops. A thread that served
// a process's namespace stays there while the next ops are for the same process (entering
// a mount namespace costs more than a bind), and goes home before anything else: an op
// for another target, an op whose source is looked up at home, or waiting for work.
struct Home {
  int mntFd = -1;
  int pidFd = -1;
  void* cloneStack = nullptr;  // stack for the CLONE_VM|CLONE_VFORK child of proc mounts
  size_t cloneStackSize = 0;

  // While away: the process served, its pinned /proc/<pid>/ns directory, the namespace
  // entered (its inode) and the mount id of this thread's root there.
  bool away = false;
  int awayPid = 0;
  int awayNsDirFd = -1;
  unsigned long awayNsInode = 0;
  uint64_t awayRootMountId = 0;
  uint64_t awayEpoch = 0;  // see rootMoves in ops.cc
};

// Runs one op on a pool thread. Sets *lostHome when the thread could not return to its
// home mount namespace and must never serve another request.
Outcome execute(const Op& op, Home* home, bool* lostHome);

// Returns a thread that stayed in a foreign namespace to its home (nothing when at home).
// On failure sets *lostHome and returns the errno; 0 otherwise.
int goHome(Home* home, bool* lostHome);

}  // namespace linx
