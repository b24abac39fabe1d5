// readFile / readFileSync: a whole file (a mountinfo table) read into one Buffer, with a cap.
//
// procfs hands mountinfo out one page per read(2), so a 10,000-mount table takes ~190
// reads; issued from JavaScript, each would be a threadpool job plus a main-thread round
// trip. Here the whole read loop is one job on libuv's threadpool (a plain AsyncWorker: no
// thread, queue or thread-safe function of our own), and JavaScript gets one Buffer back,
// which it parses in slices, one per event-loop turn (src/internal/tables.ts).
#pragma once

#include <napi.h>

#include <cstddef>
#include <string>

namespace linx {

// Bytes owned by malloc, handed to JavaScript without a copy when the runtime allows it.
struct Bytes {
  char* data = nullptr;
  size_t length = 0;
  size_t capacity = 0;
  Bytes() = default;
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  ~Bytes();
  // Room for `more` bytes past `length`, never past `limit` in all: 0, ENOMEM or EFBIG.
  int reserve(size_t more, size_t limit);
};

// A Buffer holding the bytes (ownership moves to it; `bytes` is left empty), or an empty
// handle with a pending JavaScript exception when even that allocation failed.
Napi::Value ToBuffer(Napi::Env env, Bytes* bytes);

// { stage, errno }, the shape every native failure reaches JavaScript in.
Napi::Object Failure(Napi::Env env, const char* stage, int err);

// Reads the whole of `path` (opened O_RDONLY|O_CLOEXEC|O_NONBLOCK|O_NOCTTY: a FIFO or a
// terminal never holds the thread) into `out`: 0, or the errno (EFBIG past maxBytes).
int ReadWholeFile(const char* path, size_t maxBytes, Bytes* out);

// The JavaScript function `readFile(path: string, maxBytes: number, callback: (failure:
// { stage: "read", errno } | null, bytes?: Buffer) => void): void`. Wrong argument types
// throw a TypeError synchronously; every kernel failure (open, read, more than maxBytes:
// EFBIG) reaches the callback.
Napi::Function DefineReadFile(Napi::Env env);

// The JavaScript function `readFileSync(path: string, maxBytes: number): Buffer | { stage:
// "read", errno }`: the same read on the calling thread, for the command-line tool.
Napi::Function DefineReadFileSync(Napi::Env env);

// Argument checks shared with tables.cc; each throws a TypeError and returns false.
bool ArgPath(const Napi::CallbackInfo& info, size_t index, const char* fn, std::string* out);
bool ArgSize(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name,
             double min, double max, size_t* out);

}  // namespace linx
