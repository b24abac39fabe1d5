#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace linx {

bool readOp(Napi::Env env, Napi::Value value, Op* op);  // addon.cc

namespace {
constexpr size_t kCloneStackSize = 64 * 1024;
constexpr size_t kThreadStackSize = 256 * 1024;
// How long one idle thread polls for the next job before it sleeps. Waking a sleeping
// thread on another vCPU costs tens of microseconds (an inter-processor interrupt and a VM
// exit): longer than the syscalls it runs. A caller that issues its next request as soon
// as the last one returns finds the poller still awake.
constexpr long kSpinNanos = 200 * 1000;
// How long a thread that stayed in a process's namespace waits there for the next op for
// that process before it goes home: callers in a loop issue the next op within this, and
// the namespace is never held longer by an idle pool.
constexpr long kLingerNanos = 1000 * 1000;
constexpr int kThreadNice = 10;

long nanosSince(const timespec& start) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec);
}
}  // namespace

struct PoolState {
  size_t maxThreads = 1;
  Completion tsfn;
  Napi::FunctionReference onClosed;
  // Main thread only.
  size_t outstanding = 0;  // jobs submitted and not yet delivered
  bool finalized = false;  // the thread-safe function is gone
  bool closeRequested = false;

  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake;  // on CLOCK_MONOTONIC, for the linger's timed wait
  // Guarded by mutex.
  std::deque<Task*> queue;  // one entry per op
  std::vector<pthread_t> threads;  // every thread started, joined once all have exited
  size_t live = 0;                 // threads still serving
  size_t idle = 0;                 // threads waiting for a job
  bool closing = false;
  bool spinning = false;  // one idle thread at most polls instead of sleeping
  // Mirrors queue.size() for the poller, which reads it without the mutex.
  std::atomic<size_t> queued{0};
  bool joined = false;

  PoolState() {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
  }
  PoolState(const PoolState&) = delete;
  PoolState& operator=(const PoolState&) = delete;

  ~PoolState() {
    pthread_mutex_destroy(&mutex);
    pthread_cond_destroy(&wake);
  }

  // Runs on the main thread once every holder released the thread-safe function, or when
  // the environment is torn down: in that case the threads may still be waiting, so they
  // are told to finish first. Either way none outlives this call.
  void joinAll() {
    pthread_mutex_lock(&mutex);
    closing = true;
    pthread_cond_broadcast(&wake);
    std::vector<pthread_t> all;
    if (!joined) all.swap(threads);
    joined = true;
    pthread_mutex_unlock(&mutex);
    for (pthread_t t : all) pthread_join(t, nullptr);
  }
};

namespace {

struct ThreadStart {
  std::shared_ptr<PoolState> state;
};

void* threadMain(void* arg) {
  std::shared_ptr<PoolState> state = std::move(static_cast<ThreadStart*>(arg)->state);
  delete static_cast<ThreadStart*>(arg);

  Home home;
  Outcome failure{};
  // setns(CLONE_NEWNS) refuses a thread whose fs_struct is shared with other threads, and
  // chdir must never move Node's cwd: this thread gets an fs_struct of its own.
  if (unshare(CLONE_FS) < 0) failure = {"unshare", errno};
  // Below the event loop's thread in the scheduler's eyes: when a pool thread and the main
  // thread want the same CPU, the main thread (timers, I/O, the next requests) goes first.
  // Unprivileged (only lowering), and harmless if refused.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kThreadNice);
  if (!failure.stage) {
    home.mntFd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (home.mntFd < 0) failure = {"open_ns", errno};
  }
  if (!failure.stage) {
    home.pidFd = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (home.pidFd < 0) failure = {"open_pidns", errno};
  }
  if (!failure.stage) {
    void* stack = mmap(nullptr, kCloneStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
      failure = {"thread", errno};
    } else {
      home.cloneStack = stack;
      home.cloneStackSize = kCloneStackSize;
    }
  }

  bool lostHome = false;
  pthread_mutex_lock(&state->mutex);
  for (;;) {
    state->idle++;
    if (state->queue.empty() && !state->closing && !state->spinning) {
      state->spinning = true;
      pthread_mutex_unlock(&state->mutex);
      timespec start;
      clock_gettime(CLOCK_MONOTONIC, &start);
      while (state->queued.load(std::memory_order_acquire) == 0 && nanosSince(start) < kSpinNanos)
        sched_yield();  // never starve a thread that shares this CPU (the event loop)
      pthread_mutex_lock(&state->mutex);
      state->spinning = false;
    }
    if (home.away) {
      // Still in the namespace of the last op's process: wait there a little for the next
      // op for it, then go home before sleeping for good.
      timespec deadline;
      clock_gettime(CLOCK_MONOTONIC, &deadline);
      deadline.tv_nsec += kLingerNanos;
      if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
      }
      while (state->queue.empty() && !state->closing &&
             pthread_cond_timedwait(&state->wake, &state->mutex, &deadline) != ETIMEDOUT) {
      }
      if (state->queue.empty()) {
        pthread_mutex_unlock(&state->mutex);
        goHome(&home, &lostHome);
        pthread_mutex_lock(&state->mutex);
        if (lostHome) {
          state->idle--;
          break;
        }
      }
    }
    while (state->queue.empty() && !state->closing) pthread_cond_wait(&state->wake, &state->mutex);
    state->idle--;
    if (state->queue.empty()) break;  // closing, and nothing left to do
    Task* task = state->queue.front();
    state->queue.pop_front();
    state->queued.fetch_sub(1, std::memory_order_release);
    // Pass the wake-up on: the main thread signals one thread per batch, and each thread
    // that takes an op wakes the next while ops remain (an idle thread that is asleep;
    // signalling with none asleep costs nothing).
    bool more = !state->queue.empty();
    pthread_mutex_unlock(&state->mutex);
    if (more) pthread_cond_signal(&state->wake);  // outside the lock: the woken thread can take it

    Job* job = task->job;
    Outcome& outcome = job->outcomes[task->index];
    if (failure.stage) outcome = failure;
    else outcome = execute(job->ops[task->index], &home, &lostHome);
    // Refused only while the environment is torn down, when nobody waits for an answer.
    state->tsfn.NonBlockingCall(task);

    pthread_mutex_lock(&state->mutex);
    // A thread that could not get home is retired: the next submit starts a fresh one.
    if (lostHome) break;
  }
  state->live--;
  pthread_mutex_unlock(&state->mutex);

  goHome(&home, &lostHome);
  if (home.mntFd >= 0) close(home.mntFd);
  if (home.pidFd >= 0) close(home.pidFd);
  if (home.cloneStack) munmap(home.cloneStack, home.cloneStackSize);
  state->tsfn.Release();
  return nullptr;
}

// Starts one more thread. Called on the main thread with the mutex held.
int startThread(const std::shared_ptr<PoolState>& state) {
  if (state->tsfn.Acquire() != napi_ok) return EAGAIN;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kThreadStackSize);
  // Every signal stays blocked on pool threads: Node's handlers never run there, our
  // syscalls never see EINTR, and the vfork-style child inherits the same mask.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  auto* start = new ThreadStart{state};
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, threadMain, start);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete start;
    state->tsfn.Release();
    return rc;
  }
  state->threads.push_back(thread);
  state->live++;
  return 0;
}

}  // namespace

// Hands one finished op to JavaScript, on the main thread: onComplete(id, index, outcome).
void deliver(Napi::Env env, Napi::Function callback, PoolState* state, Task* task) {
  Job* job = task->job;
  const Outcome o = job->outcomes[task->index];
  size_t index = task->index;
  double id = job->id;
  if (++job->delivered == job->ops.size()) {
    delete job;
    // Unref once idle, but not while close() waits for the threads to go.
    if (env != nullptr && --state->outstanding == 0 && !state->closeRequested) state->tsfn.Unref(env);
  }
  if (env == nullptr || callback.IsEmpty()) return;  // the environment is going away
  Napi::Value outcome = env.Null();
  if (o.stage) {
    Napi::Object failure = Napi::Object::New(env);
    failure.Set("stage", o.stage);
    failure.Set("errno", o.err);
    outcome = failure;
  }
  callback.Call({Napi::Number::New(env, id), Napi::Number::New(env, static_cast<double>(index)), outcome});
}

Napi::Function Pool::Define(Napi::Env env) {
  return DefineClass(env, "Pool",
                     {
                         InstanceMethod("submit", &Pool::Submit),
                         InstanceMethod("close", &Pool::Close),
                         InstanceMethod("stats", &Pool::Stats),
                     });
}

// new Pool(maxThreads, onComplete(id, outcomes))
Pool::Pool(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pool>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "new Pool(maxThreads, onComplete)").ThrowAsJavaScriptException();
    return;
  }
  double max = info[0].As<Napi::Number>().DoubleValue();
  if (!(max >= 1 && max <= 256)) {
    Napi::TypeError::New(env, "maxThreads must be from 1 to 256").ThrowAsJavaScriptException();
    return;
  }
  state_ = std::make_shared<PoolState>();
  state_->maxThreads = static_cast<size_t>(max);
  // The pool's own reference keeps the function alive until close(); each thread holds
  // another. When the last is released, the finalizer joins the threads on this thread.
  auto* keep = new std::shared_ptr<PoolState>(state_);
  state_->tsfn = Completion::New(
      env, info[1].As<Napi::Function>(), "linx-mount", 0, 1, state_.get(),
      [](Napi::Env env, std::shared_ptr<PoolState>* data, PoolState*) {
        std::shared_ptr<PoolState> state = *data;
        delete data;
        state->finalized = true;
        state->joinAll();
        if (env != nullptr && !state->onClosed.IsEmpty()) {
          Napi::Function onClosed = state->onClosed.Value();
          state->onClosed.Reset();
          onClosed.Call({});
        }
      },
      keep);
  // Idle pools never keep the process alive; Submit refs while work is outstanding.
  state_->tsfn.Unref(env);
}

Pool::~Pool() {
  // Garbage-collected without close(): let the threads drain the queue and exit; the
  // finalizer joins them. At environment teardown the finalizer has already run.
  if (!state_ || closed_ || state_->finalized) return;
  closed_ = true;
  pthread_mutex_lock(&state_->mutex);
  state_->closing = true;
  pthread_cond_broadcast(&state_->wake);
  pthread_mutex_unlock(&state_->mutex);
  state_->tsfn.Release();
}

Napi::Value Pool::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsArray()) {
    Napi::TypeError::New(env, "submit(id, ops)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (closed_) {
    Napi::Error::New(env, "the pool is closed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto job = std::make_unique<Job>();
  job->id = info[0].As<Napi::Number>().DoubleValue();
  Napi::Array input = info[1].As<Napi::Array>();
  job->ops.resize(input.Length());
  for (uint32_t i = 0; i < input.Length(); i++) {
    if (!readOp(env, input.Get(i), &job->ops[i])) return env.Undefined();
  }
  job->outcomes.resize(job->ops.size());

  size_t count = job->ops.size();
  if (count == 0) return env.Undefined();  // nothing to run, nothing will be answered
  job->tasks.resize(count);
  for (size_t i = 0; i < count; i++) job->tasks[i] = Task{job.get(), i};

  pthread_mutex_lock(&state_->mutex);
  int startError = 0;
  // Enough threads for the ops waiting, up to maxThreads: threads are started once and kept.
  while (startError == 0 && state_->live < state_->maxThreads &&
         state_->live < state_->queue.size() + count)
    startError = startThread(state_);
  if (state_->live == 0) {
    pthread_mutex_unlock(&state_->mutex);
    Napi::Object failure = Napi::Object::New(env);
    failure.Set("stage", "thread");
    failure.Set("errno", startError != 0 ? startError : EAGAIN);
    return failure;
  }
  Job* queued = job.release();
  for (size_t i = 0; i < count; i++) state_->queue.push_back(&queued->tasks[i]);
  state_->queued.fetch_add(count, std::memory_order_release);
  // A polling thread finds the ops by itself; otherwise wake one, which wakes the next.
  bool wake = !state_->spinning;
  pthread_mutex_unlock(&state_->mutex);
  if (wake) pthread_cond_signal(&state_->wake);
  if (state_->outstanding++ == 0) state_->tsfn.Ref(env);
  return env.Undefined();
}

Napi::Value Pool::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return env.Undefined();
  closed_ = true;
  if (info.Length() >= 1 && info[0].IsFunction())
    state_->onClosed = Napi::Persistent(info[0].As<Napi::Function>());
  pthread_mutex_lock(&state_->mutex);
  state_->closing = true;
  pthread_cond_broadcast(&state_->wake);
  pthread_mutex_unlock(&state_->mutex);
  // Keep the loop alive until the threads are gone and onClosed has run.
  state_->closeRequested = true;
  state_->tsfn.Ref(env);
  state_->tsfn.Release();
  return env.Undefined();
}

Napi::Value Pool::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object stats = Napi::Object::New(env);
  pthread_mutex_lock(&state_->mutex);
  stats.Set("threads", static_cast<double>(state_->live));
  stats.Set("idle", static_cast<double>(state_->idle));
  stats.Set("queued", static_cast<double>(state_->queue.size()));
  pthread_mutex_unlock(&state_->mutex);
  stats.Set("outstanding", static_cast<double>(state_->outstanding));
  return stats;
}

}  // namespace linx
