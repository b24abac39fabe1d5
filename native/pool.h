// The addon's own threads. Every op runs on one of them, never on a thread that runs
// JavaScript: each has an fs_struct of its own (so setns and chdir touch nothing else),
// all signals blocked, and returns to its home namespaces after every op.
//
// The main thread queues a job (one batch of ops) and returns at once; a pool thread runs
// it and hands the outcomes back through a thread-safe function, so JavaScript is woken
// once per batch and never waits.
#pragma once

#include <napi.h>
#include <pthread.h>

#include <deque>
#include <memory>
#include <vector>

#include "ops.h"

namespace linx {

struct Job {
  double id = 0;
  std::vector<Op> ops;
  std::vector<Outcome> outcomes;
};

struct PoolState;

void deliver(Napi::Env env, Napi::Function callback, PoolState* state, Job* job);
using Completion = Napi::TypedThreadSafeFunction<PoolState, Job, deliver>;

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
