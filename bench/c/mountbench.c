// The raw-C baselines of `npm run bench`: the same syscalls linx-mount makes, in a loop,
// with nothing in between. Built by bench/run.mjs into bench/bin/mountbench.
//
//   mountbench MODE --dir D --ms M [--threads T] [--pid P] [--heap-mib H] [--batch N]
//
// Every mode runs until M milliseconds have passed (checking the clock after each op, or
// after each batch for the batch modes) and prints one JSON line: {"mode":..., "ops":N,
// "seconds":S, "cpuSeconds":C}. `ops` counts pairs for the pair modes (a bind and its
// umount) and mounts for the proc modes (a proc mount and its umount); `cpuSeconds` is the
// user + system time of all the process's threads (getrusage), to set beside linx-mount's
// CPU per pair. D holds a directory `src` and the targets `t0`, `t1`, ...; for the cross modes
// these paths are resolved inside the target's mount namespace, which shares D's tmpfs.
//
// Modes:
//   same              bind + umount2 in this namespace; T threads, each on its own target.
//   cross-thread      the seed's design: a new thread per op that unshares CLONE_FS, opens
//                     /proc/P/ns/mnt, setns's into it, makes the syscall and exits.
//   cross-persistent  long-lived threads (T, default 1) with a private fs_struct each; per op
//                     a thread opens the namespace, setns's in, makes the syscall and
//                     setns's back home.
//   persist-batch     the batch design at its floor: T persistent threads (default 1), a
//                     private fs_struct each; per batch a thread opens the namespace,
//                     setns's in once, makes N bind + umount2 pairs (--batch, default 500)
//                     and setns's home.
//   persist-batch-fd  persist-batch with the syscalls the addon makes per op instead of a
//                     bare mount(2)/umount2(2): a bind is openat2(RESOLVE_IN_ROOT) of the
//                     source, open_tree(OPEN_TREE_CLONE), openat2 of the target, move_mount
//                     and a statx for the new mount's id; an umount is openat2 of the parent,
//                     an lstat and a statx of the last component, and umount2 through
//                     /proc/self/fd/N/name; the way home also restores root and cwd. The
//                     kernel's share of a linx-mount pair, without any of its user space.
//   proc-fork         per mount: setns into P's mount and PID namespaces, fork() a child
//                     that mounts proc, wait, umount2, setns back. --heap-mib H first
//                     touches H MiB, so fork() has page tables to copy.
//   proc-vfork        the same with clone(CLONE_VM | CLONE_VFORK): no page tables copied.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char* mode;
static const char* dir;
static double ms = 300;
static int threads = 1;
static int pid = 0;
static long heapMib = 0;
static int batch = 500;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// User + system time of every thread of the process so far.
static double cpuNow(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char* what, const char* path) {
  fprintf(stderr, "mountbench %s: %s %s: %s\n", mode, what, path ? path : "", strerror(errno));
  exit(1);
}

static char srcPath[4096];
static void targetPath(char* out, size_t size, int k) { snprintf(out, size, "%s/t%d", dir, k); }

static char nsPath[64], pidnsPath[64];
static double deadline;

// ---- same ---------------------------------------------------------------------------

struct Worker {
  pthread_t thread;
  int index;
  long ops;
};

static void* sameWorker(void* arg) {
  struct Worker* w = arg;
  char target[4096];
  targetPath(target, sizeof target, w->index);
  while (now() < deadline) {
    if (mount(srcPath, target, NULL, MS_BIND, NULL) < 0) die("mount", target);
    if (umount2(target, 0) < 0) die("umount2", target);
    w->ops++;
  }
  return NULL;
}

static long runSame(void) {
  struct Worker* ws = calloc(threads, sizeof *ws);
  for (int i = 0; i < threads; i++) {
    ws[i].index = i;
    if (threads == 1) sameWorker(&ws[i]);
    else if ((errno = pthread_create(&ws[i].thread, NULL, sameWorker, &ws[i]))) die("pthread_create", NULL);
  }
  long ops = 0;
  for (int i = 0; i < threads; i++) {
    if (threads > 1) pthread_join(ws[i].thread, NULL);
    ops += ws[i].ops;
  }
  free(ws);
  return ops;
}

// ---- cross-thread: a throwaway thread per op ------------------------------------------

struct OneOp {
  int umount;
  const char* target;
  int err;
  const char* stage;
};

static void* oneOpThread(void* arg) {
  struct OneOp* op = arg;
  op->err = 0;
  if (unshare(CLONE_FS) < 0) { op->err = errno; op->stage = "unshare"; return NULL; }
  int fd = open(nsPath, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { op->err = errno; op->stage = "open"; return NULL; }
  if (setns(fd, CLONE_NEWNS) < 0) { op->err = errno; op->stage = "setns"; close(fd); return NULL; }
  close(fd);
  int r = op->umount ? umount2(op->target, 0) : mount(srcPath, op->target, NULL, MS_BIND, NULL);
  if (r < 0) { op->err = errno; op->stage = op->umount ? "umount2" : "mount"; }
  return NULL;
}

static void threadOp(struct OneOp* op) {
  pthread_t t;
  if ((errno = pthread_create(&t, NULL, oneOpThread, op))) die("pthread_create", NULL);
  pthread_join(t, NULL);
  if (op->err) { errno = op->err; die(op->stage, op->target); }
}

static long runCrossThread(void) {
  char target[4096];
  targetPath(target, sizeof target, 0);
  long ops = 0;
  while (now() < deadline) {
    struct OneOp bind = {0, target, 0, NULL}, unbind = {1, target, 0, NULL};
    threadOp(&bind);
    threadOp(&unbind);
    ops++;
  }
  return ops;
}

// ---- cross-persistent: one thread, setns there and back per op -----------------------

static int homeMnt = -1, homePid = -1;

static void enter(void) {
  int fd = open(nsPath, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open", nsPath);
  if (setns(fd, CLONE_NEWNS) < 0) die("setns", nsPath);
  close(fd);
}

static void* persistentThread(void* arg) {
  struct Worker* w = arg;
  char target[4096];
  targetPath(target, sizeof target, w->index);
  if (unshare(CLONE_FS) < 0) die("unshare", NULL);
  int home = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (home < 0) die("open", "/proc/thread-self/ns/mnt");
  while (now() < deadline) {
    enter();
    if (mount(srcPath, target, NULL, MS_BIND, NULL) < 0) die("mount", target);
    if (setns(home, CLONE_NEWNS) < 0) die("setns home", NULL);
    enter();
    if (umount2(target, 0) < 0) die("umount2", target);
    if (setns(home, CLONE_NEWNS) < 0) die("setns home", NULL);
    w->ops++;
  }
  close(home);
  return NULL;
}

// T threads running `body` (each its own target), all started at once; their ops summed.
static long runThreads(void* (*body)(void*)) {
  struct Worker* ws = calloc(threads, sizeof *ws);
  for (int i = 0; i < threads; i++) {
    ws[i].index = i;
    if ((errno = pthread_create(&ws[i].thread, NULL, body, &ws[i]))) die("pthread_create", NULL);
  }
  long ops = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ws[i].thread, NULL);
    ops += ws[i].ops;
  }
  free(ws);
  return ops;
}

// T persistent threads, each with its own fs_struct.
static long runCrossPersistent(void) { return runThreads(persistentThread); }

// ---- persist-batch: one thread that enters once per batch ------------------------------

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x00000008
#endif

// struct open_how of openat2(2); RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT as the addon asks.
struct OpenHow {
  unsigned long long flags, mode, resolve;
};

static int openInRoot(int root, const char* path, int flags) {
  struct OpenHow how = {(unsigned long long)(flags | O_PATH | O_CLOEXEC), 0, 0x02 | 0x10};
  return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

static void mountId(int dirfd, const char* name, int flags) {
  struct statx stx;
  if (statx(dirfd, name, flags | AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE, &stx) < 0) die("statx", name);
}

// One bind + umount pair made the addon's way, inside the namespace whose root is `root`.
static void fdPair(int root, int procFds, const char* target, const char* parent, const char* name) {
  int src = openInRoot(root, srcPath, 0);
  if (src < 0) die("openat2", srcPath);
  int tree = (int)syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0) die("open_tree", srcPath);
  close(src);
  int dst = openInRoot(root, target, 0);
  if (dst < 0) die("openat2", target);
  if (syscall(SYS_move_mount, tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    die("move_mount", target);
  mountId(tree, "", AT_EMPTY_PATH);
  close(dst);
  close(tree);

  int dir = openInRoot(root, parent, O_DIRECTORY);
  if (dir < 0) die("openat2", parent);
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) die("fstatat", name);
  mountId(dir, name, AT_SYMLINK_NOFOLLOW);
  if (fchdir(procFds) < 0) die("fchdir", "/proc/self/fd");
  char via[64];
  snprintf(via, sizeof via, "%d/%s", dir, name);
  if (umount2(via, UMOUNT_NOFOLLOW) < 0) die("umount2", target);
  close(dir);
}

static int fdStyle;

static void* batchThread(void* arg) {
  struct Worker* w = arg;
  char target[4096];
  targetPath(target, sizeof target, w->index);
  char name[32];
  snprintf(name, sizeof name, "t%d", w->index);
  if (unshare(CLONE_FS) < 0) die("unshare", NULL);
  int home = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
  int homeRoot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int homeCwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int procFds = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (home < 0 || homeRoot < 0 || homeCwd < 0 || procFds < 0) die("open", "home");
  while (now() < deadline) {
    enter();
    int root = fdStyle ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fdStyle && root < 0) die("open", "/");
    for (int i = 0; i < batch; i++) {
      if (fdStyle) {
        fdPair(root, procFds, target, dir, name);
      } else {
        if (mount(srcPath, target, NULL, MS_BIND, NULL) < 0) die("mount", target);
        if (umount2(target, 0) < 0) die("umount2", target);
      }
      w->ops++;
    }
    if (setns(home, CLONE_NEWNS) < 0) die("setns home", NULL);
    if (fdStyle) {
      close(root);
      if (fchdir(homeRoot) < 0 || chroot(".") < 0 || fchdir(homeCwd) < 0) die("home", NULL);
    }
  }
  close(home);
  close(homeRoot);
  close(homeCwd);
  close(procFds);
  return NULL;
}

static long runPersistBatch(int fd) {
  fdStyle = fd;
  return runThreads(batchThread);
}

// ---- proc mounts in a PID namespace ---------------------------------------------------

static char procTarget[4096];
static int childErr;

static int childMount(void* arg) {
  (void)arg;
  long r = syscall(SYS_mount, "proc", procTarget, "proc", 0UL, NULL);
  childErr = r < 0 ? errno : 0;
  return 0;
}

static void touchHeap(void) {
  if (heapMib <= 0) return;
  // Allocated in 64 MiB pieces, like a Node process's Buffers, and written page by page so
  // every page is really there (and in the page tables fork() copies).
  for (long done = 0; done < heapMib; done += 64) {
    size_t size = (size_t)(heapMib - done < 64 ? heapMib - done : 64) << 20;
    char* p = malloc(size);
    if (!p) die("malloc", NULL);
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
  }
}

static long runProc(int useVfork) {
  targetPath(procTarget, sizeof procTarget, 0);
  homeMnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  homePid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (homeMnt < 0 || homePid < 0) die("open", "/proc/self/ns");
  size_t stackSize = 64 * 1024;
  char* stack = mmap(NULL, stackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) die("mmap", NULL);
  long ops = 0;
  while (now() < deadline) {
    int mnt = open(nsPath, O_RDONLY | O_CLOEXEC);
    int pidns = open(pidnsPath, O_RDONLY | O_CLOEXEC);
    if (mnt < 0 || pidns < 0) die("open", nsPath);
    if (setns(mnt, CLONE_NEWNS) < 0) die("setns", nsPath);
    if (setns(pidns, CLONE_NEWPID) < 0) die("setns", pidnsPath);
    close(mnt);
    close(pidns);
    pid_t child;
    childErr = 0;
    if (useVfork) {
      child = clone(childMount, stack + stackSize, CLONE_VM | CLONE_VFORK, NULL);
    } else {
      child = fork();
      if (child == 0) {
        long r = syscall(SYS_mount, "proc", procTarget, "proc", 0UL, NULL);
        _exit(r < 0 ? errno : 0);
      }
    }
    if (child < 0) die(useVfork ? "clone" : "fork", NULL);
    int status = 0;
    while (waitpid(child, &status, __WALL) < 0)
      if (errno != EINTR) die("waitpid", NULL);
    int err = useVfork ? childErr : (WIFEXITED(status) ? WEXITSTATUS(status) : ECHILD);
    if (err) { errno = err; die("mount proc", procTarget); }
    if (umount2(procTarget, 0) < 0) die("umount2", procTarget);
    if (setns(homeMnt, CLONE_NEWNS) < 0) die("setns home", NULL);
    if (setns(homePid, CLONE_NEWPID) < 0) die("setns home pid", NULL);
    ops++;
  }
  return ops;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: mountbench MODE --dir D --ms M [--threads T] [--pid P] [--heap-mib H]\n");
    return 2;
  }
  mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!strcmp(argv[i], "--ms")) ms = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--pid")) pid = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--heap-mib")) heapMib = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    else { fprintf(stderr, "mountbench: unknown option %s\n", argv[i]); return 2; }
  }
  if (!dir || threads < 1 || batch < 1) { fprintf(stderr, "mountbench: --dir is required\n"); return 2; }
  snprintf(srcPath, sizeof srcPath, "%s/src", dir);
  snprintf(nsPath, sizeof nsPath, "/proc/%d/ns/mnt", pid);
  snprintf(pidnsPath, sizeof pidnsPath, "/proc/%d/ns/pid", pid);
  int cross = strncmp(mode, "cross", 5) == 0 || strncmp(mode, "proc", 4) == 0 ||
              strncmp(mode, "persist", 7) == 0;
  if (cross && pid <= 0) { fprintf(stderr, "mountbench %s: --pid is required\n", mode); return 2; }
  touchHeap();

  double cpuStart = cpuNow();
  double start = now();
  deadline = start + ms / 1000;
  long ops;
  if (!strcmp(mode, "same")) ops = runSame();
  else if (!strcmp(mode, "cross-thread")) ops = runCrossThread();
  else if (!strcmp(mode, "cross-persistent")) ops = runCrossPersistent();
  else if (!strcmp(mode, "persist-batch")) ops = runPersistBatch(0);
  else if (!strcmp(mode, "persist-batch-fd")) ops = runPersistBatch(1);
  else if (!strcmp(mode, "proc-fork")) ops = runProc(0);
  else if (!strcmp(mode, "proc-vfork")) ops = runProc(1);
  else { fprintf(stderr, "mountbench: unknown mode %s\n", mode); return 2; }
  double seconds = now() - start;
  // All threads (joined by now), from `start` on: touching the heap is not counted.
  double cpu = cpuNow() - cpuStart;
  printf("{\"mode\":\"%s\",\"threads\":%d,\"heapMib\":%ld,\"batch\":%d,\"ops\":%ld,\"seconds\":%.6f,"
         "\"cpuSeconds\":%.6f}\n",
         mode, threads, heapMib, batch, ops, seconds, cpu);
  return 0;
}
