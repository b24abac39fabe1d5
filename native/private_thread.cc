#include "private_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

namespace linx {

namespace {
constexpr size_t kCloneStackSize = 64 * 1024;
constexpr size_t kThreadStackSize = 256 * 1024;
}  // namespace

PrivateThread::~PrivateThread() { stop(); }

void* PrivateThread::main(void* self) {
  static_cast<PrivateThread*>(self)->loop();
  return nullptr;
}

void PrivateThread::loop() {
  Outcome failure{};
  // setns(CLONE_NEWNS) refuses a thread whose fs_struct is shared with other threads, and
  // chdir must not move Node's cwd: this thread gets an fs_struct of its own.
  if (unshare(CLONE_FS) < 0) failure = {"unshare", errno};
  if (!failure.stage) {
    home_.mntFd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (home_.mntFd < 0) failure = {"open_ns", errno};
  }
  if (!failure.stage) {
    home_.pidFd = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (home_.pidFd < 0) failure = {"open_pidns", errno};
  }
  if (!failure.stage) {
    void* stack = mmap(nullptr, kCloneStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) failure = {"thread", errno};
    else {
      home_.cloneStack = stack;
      home_.cloneStackSize = kCloneStackSize;
    }
  }

  pthread_mutex_lock(&mutex_);
  ready_ = true;
  startFailure_ = failure;
  pthread_cond_broadcast(&done_);
  bool lostHome = failure.stage != nullptr;
  while (!lostHome) {
    while (!quit_ && ops_ == nullptr) pthread_cond_wait(&wake_, &mutex_);
    if (quit_) break;
    const std::vector<Op>& ops = *ops_;
    std::vector<Outcome>& outcomes = *outcomes_;
    pthread_mutex_unlock(&mutex_);
    for (size_t i = 0; i < ops.size(); i++) {
      if (lostHome) {
        // Never run another op from an unknown namespace.
        outcomes[i] = {"thread", EAGAIN};
        continue;
      }
      outcomes[i] = execute(ops[i], &home_, &lostHome);
    }
    pthread_mutex_lock(&mutex_);
    ops_ = nullptr;
    outcomes_ = nullptr;
    retired_ = lostHome;
    pthread_cond_broadcast(&done_);
  }
  pthread_mutex_unlock(&mutex_);
  if (home_.mntFd >= 0) close(home_.mntFd);
  if (home_.pidFd >= 0) close(home_.pidFd);
  if (home_.cloneStack) munmap(home_.cloneStack, home_.cloneStackSize);
  home_ = Home{};
}

bool PrivateThread::start(Outcome* failure) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kThreadStackSize);
  // Every signal stays blocked on the private thread: Node's handlers never run there, no
  // syscall of ours sees EINTR, and the vfork-style child inherits the same mask.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  ready_ = false;
  retired_ = false;
  quit_ = false;
  int rc = pthread_create(&thread_, &attr, &PrivateThread::main, this);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    *failure = {"thread", rc};
    return false;
  }
  pthread_mutex_lock(&mutex_);
  while (!ready_) pthread_cond_wait(&done_, &mutex_);
  Outcome startFailure = startFailure_;
  pthread_mutex_unlock(&mutex_);
  if (startFailure.stage) {
    pthread_join(thread_, nullptr);
    *failure = startFailure;
    return false;
  }
  running_ = true;
  return true;
}

void PrivateThread::stop() {
  if (!running_) return;
  pthread_mutex_lock(&mutex_);
  quit_ = true;
  pthread_cond_broadcast(&wake_);
  pthread_mutex_unlock(&mutex_);
  pthread_join(thread_, nullptr);
  running_ = false;
}

void PrivateThread::run(const std::vector<Op>& ops, std::vector<Outcome>& outcomes) {
  if (running_ && retired_) stop();
  if (!running_) {
    Outcome failure{};
    if (!start(&failure)) {
      for (auto& o : outcomes) o = failure;
      return;
    }
  }
  pthread_mutex_lock(&mutex_);
  ops_ = &ops;
  outcomes_ = &outcomes;
  pthread_cond_signal(&wake_);
  while (ops_ != nullptr) pthread_cond_wait(&done_, &mutex_);
  pthread_mutex_unlock(&mutex_);
}

}  // namespace linx
