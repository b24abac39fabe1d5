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

#include <climits>
#include <cstdint>
#include <cstdio>

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

// The mount id of what `fd` refers to, or 0 when the kernel cannot tell (before 5.8).
int mountIdOf(int fd, uint64_t* id) {
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0) return errno;
  *id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
  return 0;
}

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

}  // namespace

bool needsPrivateThread(const Op& op) {
  return op.ns != NsKind::Self || op.pidns || op.kind == OpKind::PivotRoot;
}

Outcome execute(const Op& op, const Home* home, bool* lostHome) {
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
  Fd mnt, pidns;
  if (op.ns == NsKind::Pid) {
    char name[16];
    std::snprintf(name, sizeof name, "%d", op.pid);
    Fd proc(retryOpen(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (proc.fd < 0) return {"open_ns", errno};
    Fd procDir(retryOpen(proc.fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (procDir.fd < 0) return {"open_ns", errno};
    Fd nsDir(retryOpen(procDir.fd, "ns", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
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

  if (setns(mnt.fd, CLONE_NEWNS) < 0) return {"setns", errno};
  Outcome out = runBody(op, pidns.fd, tree.fd, home, lostHome);
  // Never stay in a foreign namespace: a thread that cannot get home is retired.
  if (setns(home->mntFd, CLONE_NEWNS) < 0) *lostHome = true;
  return out;
}

}  // namespace linx
