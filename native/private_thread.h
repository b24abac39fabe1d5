// A long-lived native thread, private to the addon, that performs the ops which enter
// another namespace or change the working directory. One per JavaScript thread that uses
// the addon; it owns an unshared fs_struct and returns home after every op.
#pragma once

#include <pthread.h>

#include <vector>

#include "ops.h"

namespace linx {

class PrivateThread {
 public:
  PrivateThread() = default;
  PrivateThread(const PrivateThread&) = delete;
  PrivateThread& operator=(const PrivateThread&) = delete;
  ~PrivateThread();

  // Runs ops[i] for every i in order on the private thread and fills outcomes; blocks the
  // caller until done. Starts the thread on first use, and again after one was retired.
  void run(const std::vector<Op>& ops, std::vector<Outcome>& outcomes);

 private:
  static void* main(void* self);
  void loop();
  bool start(Outcome* failure);
  void stop();

  pthread_t thread_{};
  bool running_ = false;
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake_ = PTHREAD_COND_INITIALIZER;
  pthread_cond_t done_ = PTHREAD_COND_INITIALIZER;
  // Guarded by mutex_.
  const std::vector<Op>* ops_ = nullptr;
  std::vector<Outcome>* outcomes_ = nullptr;
  bool quit_ = false;
  bool ready_ = false;      // start-up finished (see startFailure_)
  Outcome startFailure_{};  // why start-up failed, if it did
  bool retired_ = false;    // the thread lost its home namespace and has exited
  Home home_{};
};

}  // namespace linx
