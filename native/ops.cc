// The syscalls behind each op. Every failure is reported as a stage and an errno; nothing
// here throws, allocates in the vfork child, or leaves a descriptor open.
//
// Paths inside another namespace are looked up once, with openat2(2) from that namespace's
// root (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), and the syscalls then work on the
// descriptors: a symlink the namespace's owner planted, or swapped in meanwhile, can never
// lead outside its root. Binds are copies of the source tree (open_tree) that get their
// attributes while still detached (mount_setattr) and are attached once (move_mount): there
// is never a writable instant, and never a second lookup of the target.
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "syscalls.h"
#include "watch.h"

#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x00000008
#endif

namespace linx {

namespace {

using namespace sys;

// Which of an op's paths an outcome is about; the main thread names it in the error.
enum Subject : uint8_t { kTarget = 0, kSource = 1, kNamespace = 2, kPidNamespace = 3, kUserNamespace = 4 };

// Closes a descriptor on every path out of a scope.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& other) noexcept : fd(other.fd) { other.fd = -1; }
  Fd& operator=(Fd&& other) noexcept {
    reset(other.fd);
    other.fd = -1;
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) close(fd);
    fd = f;
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

int retryOpen(int dirfd, const char* path, int flags, mode_t mode = 0) {
  int fd;
  do fd = openat(dirfd, path, flags, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

OpOutcome done(uint64_t uniqueId = 0) {
  OpOutcome o;
  o.status = Status::Done;
  o.uniqueId = uniqueId;
  return o;
}

OpOutcome failed(Stage stage, int err, Subject subject = kTarget, std::string message = {}) {
  OpOutcome o;
  o.status = Status::Failed;
  o.stage = stage;
  o.err = err;
  o.subject = subject;
  o.message = std::move(message);
  return o;
}

// ---- the thread's home -----------------------------------------------------------------

constexpr size_t kCloneStackSize = 64 * 1024;

// What a worker thread returns to after every batch: its namespaces, root and working
// directory, opened once; and the stack of the vfork-style child of proc mounts. Freed when
// the thread exits (piscina replaces workers; fds must not pile up over generations).
struct Home {
  bool ready = false;
  bool retired = false;  // could not get home once: never runs another batch
  int mnt = -1;
  int pid = -1;
  int user = -1;
  int root = -1;
  int cwd = -1;
  int procFds = -1;  // our procfs's /proc/self/fd: the way to hand a descriptor to a path syscall
  int proc = -1;     // our /proc (procfs, checked), through which targets are pinned
  uint64_t procMount = 0;  // its mount's id
  dev_t mntDev = 0;        // our mount namespace's file, to tell a target's from ours
  ino_t mntIno = 0;
  void* stack = nullptr;

  ~Home() { clear(); }
  void clear() {
    for (int* fd : {&mnt, &pid, &user, &root, &cwd, &procFds, &proc}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    if (stack != nullptr) munmap(stack, kCloneStackSize);
    stack = nullptr;
    ready = false;
  }
};

thread_local Home home;

// setns(CLONE_NEWNS) refuses a thread that shares its fs_struct, and chdir must never move
// the process's working directory: the thread gets an fs_struct of its own (a no-op once it
// has one; re-done every batch, so nothing depends on when the thread first ran). Then the
// home descriptors, once.
int prepareHome(Stage* stage) {
  if (unshare(CLONE_FS) < 0) {
    *stage = Stage::Unshare;
    return errno;
  }
  if (home.ready) return 0;
  home.clear();
  struct Opening {
    int* fd;
    const char* path;
    int flags;
    Stage stage;
  };
  const Opening openings[] = {
      {&home.mnt, "/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC, Stage::OpenNs},
      {&home.pid, "/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC, Stage::OpenPidns},
      {&home.user, "/proc/thread-self/ns/user", O_RDONLY | O_CLOEXEC, Stage::OpenUserns},
      {&home.root, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, Stage::Home},
      {&home.cwd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, Stage::Home},
      {&home.procFds, "/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC, Stage::Home},
      {&home.proc, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC, Stage::OpenNs},
  };
  for (const Opening& o : openings) {
    *o.fd = retryOpen(AT_FDCWD, o.path, o.flags);
    if (*o.fd < 0) {
      *stage = o.stage;
      int e = errno;
      home.clear();
      return e;
    }
  }
  struct statfs fs, procFs;
  struct stat mntStat;
  if (fstatfs(home.procFds, &fs) < 0 || static_cast<unsigned long>(fs.f_type) != PROC_SUPER_MAGIC ||
      fstatfs(home.proc, &procFs) < 0 || static_cast<unsigned long>(procFs.f_type) != PROC_SUPER_MAGIC ||
      mountIdOf(home.proc, "", AT_EMPTY_PATH, &home.procMount) != 0 || fstat(home.mnt, &mntStat) < 0) {
    *stage = Stage::Home;
    home.clear();
    return EINVAL;
  }
  home.mntDev = mntStat.st_dev;
  home.mntIno = mntStat.st_ino;
  void* stack = mmap(nullptr, kCloneStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    *stage = Stage::Home;
    int e = errno;
    home.clear();
    return e;
  }
  home.stack = stack;
  home.ready = true;
  return 0;
}

// Every signal blocked while a batch runs: no handler of Node's runs on this thread, no
// syscall sees EINTR, and the vfork-style child inherits the same mask.
struct SignalsBlocked {
  sigset_t previous;
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous, nullptr); }
};

// ---- namespace files -------------------------------------------------------------------

// Pins a process: its /proc/<pid>/ns directory, through which every namespace file of the
// request is opened, so that a pid that dies and is reused meanwhile cannot redirect it.
// /proc (checked procfs at home), /proc/<pid> and /proc/<pid>/ns must be one procfs mount: a
// tmpfs over /proc/<pid>/ns could hold a symlink `mnt` to another process's namespace, and a
// bind of /proc/1/ns over it names pid 1's namespaces. Refused with EINVAL.
int pinProcess(uint32_t pid, Fd* nsDir) {
  char name[16];
  std::snprintf(name, sizeof name, "%u", pid);
  Fd procDir(retryOpen(home.proc, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (procDir.fd < 0) return errno;
  nsDir->reset(retryOpen(procDir.fd, "ns", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (nsDir->fd < 0) return errno;
  uint64_t pidDir = 0, ns = 0;
  int e = mountIdOf(procDir.fd, "", AT_EMPTY_PATH, &pidDir);
  if (e == 0) e = mountIdOf(nsDir->fd, "", AT_EMPTY_PATH, &ns);
  if (e != 0) return e;
  return pidDir == home.procMount && ns == home.procMount ? 0 : EINVAL;
}

// One namespace file of a pinned process; the fd or -errno. A process reaped between the
// lookup of `name` and its open leaves the kernel no task to check access against, and it
// answers EACCES: said as ESRCH when its /proc directory no longer shows the process.
int openProcessNamespace(int nsDir, const char* name, int nstype) {
  int fd = openNamespace(nsDir, name, nstype);
  if (fd != -EACCES) return fd;
  struct stat st;
  if (fstatat(nsDir, "../stat", &st, 0) < 0 && (errno == ESRCH || errno == ENOENT)) return -ESRCH;
  return fd;
}

// The namespace a reference names, opened at home; -errno on failure, and -EBADF for None.
int openRef(const Ref& ref, int targetNsDir, const char* name, int nstype, int own) {
  switch (ref.kind) {
    case RefKind::None:
      return -EBADF;
    case RefKind::Own: {
      int fd = fcntl(own, F_DUPFD_CLOEXEC, 0);
      return fd < 0 ? -errno : fd;
    }
    case RefKind::Target:
      if (targetNsDir < 0) return -EINVAL;
      return openProcessNamespace(targetNsDir, name, nstype);
    case RefKind::Pid: {
      Fd nsDir;
      int e = pinProcess(ref.pid, &nsDir);
      if (e != 0) return -e;
      return openProcessNamespace(nsDir.fd, name, nstype);
    }
    case RefKind::Path:
      return openNamespace(AT_FDCWD, ref.path.c_str(), nstype);
  }
  return -EINVAL;
}

// ---- paths ------------------------------------------------------------------------------

// Where a batch runs. In another namespace, every path is looked up from its root.
struct Context {
  bool foreign = false;
  Fd root;  // the namespace's root (foreign only)
  bool cwdMoved = false;
  bool pivoted = false;
};

// `path` opened O_PATH (flags may add O_DIRECTORY, O_NOFOLLOW): inside the namespace's root
// for another namespace, as the kernel would look it up for ours. The fd or -errno.
int resolve(const Context& c, const std::string& path, int flags) {
  OpenHow how;
  how.flags = static_cast<uint64_t>(O_PATH | O_CLOEXEC | flags);
  how.resolve = c.foreign ? (kResolveInRoot | kResolveNoMagiclinks) : 0;
  for (int attempt = 0; attempt < 32; attempt++) {
    int fd = sys::openat2(c.foreign ? c.root.fd : AT_FDCWD, path.c_str(), how);
    if (fd >= 0) return fd;
    // EAGAIN: a rename raced a ".." inside the root and the kernel could not tell where it
    // stayed; looking up again is the documented answer.
    if (errno != EAGAIN && errno != EINTR) return -errno;
  }
  return -EAGAIN;
}

// The directory holding `path`'s last component, opened inside the root, and that component.
// With `follow`, a final symlink is followed here, one hop at a time and each hop looked up
// inside the root again, so the syscall that takes the result never follows one itself.
struct Parent {
  Fd dir;
  std::string name;
};

int resolveParent(const Context& c, std::string path, bool follow, Parent* out) {
  for (int hops = 0; hops <= 40; hops++) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (name.empty() || name == "." || name == "..") {
      // No last component to stand on ("/", "x/.."): the directory itself.
      int fd = resolve(c, path, O_DIRECTORY);
      if (fd < 0) return -fd;
      out->dir.reset(fd);
      out->name = ".";
      return 0;
    }
    int fd = resolve(c, dir, O_DIRECTORY);
    if (fd < 0) return -fd;
    struct stat st;
    if (follow && fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      char link[PATH_MAX];
      ssize_t n = readlinkat(fd, name.c_str(), link, sizeof link);
      int e = errno;
      close(fd);
      if (n < 0) return e;
      if (static_cast<size_t>(n) >= sizeof link) return ENAMETOOLONG;
      std::string target(link, static_cast<size_t>(n));
      path = target[0] == '/' ? target : dir + "/" + target;
      continue;
    }
    out->dir.reset(fd);
    out->name = std::move(name);
    return 0;
  }
  return ELOOP;
}

// A path that names an open descriptor for the syscalls that only take paths (umount2,
// pivot_root): relative to our own procfs's fd directory, made the thread's working
// directory first, so the lookup never passes through anything of the namespace's.
int enterProcFds(Context& c) {
  if (!c.cwdMoved) {
    if (fchdir(home.procFds) < 0) return errno;
    c.cwdMoved = true;
  }
  return 0;
}

std::string viaFd(int fd, const std::string& name) {
  std::string path = std::to_string(fd);
  if (name != ".") path += "/" + name;
  return path;
}

// Makes the mount point when nothing is there: a directory, or an empty file (the target of
// a device node's bind), never through a symlink.
int makeMountPoint(const Context& c, const std::string& target, bool directory) {
  Parent p;
  int e = resolveParent(c, target, false, &p);
  if (e != 0) return e;
  if (p.name == ".") return 0;
  if (directory) {
    if (mkdirat(p.dir.fd, p.name.c_str(), 0755) < 0 && errno != EEXIST) return errno;
    return 0;
  }
  int fd = openat(p.dir.fd, p.name.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                  0644);
  if (fd < 0) return errno == EEXIST ? 0 : errno;
  close(fd);
  return 0;
}

// ---- new filesystems --------------------------------------------------------------------

// The messages the kernel logged on a filesystem context ("e tmpfs: Bad value for 'size'"),
// without their level prefix, joined.
std::string kernelLog(int fsfd) {
  std::string out;
  char buf[1024];
  for (int i = 0; i < 16; i++) {
    ssize_t n = read(fsfd, buf, sizeof buf);
    if (n <= 0) break;
    std::string line(buf, static_cast<size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\0')) line.pop_back();
    if (line.size() > 2 && line[1] == ' ') line.erase(0, 2);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

OpOutcome configFailure(int fsfd) {
  int e = errno;
  return failed(Stage::Fsconfig, e, kTarget, kernelLog(fsfd));
}

// Sets each flag and each option (`key` or `key=value`, split at the first `=` as mount(2)'s
// own parser does) on a filesystem context; false with errno set on the first refusal.
bool configure(int fsfd, const std::vector<std::string>& flags, const std::vector<std::string>& options) {
  for (const std::string& flag : flags) {
    if (sys::fsconfig(fsfd, kFsconfigSetFlag, flag.c_str(), nullptr, 0) < 0) return false;
  }
  for (const std::string& option : options) {
    size_t eq = option.find('=');
    int r = eq == std::string::npos
                ? sys::fsconfig(fsfd, kFsconfigSetFlag, option.c_str(), nullptr, 0)
                : sys::fsconfig(fsfd, kFsconfigSetString, option.substr(0, eq).c_str(), option.c_str() + eq + 1, 0);
    if (r < 0) return false;
  }
  return true;
}

struct FsopenChild {
  const char* fstype;
  int fd;
  int err;
};

// Runs in the CLONE_VM | CLONE_VFORK | CLONE_FILES child, which shares our memory and our
// descriptors while we are suspended: one raw syscall, no allocation, no locks.
int fsopenInChild(void* arg) {
  auto* c = static_cast<FsopenChild*>(arg);
  long r = syscall(kFsopen, c->fstype, kFsopenCloexec);
  if (r < 0) c->err = errno;
  else c->fd = static_cast<int>(r);
  return 0;
}

// A filesystem context created inside the PID namespace `pidns`: proc takes the PID
// namespace of the task that creates its context, and setns(CLONE_NEWPID) only moves this
// thread's future children, so a child creates it. A vfork-style child costs the same
// whatever the size of this process; fork() would copy its page tables.
int fsopenInPidNamespace(const char* fstype, int pidns, Stage* stage, bool* lostHome) {
  if (setns(pidns, CLONE_NEWPID) < 0) {
    *stage = Stage::SetnsPid;
    return -errno;
  }
  FsopenChild child{fstype, -1, 0};
  char* stackTop = static_cast<char*>(home.stack) + kCloneStackSize;
  // Exit signal 0: no SIGCHLD reaches Node's handler; reaped with __WALL below.
  pid_t pid = clone(fsopenInChild, stackTop, CLONE_VM | CLONE_VFORK | CLONE_FILES, &child);
  int cloneErr = errno;
  int result;
  if (pid < 0) {
    *stage = Stage::Fork;
    result = -cloneErr;
  } else {
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, __WALL);
    while (r < 0 && errno == EINTR);
    if (child.fd >= 0) {
      result = child.fd;
    } else {
      *stage = child.err != 0 ? Stage::Fsopen : Stage::Fork;
      result = -(child.err != 0 ? child.err : ECHILD);
    }
  }
  if (setns(home.pid, CLONE_NEWPID) < 0) *lostHome = true;
  return result;
}

// ---- what a rolled-back batch undoes ----------------------------------------------------

struct SavedAttributes {
  uint64_t id = 0;
  uint64_t attr = 0;
  uint64_t propagation = 0;
  std::string mountPoint;
};

struct UndoPlan {
  enum class Kind { Impossible, Detach, MoveBack, Restore } kind = Kind::Impossible;
  std::string reason = "nothing can undo it";
  std::string path;    // Detach: where it was attached; MoveBack: where it went
  std::string origin;  // MoveBack: where it came from
  uint64_t id = 0;
  bool propagation = false;  // Restore: the op changed propagation too
  std::vector<SavedAttributes> saved;
};

// Mount `id`'s attributes, propagation and mount point, by statmount(2); `buf` grows to fit.
int statAttributes(uint64_t id, std::vector<uint64_t>& buf, SavedAttributes* out) {
  MountIdRequest req;
  req.mountId = id;
  req.param = kStatmountMntBasic | kStatmountMntPoint;
  long r;
  while ((r = sys::statmount(req, buf.data(), buf.size() * 8)) < 0 && errno == EOVERFLOW)
    buf.resize(buf.size() * 2);
  if (r < 0) return errno;
  const auto* sm = reinterpret_cast<const Statmount*>(buf.data());
  out->id = id;
  out->attr = sm->mnt_attr;
  out->propagation = sm->mnt_propagation;
  if (sm->mask & kStatmountMntPoint) out->mountPoint = sm->str + sm->mnt_point;
  return 0;
}

// The attributes and propagation of mount `id` — and, with `recursive`, of every mount below
// it — as statmount(2) reports them, before a change that may have to be undone.
int saveAttributes(uint64_t id, bool recursive, std::vector<SavedAttributes>* out) {
  std::vector<uint64_t> ids{id};
  if (recursive) {
    uint64_t page[512];
    MountIdRequest req;
    req.mountId = id;
    for (;;) {
      long n = sys::listmount(req, page, 512);
      if (n < 0) return errno;
      ids.insert(ids.end(), page, page + n);
      if (n < 512) break;
      req.param = page[n - 1];
    }
  }
  std::vector<uint64_t> buf(1024);
  for (uint64_t each : ids) {
    SavedAttributes saved;
    int e = statAttributes(each, buf, &saved);
    if (e != 0) return e;
    out->push_back(std::move(saved));
  }
  return 0;
}

// ---- the ops ----------------------------------------------------------------------------

// What an op needs from home, opened before the thread leaves it; `settled` when that
// already decided its outcome (a failure, or a watch, which is all done at home).
struct Prepared {
  Fd pidns;   // Mount: the PID namespace of a proc filesystem
  Fd userns;  // Bind: the user namespace of an idmap
  Fd tree;    // Bind: the source, copied at home
  bool settled = false;
  OpOutcome outcome;
};

OpOutcome attach(const Context& c, const Op& op, int mountFd, UndoPlan* plan) {
  Fd target(resolve(c, op.target, 0));
  if (target.fd < 0) return failed(Stage::Resolve, -target.fd);
  if (moveMount(mountFd, "", target.fd, "", kMoveFromEmptyPath | kMoveToEmptyPath) < 0)
    return failed(Stage::MoveMount, errno);
  uint64_t id = 0;
  mountIdOf(mountFd, "", AT_EMPTY_PATH, &id);
  if (plan != nullptr) {
    plan->kind = UndoPlan::Kind::Detach;
    plan->path = op.target;
    plan->id = id;
  }
  return done(id);
}

OpOutcome mountNew(Context& c, const Op& op, Prepared& p, UndoPlan* plan, bool* lostHome) {
  if (op.create) {
    int e = makeMountPoint(c, op.target, true);
    if (e != 0) return failed(Stage::Create, e);
  }
  Fd fs;
  if (p.pidns.fd >= 0) {
    Stage stage = Stage::Fsopen;
    int fd = fsopenInPidNamespace(op.fstype.c_str(), p.pidns.fd, &stage, lostHome);
    if (fd < 0) return failed(stage, -fd, stage == Stage::SetnsPid ? kPidNamespace : kTarget);
    fs.reset(fd);
  } else {
    fs.reset(sys::fsopen(op.fstype.c_str(), kFsopenCloexec));
    if (fs.fd < 0) return failed(Stage::Fsopen, errno);
  }
  // "fuse.sshfs": the filesystem is fuse; mount(2) makes the rest its subtype, so do we.
  size_t dot = op.fstype.find('.');
  if (dot != std::string::npos && dot + 1 < op.fstype.size() &&
      sys::fsconfig(fs.fd, kFsconfigSetString, "subtype", op.fstype.c_str() + dot + 1, 0) < 0)
    return configFailure(fs.fd);
  if (!op.source.empty() && sys::fsconfig(fs.fd, kFsconfigSetString, "source", op.source.c_str(), 0) < 0)
    return configFailure(fs.fd);
  if (!configure(fs.fd, op.superFlags, op.options)) return configFailure(fs.fd);
  if (sys::fsconfig(fs.fd, kFsconfigCreate, nullptr, nullptr, 0) < 0) return configFailure(fs.fd);
  Fd mnt(sys::fsmount(fs.fd, kFsmountCloexec, op.attributes));
  if (mnt.fd < 0) {
    int e = errno;
    return failed(Stage::Fsmount, e, kTarget, kernelLog(fs.fd));
  }
  return attach(c, op, mnt.fd, plan);
}

OpOutcome bindTree(Context& c, const Op& op, Prepared& p, UndoPlan* plan) {
  Fd tree;
  if (op.sourceAtHome) {
    tree.reset(p.tree.release());
  } else {
    Fd source(resolve(c, op.source, 0));
    if (source.fd < 0) return failed(Stage::Resolve, -source.fd, kSource);
    unsigned flags = kOpenTreeClone | O_CLOEXEC | AT_EMPTY_PATH | (op.recursive ? kAtRecursive : 0);
    tree.reset(openTree(source.fd, "", flags));
    if (tree.fd < 0) return failed(Stage::OpenTree, errno, kSource);
  }
  if (op.attrSet != 0 || op.attrClear != 0 || p.userns.fd >= 0) {
    MountAttr attr;
    attr.attrSet = op.attrSet | (p.userns.fd >= 0 ? kAttrIdmap : 0);
    attr.attrClear = op.attrClear;
    attr.usernsFd = p.userns.fd >= 0 ? static_cast<uint64_t>(p.userns.fd) : 0;
    if (mountSetattr(tree.fd, "", AT_EMPTY_PATH | (op.recursive ? kAtRecursive : 0), attr) < 0)
      return failed(Stage::MountSetattr, errno, kSource);
  }
  if (op.create) {
    struct stat st;
    bool directory = fstat(tree.fd, &st) == 0 && S_ISDIR(st.st_mode);
    int e = makeMountPoint(c, op.target, directory);
    if (e != 0) return failed(Stage::Create, e);
  }
  return attach(c, op, tree.fd, plan);
}

// Restores saved attributes. A mount the change left as it was is left alone: that is
// what lets a recursive change over a tree with stacked mounts (two on one point, the lower
// one unreachable by path) roll back. One that changed is found again by its mount point
// and checked by id; one that cannot be is named, and the others are still restored.
UndoRecord restoreAttributes(const Context& c, const UndoPlan& plan) {
  UndoRecord u;
  for (const SavedAttributes& s : plan.saved) {
    bool exact = s.propagation == MS_PRIVATE || s.propagation == MS_UNBINDABLE;
    if (plan.propagation && !exact) {
      u.status = UndoStatus::Impossible;
      u.text = "a mount's peer group cannot be rejoined once left";
      return u;
    }
  }
  std::vector<uint64_t> buf(1024);
  size_t missed = 0;
  for (const SavedAttributes& s : plan.saved) {
    SavedAttributes now;
    int e = statAttributes(s.id, buf, &now);
    if (e == 0 && (now.attr & kAttrSettable) == (s.attr & kAttrSettable) &&
        (!plan.propagation || now.propagation == s.propagation))
      continue;
    Stage stage = Stage::Statmount;
    if (e == 0) {
      Fd fd(resolve(c, s.mountPoint, 0));
      uint64_t id = 0;
      MountAttr attr;
      attr.attrSet = s.attr & kAttrSettable;
      attr.attrClear = kAttrSettable;
      attr.propagation = plan.propagation ? s.propagation : 0;
      if (fd.fd < 0) {
        stage = Stage::Resolve;
        e = -fd.fd;
      } else if (mountIdOf(fd.fd, "", AT_EMPTY_PATH, &id) != 0 || id != s.id) {
        stage = Stage::Verify;
        e = ESTALE;
      } else if (mountSetattr(fd.fd, "", AT_EMPTY_PATH, attr) < 0) {
        stage = Stage::MountSetattr;
        e = errno;
      } else {
        continue;
      }
    }
    // The first failure's stage and errno; every mount left as the change made it, named.
    if (missed++ == 0) {
      u.status = UndoStatus::Failed;
      u.stage = stage;
      u.err = e;
      u.text = s.mountPoint;
    } else if (missed <= 8) {
      u.text += ", " + s.mountPoint;
    }
  }
  if (missed > 8) u.text += " and " + std::to_string(missed - 8) + " more";
  return u;
}

// Before an attribute change of a rollback batch: what to restore.
int planRestore(const Op& op, int targetFd, bool propagation, bool recursive, UndoPlan* plan) {
  if (plan == nullptr) return 0;
  uint64_t id = 0;
  int e = mountIdOf(targetFd, "", AT_EMPTY_PATH, &id);
  if (e == 0) e = saveAttributes(id, recursive, &plan->saved);
  if (e != 0) return e;
  plan->kind = UndoPlan::Kind::Restore;
  plan->propagation = propagation;
  plan->path = op.target;
  return 0;
}

OpOutcome remount(Context& c, const Op& op, UndoPlan* plan) {
  Fd target(resolve(c, op.target, 0));
  if (target.fd < 0) return failed(Stage::Resolve, -target.fd);
  if (op.reconfigure) {
    if (plan != nullptr) plan->reason = "a filesystem's reconfiguration cannot be undone";
  } else {
    int e = planRestore(op, target.fd, false, false, plan);
    if (e != 0) return failed(Stage::Statmount, e);
  }
  if (op.reconfigure) {
    Fd fs(sys::fspick(target.fd, "", kFspickCloexec | kFspickEmptyPath));
    if (fs.fd < 0) return failed(Stage::Fspick, errno);
    if (!configure(fs.fd, op.superFlags, op.options)) return configFailure(fs.fd);
    if (sys::fsconfig(fs.fd, kFsconfigReconfigure, nullptr, nullptr, 0) < 0) return configFailure(fs.fd);
  }
  if (op.attrSet != 0 || op.attrClear != 0) {
    MountAttr attr;
    attr.attrSet = op.attrSet;
    attr.attrClear = op.attrClear;
    if (mountSetattr(target.fd, "", AT_EMPTY_PATH, attr) < 0) return failed(Stage::MountSetattr, errno);
  }
  return done();
}

OpOutcome setAttributes(Context& c, const Op& op, UndoPlan* plan) {
  Fd target(resolve(c, op.target, 0));
  if (target.fd < 0) return failed(Stage::Resolve, -target.fd);
  int e = planRestore(op, target.fd, op.propagation != 0, op.recursive, plan);
  if (e != 0) return failed(Stage::Statmount, e);
  MountAttr attr;
  attr.attrSet = op.attrSet;
  attr.attrClear = op.attrClear;
  attr.propagation = op.propagation;
  if (mountSetattr(target.fd, "", AT_EMPTY_PATH | (op.recursive ? kAtRecursive : 0), attr) < 0)
    return failed(Stage::MountSetattr, errno);
  return done();
}

OpOutcome moveTree(Context& c, const Op& op, UndoPlan* plan) {
  Fd source(resolve(c, op.source, 0));
  if (source.fd < 0) return failed(Stage::Resolve, -source.fd, kSource);
  Fd target(resolve(c, op.target, 0));
  if (target.fd < 0) return failed(Stage::Resolve, -target.fd);
  uint64_t id = 0;
  mountIdOf(source.fd, "", AT_EMPTY_PATH, &id);
  if (moveMount(source.fd, "", target.fd, "", kMoveFromEmptyPath | kMoveToEmptyPath) < 0)
    return failed(Stage::MoveMount, errno);
  if (plan != nullptr) {
    plan->kind = UndoPlan::Kind::MoveBack;
    plan->path = op.target;
    plan->origin = op.source;
    plan->id = id;
  }
  return done(id);
}

// umount2 of `path`, only if the mount there is `expected` (when non-zero).
OpOutcome unmount(Context& c, const std::string& path, uint32_t flags, uint64_t expected) {
  bool follow = (flags & UMOUNT_NOFOLLOW) == 0;
  Parent p;
  int e = resolveParent(c, path, follow, &p);
  if (e != 0) return failed(Stage::Resolve, e);
  // The last component looked up here too, so that a path that is not there is a lookup's
  // failure (resolve), as for every other verb; and, for a scoped release, checked to be
  // the mount made.
  uint64_t id = 0;
  e = p.name == "." ? mountIdOf(p.dir.fd, "", AT_EMPTY_PATH, &id)
                    : mountIdOf(p.dir.fd, p.name.c_str(), AT_SYMLINK_NOFOLLOW, &id);
  if (e != 0) return failed(Stage::Resolve, e);
  if (expected != 0 && id != expected) return failed(Stage::Verify, ESTALE);
  e = enterProcFds(c);
  if (e != 0) return failed(Stage::Home, e);
  // The final component was resolved above (symlinks followed inside the root when asked):
  // the kernel must not follow one swapped in since.
  if (umount2(viaFd(p.dir.fd, p.name).c_str(), static_cast<int>(flags | UMOUNT_NOFOLLOW)) < 0)
    return failed(Stage::Umount, errno);
  return done();
}

OpOutcome pivot(Context& c, const Op& op) {
  Fd newRoot(resolve(c, op.target, O_DIRECTORY));
  if (newRoot.fd < 0) return failed(Stage::Resolve, -newRoot.fd);
  Fd putOld(resolve(c, op.source, O_DIRECTORY));
  if (putOld.fd < 0) return failed(Stage::Resolve, -putOld.fd, kSource);
  int e = enterProcFds(c);
  if (e != 0) return failed(Stage::Home, e);
  c.pivoted = true;  // pivot_root moves the root and cwd of every task on the old root: ours
  if (syscall(SYS_pivot_root, viaFd(newRoot.fd, ".").c_str(), viaFd(putOld.fd, ".").c_str()) < 0)
    return failed(Stage::PivotRoot, errno);
  return done();
}

OpOutcome runOp(Context& c, const Op& op, Prepared& p, UndoPlan* plan, bool* lostHome) {
  switch (op.kind) {
    case OpKind::Mount:
      return mountNew(c, op, p, plan, lostHome);
    case OpKind::Bind:
      return bindTree(c, op, p, plan);
    case OpKind::Remount:
      return remount(c, op, plan);
    case OpKind::Move:
      return moveTree(c, op, plan);
    case OpKind::Umount:
      if (plan != nullptr) plan->reason = "an unmount cannot be undone";
      return unmount(c, op.target, op.flags, op.uniqueId);
    case OpKind::PivotRoot:
      if (plan != nullptr) plan->reason = "a pivot_root cannot be undone";
      return pivot(c, op);
    case OpKind::SetAttributes:
      return setAttributes(c, op, plan);
    case OpKind::Watch:
      break;  // settled at home
  }
  return failed(Stage::Thread, EINVAL);
}

UndoRecord undo(Context& c, const UndoPlan& plan) {
  UndoRecord u;
  switch (plan.kind) {
    case UndoPlan::Kind::Impossible:
      u.status = UndoStatus::Impossible;
      u.text = plan.reason;
      return u;
    case UndoPlan::Kind::Detach: {
      OpOutcome o = unmount(c, plan.path, MNT_DETACH, plan.id);
      if (o.status == Status::Failed) {
        u.status = UndoStatus::Failed;
        u.stage = o.stage;
        u.err = o.err;
        u.text = plan.path;
      }
      return u;
    }
    case UndoPlan::Kind::MoveBack: {
      Fd moved(resolve(c, plan.path, 0));
      uint64_t id = 0;
      Fd origin(moved.fd >= 0 ? resolve(c, plan.origin, 0) : -1);
      if (moved.fd < 0 || origin.fd < 0 || mountIdOf(moved.fd, "", AT_EMPTY_PATH, &id) != 0 || id != plan.id) {
        u.status = UndoStatus::Failed;
        u.stage = moved.fd >= 0 && origin.fd >= 0 ? Stage::Verify : Stage::Resolve;
        u.err = moved.fd < 0 ? -moved.fd : origin.fd < 0 ? -origin.fd : ESTALE;
        u.text = plan.path;
      } else if (moveMount(moved.fd, "", origin.fd, "", kMoveFromEmptyPath | kMoveToEmptyPath) < 0) {
        u.status = UndoStatus::Failed;
        u.stage = Stage::MoveMount;
        u.err = errno;
        u.text = plan.path;
      }
      return u;
    }
    case UndoPlan::Kind::Restore:
      return restoreAttributes(c, plan);
  }
  return u;
}

// Opens at home what `op` will need away (`mnt`: the batch's namespace, or ours).
void prepare(const Op& op, int targetNsDir, int mnt, Prepared* p) {
  auto refuse = [p](Stage stage, int err, uint8_t subject) {
    p->settled = true;
    p->outcome = failed(stage, err, static_cast<Subject>(subject));
  };
  if (op.kind == OpKind::Watch) {
    int fd = -1;
    uint64_t nsId = 0;
    WatchFailure f = openMountWatch(mnt, &fd, &nsId);
    if (f.errnum != 0) return refuse(f.stage, f.errnum, kNamespace);
    p->settled = true;
    p->outcome = done(nsId);
    p->outcome.handle = fd;
    return;
  }
  if (op.kind == OpKind::Mount && op.ref.kind != RefKind::None && op.ref.kind != RefKind::Own) {
    p->pidns.reset(openRef(op.ref, targetNsDir, "pid", CLONE_NEWPID, home.pid));
    if (p->pidns.fd < 0) return refuse(Stage::OpenPidns, -p->pidns.fd, kPidNamespace);
  }
  if (op.kind == OpKind::Bind && op.ref.kind != RefKind::None) {
    p->userns.reset(openRef(op.ref, targetNsDir, "user", CLONE_NEWUSER, home.user));
    if (p->userns.fd < 0) return refuse(Stage::OpenUserns, -p->userns.fd, kUserNamespace);
  }
  if (op.kind == OpKind::Bind && op.sourceAtHome) {
    Context here;
    Fd source(resolve(here, op.source, 0));
    if (source.fd < 0) return refuse(Stage::Resolve, -source.fd, kSource);
    unsigned flags = kOpenTreeClone | O_CLOEXEC | AT_EMPTY_PATH | (op.recursive ? kAtRecursive : 0);
    p->tree.reset(openTree(source.fd, "", flags));
    if (p->tree.fd < 0) return refuse(Stage::OpenTree, errno, kSource);
  }
}

bool sameFile(int a, int b) {
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Back to the home namespace, root and working directory; false if any of it failed.
bool goHome(Context& c) {
  bool ok = true;
  if (c.foreign && setns(home.mnt, CLONE_NEWNS) < 0) ok = false;
  if (c.foreign || c.pivoted) {
    // setns resets the root to the namespace's: a chrooted process stays chrooted.
    if (fchdir(home.root) < 0) {
      ok = false;
    } else if (chroot(".") < 0) {
      Fd now(retryOpen(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (now.fd < 0 || !sameFile(now.fd, home.root)) ok = false;
    }
  }
  if ((c.foreign || c.cwdMoved || c.pivoted) && fchdir(home.cwd) < 0) ok = false;
  return ok;
}

void failAll(BatchResult* result, Stage stage, int err, uint8_t subject) {
  for (OpOutcome& o : result->outcomes) o = failed(stage, err, static_cast<Subject>(subject));
}

}  // namespace

BatchResult runBatch(const Batch& batch) {
  BatchResult result;
  const size_t count = batch.ops.size();
  result.outcomes.resize(count);
  if (home.retired) {
    result.refused = true;
    failAll(&result, Stage::Home, ENOTRECOVERABLE, kTarget);
    return result;
  }
  SignalsBlocked blocked;
  Stage stage = Stage::Home;
  int e = prepareHome(&stage);
  if (e != 0) {
    failAll(&result, stage, e, stage == Stage::OpenNs ? kNamespace : kTarget);
    return result;
  }

  // Everything the batch needs from home is opened here, before the first setns: a path
  // opened later would be looked up inside the namespace (its /proc, its files).
  Fd nsDir, mnt;
  if (batch.ns == NsKind::Pid) {
    e = pinProcess(batch.pid, &nsDir);
    if (e == 0) {
      mnt.reset(openProcessNamespace(nsDir.fd, "mnt", CLONE_NEWNS));
      if (mnt.fd < 0) e = -mnt.fd;
    }
  } else if (batch.ns == NsKind::Path) {
    mnt.reset(openNamespace(AT_FDCWD, batch.nsPath.c_str(), CLONE_NEWNS));
    if (mnt.fd < 0) e = -mnt.fd;
  }
  if (e != 0) {
    failAll(&result, Stage::OpenNs, e, kNamespace);
    return result;
  }
  std::vector<Prepared> prepared(count);
  bool away = false;  // any op to run inside the namespace (a watch is all done at home)
  for (size_t i = 0; i < count; i++) {
    prepare(batch.ops[i], nsDir.fd, mnt.fd >= 0 ? mnt.fd : home.mnt, &prepared[i]);
    away = away || batch.ops[i].kind != OpKind::Watch;
    if (batch.rollback && prepared[i].settled && prepared[i].outcome.status == Status::Failed) {
      // Nothing has been done yet: the batch fails at i, with nothing to undo.
      for (size_t k = 0; k < count; k++) result.outcomes[k] = k == i ? prepared[i].outcome : OpOutcome{};
      return result;
    }
  }

  Context c;
  // Entering our own namespace would change nothing but cost a setns: only another one.
  struct stat target;
  bool ours = mnt.fd >= 0 && fstat(mnt.fd, &target) == 0 && target.st_dev == home.mntDev &&
              target.st_ino == home.mntIno;
  if (away && mnt.fd >= 0 && !ours) {
    if (setns(mnt.fd, CLONE_NEWNS) < 0) {
      failAll(&result, Stage::Setns, errno, kNamespace);
      return result;
    }
    c.foreign = true;
    c.root.reset(retryOpen(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (c.root.fd < 0) failAll(&result, Stage::Resolve, errno, kTarget);
  }

  bool lostHome = false;
  if (!c.foreign || c.root.fd >= 0) {
    std::vector<UndoPlan> plans(batch.rollback ? count : 0);
    size_t failedAt = count;
    for (size_t i = 0; i < count; i++) {
      OpOutcome& out = result.outcomes[i];
      out = prepared[i].settled
                ? prepared[i].outcome
                : runOp(c, batch.ops[i], prepared[i], batch.rollback ? &plans[i] : nullptr, &lostHome);
      if (batch.rollback && out.status == Status::Failed) {
        failedAt = i;
        break;
      }
    }
    for (size_t i = failedAt < count ? failedAt : 0; i-- > 0;) {
      UndoRecord u = undo(c, plans[i]);
      u.index = static_cast<uint32_t>(i);
      result.undo.push_back(std::move(u));
    }
  }

  if (!goHome(c) || lostHome) {
    home.retired = true;
    result.retired = true;
  }
  return result;
}

}  // namespace linx
