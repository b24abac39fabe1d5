#include "read.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace linx {

namespace {

// procfs reports a size of 0 and returns a page per read(2): start here and double.
constexpr size_t kInitialCapacity = 64 * 1024;
// Above this many bytes of slack the buffer is shrunk before it is handed over.
constexpr size_t kShrinkSlack = 64 * 1024;
// procfs makes each page as it is read: a 10,000-mount table is ~20 ms of kernel work in
// ~200 reads, during which this thread never sleeps. On a small machine (2 vCPUs, a
// non-preemptible kernel) the main thread, woken by a timer, can then wait for the CPU for
// a scheduler tick or more. Yielding every few reads bounds that wait (measured: 1 ms timer
// late by ~5 ms → ~2 ms during the read); with nothing else runnable it costs one syscall.
constexpr unsigned kReadsPerYield = 8;

void freeData(napi_env, void* data, void*) { free(data); }

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(const Napi::Function& callback, std::string path, size_t maxBytes)
      : Napi::AsyncWorker(callback, "linx-mount:readFile"), path_(std::move(path)), maxBytes_(maxBytes) {}

  ~ReadWorker() override { free(data_); }

 protected:
  // On a libuv threadpool thread: no JavaScript, no N-API.
  void Execute() override {
    // O_NONBLOCK: opening a FIFO must not wait for a writer, nor a read for its data.
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
      errno_ = errno;
      return;
    }
    errno_ = readAll(fd);
    close(fd);  // whatever it says, the bytes read are what they are
    if (errno_ != 0) {
      free(data_);
      data_ = nullptr;
      length_ = 0;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (errno_ != 0) {
      Napi::Object failure = Napi::Object::New(env);
      failure.Set("stage", Napi::String::New(env, "read"));
      failure.Set("errno", Napi::Number::New(env, errno_));
      Callback().Call({failure});
      return;
    }
    napi_value buffer = nullptr;
    if (length_ > 0) {
      // Hand the malloc'd bytes over as they are; V8 frees them with the Buffer. Where
      // external buffers are refused (some embedders), copy them once instead.
      if (napi_create_external_buffer(env, length_, data_, freeData, nullptr, &buffer) == napi_ok)
        data_ = nullptr;
      else
        buffer = nullptr;
    }
    if (buffer == nullptr && napi_create_buffer_copy(env, length_, data_, nullptr, &buffer) != napi_ok) {
      // Out of memory for the copy: report it like any other failure.
      Napi::Object failure = Napi::Object::New(env);
      failure.Set("stage", Napi::String::New(env, "read"));
      failure.Set("errno", Napi::Number::New(env, ENOMEM));
      Callback().Call({failure});
      return;
    }
    free(data_);
    data_ = nullptr;
    Callback().Call({env.Null(), buffer});
  }

 private:
  // Reads until EOF into data_/length_; 0 or an errno.
  int readAll(int fd) {
    size_t capacity = kInitialCapacity;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      if (static_cast<uint64_t>(st.st_size) > maxBytes_) return EFBIG;
      // A regular file announces its size: one read and the EOF read fit at once.
      capacity = static_cast<size_t>(st.st_size) + 1;
    }
    // One byte past the limit tells "exactly maxBytes" from "more".
    if (capacity > maxBytes_ + 1) capacity = maxBytes_ + 1;
    data_ = static_cast<char*>(malloc(capacity));
    if (data_ == nullptr) return ENOMEM;
    unsigned reads = 0;
    for (;;) {
      if (length_ == capacity) {
        if (capacity > maxBytes_) return EFBIG;
        size_t grown = capacity > (maxBytes_ + 1) / 2 ? maxBytes_ + 1 : capacity * 2;
        char* more = static_cast<char*>(realloc(data_, grown));
        if (more == nullptr) return ENOMEM;
        data_ = more;
        capacity = grown;
      }
      ssize_t n = read(fd, data_ + length_, capacity - length_);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;  // EISDIR for a directory, EAGAIN for a FIFO whose writer is idle
      }
      if (n == 0) break;
      length_ += static_cast<size_t>(n);
      if (++reads % kReadsPerYield == 0) sched_yield();
    }
    if (length_ > maxBytes_) return EFBIG;
    if (capacity - length_ > kShrinkSlack) {
      char* fitted = static_cast<char*>(realloc(data_, length_ > 0 ? length_ : 1));
      if (fitted != nullptr) data_ = fitted;
    }
    return 0;
  }

  std::string path_;
  size_t maxBytes_;
  char* data_ = nullptr;
  size_t length_ = 0;
  int errno_ = 0;
};

Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "readFile(path: string, maxBytes: number, callback: function)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  // A NUL byte would silently cut the path short in the kernel: refuse it.
  if (path.empty() || path.find('\0') != std::string::npos) {
    Napi::TypeError::New(env, "readFile: path must be a non-empty string without NUL bytes")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double max = info[1].As<Napi::Number>().DoubleValue();
  // 2^53: an exact integer, and far past any buffer malloc could give.
  if (!std::isfinite(max) || max < 0 || max > 9007199254740992.0 || std::floor(max) != max) {
    Napi::TypeError::New(env, "readFile: maxBytes must be a non-negative integer")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new ReadWorker(info[2].As<Napi::Function>(), std::move(path), static_cast<size_t>(max));
  worker->Queue();
  return env.Undefined();
}

}  // namespace

Napi::Function DefineReadFile(Napi::Env env) { return Napi::Function::New(env, ReadFile, "readFile"); }

}  // namespace linx
