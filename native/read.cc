#include "read.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <string>

namespace linx {

namespace {

// The first allocation; procfs gives at most a page per read whatever the room.
constexpr size_t kFirstRead = 64 * 1024;
// procfs makes each page as it is read: a 10,000-mount table is ~20 ms of kernel work in
// ~200 reads, during which this thread never sleeps. On a small machine (2 vCPUs, a
// non-preemptible kernel) the main thread, woken by a timer, can then wait for the CPU for
// a scheduler tick or more. Yielding every few reads bounds that wait (measured: 1 ms timer
// late by ~5 ms -> ~2 ms during the read); with nothing else runnable it costs one syscall.
constexpr unsigned kReadsPerYield = 8;

void FreeBytes(napi_env, void* data, void*) { free(data); }

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(const Napi::Function& callback, std::string path, size_t maxBytes)
      : Napi::AsyncWorker(callback, "linx-mount:readFile"), path_(std::move(path)), maxBytes_(maxBytes) {}

 protected:
  // On a libuv threadpool thread: no JavaScript, no N-API.
  void Execute() override { err_ = ReadWholeFile(path_.c_str(), maxBytes_, &bytes_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Callback().Call({Failure(env, "read", err_)});
      return;
    }
    Napi::Value buffer = ToBuffer(env, &bytes_);
    if (buffer.IsEmpty()) return;  // the pending exception reaches the caller's uncaught handler
    Callback().Call({env.Null(), buffer});
  }

 private:
  std::string path_;
  size_t maxBytes_;
  Bytes bytes_;
  int err_ = 0;
};

Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  size_t max = 0;
  if (!ArgPath(info, 0, "readFile", &path) || !ArgSize(info, 1, "readFile", "maxBytes", 0, 1 << 30, &max))
    return env.Undefined();
  if (info.Length() < 3 || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "readFile: callback must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  (new ReadWorker(info[2].As<Napi::Function>(), std::move(path), max))->Queue();
  return env.Undefined();
}

Napi::Value ReadFileSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  size_t max = 0;
  if (!ArgPath(info, 0, "readFileSync", &path) ||
      !ArgSize(info, 1, "readFileSync", "maxBytes", 0, 1 << 30, &max))
    return env.Undefined();
  Bytes bytes;
  int err = ReadWholeFile(path.c_str(), max, &bytes);
  if (err != 0) return Failure(env, "read", err);
  return ToBuffer(env, &bytes);
}

}  // namespace

Bytes::~Bytes() { free(data); }

int Bytes::reserve(size_t more, size_t limit) {
  if (more > limit || length > limit - more) return EFBIG;
  if (length + more <= capacity) return 0;
  size_t grown = capacity < 4096 ? 4096 : capacity;
  while (grown < length + more) grown = grown > limit / 2 ? limit : grown * 2;
  char* next = static_cast<char*>(realloc(data, grown));
  if (next == nullptr) return ENOMEM;
  data = next;
  capacity = grown;
  return 0;
}

Napi::Value ToBuffer(Napi::Env env, Bytes* bytes) {
  napi_value result = nullptr;
  if (bytes->length == 0) {
    void* unused = nullptr;
    if (napi_create_buffer(env, 0, &unused, &result) != napi_ok) return Napi::Value();
    return Napi::Value(env, result);
  }
  // Handed over as is; a runtime that refuses external buffers (a V8 sandbox) gets a copy.
  if (napi_create_external_buffer(env, bytes->length, bytes->data, FreeBytes, nullptr, &result) ==
      napi_ok) {
    bytes->data = nullptr;
    bytes->length = bytes->capacity = 0;
    return Napi::Value(env, result);
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  if (napi_create_buffer_copy(env, bytes->length, bytes->data, nullptr, &result) != napi_ok)
    return Napi::Value();
  return Napi::Value(env, result);
}

Napi::Object Failure(Napi::Env env, const char* stage, int err) {
  Napi::Object failure = Napi::Object::New(env);
  failure.Set("stage", Napi::String::New(env, stage));
  failure.Set("errno", Napi::Number::New(env, err));
  return failure;
}

int ReadWholeFile(const char* path, size_t maxBytes, Bytes* out) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer, nor a read for its data.
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return errno;
  int err = 0;
  struct stat st;
  // A regular file announces its size: one past the cap is refused before any read.
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > maxBytes) {
    err = EFBIG;
  }
  // One byte past the limit tells "exactly maxBytes" from "more".
  const size_t limit = maxBytes + 1;
  unsigned reads = 0;
  while (err == 0) {
    if (++reads % kReadsPerYield == 0) sched_yield();
    if (out->length == out->capacity) {
      // Doubling: O(log n) reallocations however large the table.
      size_t more = out->capacity < kFirstRead ? kFirstRead : out->capacity;
      if (more > limit - out->length) more = limit - out->length;
      err = out->reserve(more, limit);
      if (err != 0) break;
    }
    size_t room = out->capacity - out->length;
    if (room > limit - out->length) room = limit - out->length;
    ssize_t n = read(fd, out->data + out->length, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;  // EISDIR for a directory, EAGAIN for a FIFO whose writer is idle
      break;
    }
    if (n == 0) break;
    out->length += static_cast<size_t>(n);
    if (out->length > maxBytes) err = EFBIG;
  }
  close(fd);  // read-only: whatever close says, the bytes read are what they are
  return err;
}

bool ArgPath(const Napi::CallbackInfo& info, size_t index, const char* fn, std::string* out) {
  Napi::Env env = info.Env();
  if (info.Length() <= index || !info[index].IsString()) {
    Napi::TypeError::New(env, std::string(fn) + ": path must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  // A NUL byte would silently cut the path short in the kernel: refuse it.
  if (out->empty() || out->find('\0') != std::string::npos) {
    Napi::TypeError::New(env, std::string(fn) + ": path must be a non-empty string without NUL bytes")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

bool ArgSize(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name,
             double min, double max, size_t* out) {
  double d = info.Length() > index && info[index].IsNumber() ? info[index].As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d < min || d > max || std::floor(d) != d) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be an integer in range")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<size_t>(d);
  return true;
}

Napi::Function DefineReadFile(Napi::Env env) { return Napi::Function::New(env, ReadFile, "readFile"); }

Napi::Function DefineReadFileSync(Napi::Env env) {
  return Napi::Function::New(env, ReadFileSync, "readFileSync");
}

}  // namespace linx
