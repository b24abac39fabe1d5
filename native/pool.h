// The addon's own threads. Every op runs on one of them, never on a thread that runs
// JavaScript: each has an fs_struct of its own (so setns and chdir touch nothing else),
// all signals blocked, and returns to its home namespaces before anything but the next op
// for the same process (see Home in ops.h).
//
// The main thread queues a job (one batch of ops) and returns at once, waking at most one
// thread; the pool threads share the ops out, each waking the next while work remains, and
// hand each outcome back through a thread-safe function (wake-ups of the event loop
// coalesce): JavaScript never waits, and the RCU waits of unmounts overlap.
#pragma once

#include <napi.h>
#include <pthread.h>

#include <atomic>
#include <deque>
#include <memory>
#include <vector>

#include "ops.h"

namespace linx {

struct Job;

// One op of a job, as queued, and as handed back to JavaScript when it is done.
struct Task {
  Job* job;
  size_t index;
};

// One batch from JavaScript. Its ops are independent requests (concurrent callers), so the
// pool threads share them out, and each outcome goes back as soon as it is known: a quick
// bind never waits for an unmount's RCU grace period.
struct Job {
  double id = 0;
  std::vector<Op> ops;
  std::vector<Outcome> outcomes;
  std::vector<Task> tasks;
  size_t delivered = 0;  // main thread only; the job is freed when all are delivered
};

struct PoolState;

void deliver(Napi::Env env, Napi::Function callback, PoolState* state, Task* task);
using Completion = Napi::TypedThreadSafeFunction<PoolState, Task, deliver>;

class Pool : public Napi::ObjectWrap<Pool> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Pool(const Napi::CallbackInfo& info);
  ~Pool() override;

 private:
  // submit(id, ops): queues the batch; undefined, or { stage, errno } if no thread could run it.
  Napi::Value Submit(const Napi::CallbackInfo& info);
  // close(onClosed): lets the threads finish the queued jobs, then calls onClosed.
  Napi::Value Close(const Napi::CallbackInfo& info);
  // stats(): { threads, idle, queued } for tests and benchmarks.
  Napi::Value Stats(const Napi::CallbackInfo& info);

  std::shared_ptr<PoolState> state_;
  bool closed_ = false;
};

}  // namespace linx
