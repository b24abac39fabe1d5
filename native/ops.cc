// The syscalls themselves. Every failure is reported as a stage and an errno; nothing here
// throws, allocates after a fork, or leaves a descriptor open.
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

// Raw syscalls rather than glibc's wrappers (2.36+), so one prebuild loads on older
// distributions too.
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

namespace linx {

namespace {

const char* orNull(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

// Closes a descriptor on every path out of a scope.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int retryOpen(int dirfd, const char* path, int flags, mode_t mode = 0) {
  int fd;
  do fd = openat(dirfd, path, flags, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

// A namespace file is only trusted if it lives on nsfs and has the expected type: a
// tmpfs mounted over /proc/<pid>/ns, a FIFO or a regular file is refused, never entered.
// O_NONBLOCK keeps a FIFO from blocking the open forever.
int openNamespace(int dirfd, const char* path, int nstype) {
  int fd = retryOpen(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -errno;
  struct statfs fs;
  if (fstatfs(fd, &fs) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  if (static_cast<unsigned long>(fs.f_type) != NSFS_MAGIC) {
    close(fd);
    return -EINVAL;
  }
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type != nstype) {
    close(fd);
    return -EINVAL;
  }
  return fd;
}

// The mount id of what `path` names from `dirfd` (0 when the kernel cannot tell, before
// 5.8), never triggering an automount; 0 or an errno.
int statMountId(int dirfd, const char* path, int flags, uint64_t* id) {
  struct statx stx;
  if (statx(dirfd, path, flags | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) < 0) return errno;
  *id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
  return 0;
}

// The mount id of what `fd` refers to; 0 or an errno.
int mountIdOf(int fd, uint64_t* id) { return statMountId(fd, "", AT_EMPTY_PATH, id); }

// /proc, /proc/<pid> and /proc/<pid>/ns must be one procfs mount. A tmpfs mounted over
// /proc/<pid>/ns could hold a symlink `mnt` to another process's namespace (which is nsfs
// of the right type), and a bind of /proc/1/ns over it names pid 1's namespaces: either
// way the request would land in the wrong namespace. Refused with EINVAL, like any other
// file that is not the namespace asked for (found by test/faults.test.ts).
int checkProcNotOvermounted(int procFd, int pidDirFd, int nsDirFd) {
  struct statfs fs;
  if (fstatfs(procFd, &fs) < 0) return errno;
  if (static_cast<unsigned long>(fs.f_type) != PROC_SUPER_MAGIC) return EINVAL;
  uint64_t proc = 0, pidDir = 0, nsDir = 0;
  int e = mountIdOf(procFd, &proc);
  if (e == 0) e = mountIdOf(pidDirFd, &pidDir);
  if (e == 0) e = mountIdOf(nsDirFd, &nsDir);
  if (e != 0) return e;
  if (pidDir != proc || nsDir != proc) return EINVAL;
  return 0;
}

// Creates an empty file at target if nothing is there: the placeholder a device node is
// bound onto in a fresh /dev tmpfs. Runs inside the target namespace, so the file lands on
// the container's filesystem, not on the directory underneath it.
int ensurePlaceholder(const char* target) {
  struct stat st;
  if (lstat(target, &st) == 0) return 0;
  if (errno != ENOENT) return errno;
  int fd = retryOpen(AT_FDCWD, target, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) return errno == EEXIST ? 0 : errno;
  close(fd);
  return 0;
}

// The bind follow-up keeps the per-mount flags the bind inherited (as mount(8) does):
// remounting MS_BIND|MS_RDONLY alone would clear nosuid/nodev/noexec, or fail with EPERM
// where they are locked.
unsigned long inheritedFlags(const char* target) {
  struct statvfs sv;
  if (statvfs(target, &sv) < 0) return 0;
  unsigned long flags = 0;
  if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

// The follow-up of a bind: make it read-only (or nosuid, …) as asked, or undo it.
Outcome followUp(const Op& op) {
  const char* target = op.target.c_str();
  if (op.remountFlags == 0) return {};
  unsigned long flags = MS_REMOUNT | MS_BIND | op.remountFlags | inheritedFlags(target);
  if (mount(nullptr, target, nullptr, flags, nullptr) == 0) return {};
  int err = errno;
  // Mounted, but the follow-up failed: undo the bind so the caller is never left with a
  // writable mount it asked to be read-only.
  if (umount2(target, MNT_DETACH) < 0) return {"undo", err};
  return {"remount", err};
}

// Attaches the detached copy of the source (made at home) at target, in this namespace.
Outcome attachTree(const Op& op, int treeFd) {
  if (syscall(SYS_move_mount, treeFd, "", AT_FDCWD, op.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return {"mount", errno};
  return followUp(op);
}

Outcome mountWithFollowUp(const Op& op) {
  const char* target = op.target.c_str();
  // For a bind or a move the source is a path, but the kernel copies it like a device name
  // (strndup_user, PATH_MAX) and says EINVAL when it is longer. Say what path lookup says
  // of any path that long, as it does for the target (found by test/hostile.test.ts).
  if ((op.flags & (MS_BIND | MS_MOVE)) && op.source.size() >= PATH_MAX) return {"mount", ENAMETOOLONG};
  if (mount(orNull(op.source), target, orNull(op.fstype), op.flags, orNull(op.data)) < 0)
    return {"mount", errno};
  return followUp(op);
}

struct ChildMount {
  const Op* op;
  int err;
};

// Runs in the CLONE_VM|CLONE_VFORK child, which shares our memory while we are suspended:
// only the raw syscall, no allocation, no locks. All signals are blocked on the private
// thread, so no handler can run here.
int childMount(void* arg) {
  auto* c = static_cast<ChildMount*>(arg);
  const Op& op = *c->op;
  long r = syscall(SYS_mount, orNull(op.source), op.target.c_str(), orNull(op.fstype), op.flags,
                   orNull(op.data));
  c->err = r < 0 ? errno : 0;
  return 0;
}

// proc binds to the PID namespace of the task that mounts it, and setns(CLONE_NEWPID) only
// moves this thread's future children, so a child performs the mount. A vfork-style child
// costs the same whatever the size of this process; fork() would copy its page tables.
Outcome mountInPidNamespace(const Op& op, int pidnsFd, const Home& home, bool* lostHome) {
  if (setns(pidnsFd, CLONE_NEWPID) < 0) return {"setns_pid", errno};
  ChildMount child{&op, 0};
  char* stackTop = static_cast<char*>(home.cloneStack) + home.cloneStackSize;
  // Exit signal 0: no SIGCHLD reaches Node's handler; reaped with __WALL below.
  pid_t pid = clone(childMount, stackTop, CLONE_VM | CLONE_VFORK, &child);
  int cloneErr = errno;
  Outcome out;
  if (pid < 0) {
    out = {"fork", cloneErr};
  } else {
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, __WALL);
    while (r < 0 && errno == EINTR);
    if (child.err != 0) out = {"mount", child.err};
    else if (!WIFEXITED(status)) out = {"fork", ECHILD};
  }
  if (setns(home.pidFd, CLONE_NEWPID) < 0) *lostHome = true;
  return out;
}

Outcome runBody(const Op& op, int pidnsFd, int treeFd, const Home* home, bool* lostHome) {
  switch (op.kind) {
    case OpKind::Mount: {
      if (op.create) {
        int e = ensurePlaceholder(op.target.c_str());
        if (e != 0) return {"create", e};
      }
      if (treeFd >= 0) return attachTree(op, treeFd);
      if (pidnsFd >= 0) return mountInPidNamespace(op, pidnsFd, *home, lostHome);
      return mountWithFollowUp(op);
    }
    case OpKind::Umount:
      if (umount2(op.target.c_str(), static_cast<int>(op.flags)) < 0) return {"umount", errno};
      return {};
    case OpKind::PivotRoot: {
      // pivot_root wants the caller's cwd inside new_root; this thread's fs_struct is its
      // own, so the process's cwd is untouched.
      if (chdir(op.target.c_str()) < 0) return {"chdir", errno};
      Outcome out;
      if (syscall(SYS_pivot_root, op.target.c_str(), op.putOld.c_str()) < 0)
        out = {"pivot_root", errno};
      if (chdir("/") < 0) *lostHome = true;
      return out;
    }
  }
  return {"mount", EINVAL};
}


// ---- staying in a process's namespace between ops ----------------------------------------

// Bumped whenever an op may have changed what "/" is in some namespace (a mount stacked on
// it, or the mount under it detached). A thread that stays in a namespace keeps the root it
// got when it entered, while a fresh setns lands on the top mount: after such an op, every
// thread that stays goes home and enters afresh.
std::atomic<uint64_t> rootMoves{0};

// The mount id of what `path` names here, or 0 when it cannot be told.
uint64_t mountIdAt(const char* path, int flags) {
  uint64_t id = 0;
  return statMountId(AT_FDCWD, path, flags, &id) == 0 ? id : 0;
}

// The inode of the mount namespace a pinned /proc/<pid>/ns names ("mnt:[4026531841]"),
// read from the link without opening it: opening an nsfs file costs more than a bind.
// 0 when the process is gone.
unsigned long linkedMountNamespace(int nsDirFd) {
  char buf[64];
  ssize_t n = readlinkat(nsDirFd, "mnt", buf, sizeof buf - 1);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long inode = 0;
  if (std::sscanf(buf, "mnt:[%lu]", &inode) != 1) return 0;
  return inode;
}

// True when `op` can run where the thread is: for the same process, still in the namespace
// entered, with the same "/" a fresh setns would give, and nothing to look up at home.
bool canStayFor(const Home& home, const Op& op) {
  return op.ns == NsKind::Pid && op.pid == home.awayPid && !op.sourceFromHome &&
         op.kind != OpKind::PivotRoot && rootMoves.load() == home.awayEpoch &&
         linkedMountNamespace(home.awayNsDirFd) == home.awayNsInode;
}

// Propagation changes and remounts never move a mount.
constexpr unsigned long kInPlaceFlags = MS_REMOUNT | MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

// Runs an op in the namespace the thread stays in. An op that may have stacked a mount on
// "/" or detached the mount under it (when it cannot be told: any failed lookup) sends
// every staying thread home.
Outcome runAway(const Op& op, int pidnsFd, int treeFd, Home* home, bool* lostHome) {
  const char* target = op.target.c_str();
  bool rootMoved = false;
  if (op.kind == OpKind::Umount) {
    uint64_t id = mountIdAt(target, (op.flags & UMOUNT_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0);
    rootMoved = id == 0 || id == home->awayRootMountId;
  }
  Outcome out = runBody(op, pidnsFd, treeFd, home, lostHome);
  if (op.kind == OpKind::Umount) {
    rootMoved = rootMoved && !out.stage;
  } else if (op.kind == OpKind::Mount && !(op.flags & kInPlaceFlags) && !out.stage) {
    uint64_t id = mountIdAt(target, 0);
    rootMoved = id == 0 || id == home->awayRootMountId;
  } else if (out.stage && std::strcmp(out.stage, "undo") == 0) {
    rootMoved = true;  // a bind that could not be undone is still there
  }
  if (rootMoved) rootMoves.fetch_add(1);
  if (rootMoved || *lostHome) goHome(home, lostHome);
  return out;
}

}  // namespace

Outcome execute(const Op& op, Home* home, bool* lostHome) {
  if (home->away && !canStayFor(*home, op)) {
    int e = goHome(home, lostHome);
    if (e != 0) return {"setns", e};
  }
  if (home->away) {
    Fd pidns;
    if (op.pidns) {
      pidns.fd = openNamespace(home->awayNsDirFd, "pid", CLONE_NEWPID);
      if (pidns.fd < 0) return {"open_pidns", -pidns.fd};
    }
    return runAway(op, pidns.fd, -1, home, lostHome);
  }
  if (op.ns == NsKind::Self) return runBody(op, -1, -1, home, lostHome);

  // A source from home is copied here, before leaving: a detached tree that can be
  // attached in any namespace (the only way to bring a host directory into a container
  // whose root no longer shows it).
  Fd tree;
  if (op.sourceFromHome) {
    unsigned flags = OPEN_TREE_CLONE | O_CLOEXEC | ((op.flags & MS_REC) ? AT_RECURSIVE : 0);
    tree.fd = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, op.source.c_str(), flags));
    if (tree.fd < 0) return {"mount", errno};
  }

  // Pin the target: every namespace file of this request is opened through one
  // /proc/<pid> directory descriptor, so a pid that dies and is reused meanwhile cannot
  // redirect the request to another process.
  Fd mnt, pidns, nsDir;
  if (op.ns == NsKind::Pid) {
    char name[16];
    std::snprintf(name, sizeof name, "%d", op.pid);
    Fd proc(retryOpen(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (proc.fd < 0) return {"open_ns", errno};
    Fd procDir(retryOpen(proc.fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (procDir.fd < 0) return {"open_ns", errno};
    nsDir.fd = retryOpen(procDir.fd, "ns", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nsDir.fd < 0) return {"open_ns", errno};
    int e = checkProcNotOvermounted(proc.fd, procDir.fd, nsDir.fd);
    if (e != 0) return {"open_ns", e};
    mnt.fd = openNamespace(nsDir.fd, "mnt", CLONE_NEWNS);
    if (mnt.fd < 0) return {"open_ns", -mnt.fd};
    if (op.pidns) {
      pidns.fd = openNamespace(nsDir.fd, "pid", CLONE_NEWPID);
      if (pidns.fd < 0) return {"open_pidns", -pidns.fd};
    }
  } else {
    mnt.fd = openNamespace(AT_FDCWD, op.nsPath.c_str(), CLONE_NEWNS);
    if (mnt.fd < 0) return {"open_ns", -mnt.fd};
  }

  uint64_t epoch = rootMoves.load();
  if (setns(mnt.fd, CLONE_NEWNS) < 0) return {"setns", errno};
  // A process's namespace may be kept for the ops for it that follow (pivot_root, which
  // moves this thread's root, never).
  if (op.ns == NsKind::Pid && op.kind != OpKind::PivotRoot) {
    struct stat st;
    uint64_t root = 0;
    if (fstat(mnt.fd, &st) == 0 && (root = mountIdAt("/", 0)) != 0) {
      home->away = true;
      home->awayPid = op.pid;
      home->awayNsDirFd = nsDir.fd;
      nsDir.fd = -1;
      home->awayNsInode = st.st_ino;
      home->awayRootMountId = root;
      home->awayEpoch = epoch;
      return runAway(op, pidns.fd, tree.fd, home, lostHome);
    }
  }
  Outcome out = runBody(op, pidns.fd, tree.fd, home, lostHome);
  // Never stay in a foreign namespace: a thread that cannot get home is retired.
  if (setns(home->mntFd, CLONE_NEWNS) < 0) *lostHome = true;
  return out;
}

int goHome(Home* home, bool* lostHome) {
  if (!home->away) return 0;
  int e = setns(home->mntFd, CLONE_NEWNS) < 0 ? errno : 0;
  if (e != 0) *lostHome = true;
  close(home->awayNsDirFd);
  home->awayNsDirFd = -1;
  home->away = false;
  return e;
}

}  // namespace linx
