#include "read.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace linx {

namespace {

// The read buffer: at least two chunks, doubled only for a line longer than that.
constexpr size_t kInitialCapacity = 64 * 1024;
// procfs makes each page as it is read: a 10,000-mount table is ~20 ms of kernel work in
// ~200 reads, during which this thread never sleeps. On a small machine (2 vCPUs, a
// non-preemptible kernel) the main thread, woken by a timer, can then wait for the CPU for
// a scheduler tick or more. Yielding every few reads bounds that wait (measured: 1 ms timer
// late by ~5 ms → ~2 ms during the read); with nothing else runnable it costs one syscall.
constexpr unsigned kReadsPerYield = 8;

class ReadWorker : public Napi::AsyncProgressQueueWorker<char> {
 public:
  ReadWorker(const Napi::Function& onChunk, const Napi::Function& callback, std::string path,
             size_t maxBytes, size_t chunkBytes)
      : Napi::AsyncProgressQueueWorker<char>(callback, "linx-mount:readFile"),
        onChunk_(Napi::Persistent(onChunk)),
        path_(std::move(path)),
        maxBytes_(maxBytes),
        chunkBytes_(chunkBytes) {}
  ~ReadWorker() override { free(data_); }

 protected:
  // On a libuv threadpool thread: no JavaScript, no N-API.
  void Execute(const ExecutionProgress& progress) override {
    // O_NONBLOCK: opening a FIFO must not wait for a writer, nor a read for its data.
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
      errno_ = errno;
      return;
    }
    errno_ = readAll(fd, progress);
    close(fd);  // whatever it says, the bytes read are what they are
  }

  // On the main thread, in order, before OnOK: one slice of whole lines.
  void OnProgress(const char* data, size_t count) override {
    if (data == nullptr || count == 0 || errno_ != 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    napi_value buffer = nullptr;
    if (napi_create_buffer_copy(env, count, data, nullptr, &buffer) != napi_ok) {
      failedChunk_ = true;  // out of memory: the table is incomplete, reported as ENOMEM
      return;
    }
    onChunk_.Call({buffer});
  }

  void OnOK() override {
    Napi::Env env = Env();
    int e = errno_ != 0 ? errno_ : failedChunk_ ? ENOMEM : 0;
    if (e != 0) {
      Napi::Object failure = Napi::Object::New(env);
      failure.Set("stage", Napi::String::New(env, "read"));
      failure.Set("errno", Napi::Number::New(env, e));
      Callback().Call({failure});
      return;
    }
    Callback().Call({env.Null()});
  }

 private:
  // Reads until EOF, handing each run of whole lines past chunkBytes to JavaScript as soon
  // as it is read, so the parse overlaps the kernel's work; 0 or an errno.
  int readAll(int fd, const ExecutionProgress& progress) {
    size_t capacity = kInitialCapacity;
    if (capacity < chunkBytes_ * 2) capacity = chunkBytes_ * 2;
    data_ = static_cast<char*>(malloc(capacity));
    if (data_ == nullptr) return ENOMEM;
    size_t total = 0;  // bytes read so far, against maxBytes
    // Just past the last newline in the buffer, 0 when there is none: each byte is scanned
    // once, however long a line grows.
    size_t wholeLines = 0;
    unsigned reads = 0;
    for (;;) {
      if (length_ == capacity) {
        // A line longer than the buffer: grow it, never past maxBytes + 1.
        size_t grown = capacity > (maxBytes_ + 1) / 2 ? maxBytes_ + 1 : capacity * 2;
        char* more = static_cast<char*>(realloc(data_, grown));
        if (more == nullptr) return ENOMEM;
        data_ = more;
        capacity = grown;
      }
      size_t room = capacity - length_;
      // One byte past the limit tells "exactly maxBytes" from "more".
      if (room > maxBytes_ + 1 - total) room = maxBytes_ + 1 - total;
      ssize_t n = read(fd, data_ + length_, room);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;  // EISDIR for a directory, EAGAIN for a FIFO whose writer is idle
      }
      if (n == 0) break;
      char* last = static_cast<char*>(memrchr(data_ + length_, '\n', static_cast<size_t>(n)));
      length_ += static_cast<size_t>(n);
      total += static_cast<size_t>(n);
      if (total > maxBytes_) return EFBIG;
      if (last != nullptr) wholeLines = static_cast<size_t>(last - data_) + 1;
      if (length_ >= chunkBytes_ && wholeLines > 0) {
        // Send up to the last newline; a line is never cut (nor a UTF-8 sequence in it).
        progress.Send(data_, wholeLines);
        memmove(data_, data_ + wholeLines, length_ - wholeLines);
        length_ -= wholeLines;
        wholeLines = 0;
      }
      if (++reads % kReadsPerYield == 0) sched_yield();
    }
    if (length_ > 0) progress.Send(data_, length_);
    length_ = 0;
    return 0;
  }

  Napi::FunctionReference onChunk_;
  std::string path_;
  size_t maxBytes_;
  size_t chunkBytes_;
  char* data_ = nullptr;
  size_t length_ = 0;
  int errno_ = 0;
  bool failedChunk_ = false;
};

Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsFunction() || !info[4].IsFunction()) {
    Napi::TypeError::New(env,
                         "readFile(path: string, maxBytes: number, chunkBytes: number, "
                         "onChunk: function, callback: function)")
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
  double chunk = info[2].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(chunk) || chunk < 1 || chunk > 64 * 1024 * 1024 || std::floor(chunk) != chunk) {
    Napi::TypeError::New(env, "readFile: chunkBytes must be an integer from 1 to 64 MiB")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new ReadWorker(info[3].As<Napi::Function>(), info[4].As<Napi::Function>(),
                                std::move(path), static_cast<size_t>(max), static_cast<size_t>(chunk));
  worker->Queue();
  return env.Undefined();
}

}  // namespace

Napi::Function DefineReadFile(Napi::Env env) { return Napi::Function::New(env, ReadFile, "readFile"); }

}  // namespace linx
