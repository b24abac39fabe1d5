// Mount watches (see watch.h): the fanotify setup, the poller on the main loop, and the
// decoding of fanotify's mount events into compact records for JavaScript.
//
// The kernel headers this builds against may predate the API (fanotify mount events are
// 6.14, statmount(2) 6.8, NS_GET_MNTNS_ID 6.11), so the constants and structures are
// defined here from include/uapi/linux/{fanotify,mount,nsfs}.h; an older kernel refuses
// them at run time (EINVAL, ENOTTY, ENOSYS), which the JavaScript side turns into the
// mountinfo fallback.
#include "watch.h"

#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <string>
#include <vector>

#ifndef FAN_REPORT_MNT
#define FAN_REPORT_MNT 0x00004000
#endif
#ifndef FAN_MARK_MNTNS
#define FAN_MARK_MNTNS 0x00000110
#endif
#ifndef FAN_MNT_ATTACH
#define FAN_MNT_ATTACH 0x01000000ULL
#endif
#ifndef FAN_MNT_DETACH
#define FAN_MNT_DETACH 0x02000000ULL
#endif
// 7, not 6: 6 went to FAN_EVENT_INFO_TYPE_RANGE (pre-content events) in the same release.
// Checked on 6.18: the record of a mount event has info_type 7 and len 16.
#ifndef FAN_EVENT_INFO_TYPE_MNT
#define FAN_EVENT_INFO_TYPE_MNT 7
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

namespace linx {

namespace {

// include/uapi/linux/fanotify.h
struct MntInfo {
  struct fanotify_event_info_header hdr;
  uint64_t mnt_id;  // at offset 8: the header is 4 bytes, the id 8-aligned
};


// The record handed to JavaScript per event, little-endian whatever the host:
//   u8 kind (1 attach, 2 detach, 3 move, 4 overflow), 3 zero bytes,
//   u32 mount point length (0xffffffff: none), u64 unique mount id,
//   then the mount point's bytes (no NUL, no padding).
constexpr uint8_t kAttach = 1, kDetach = 2, kMove = 3, kOverflow = 4;
constexpr uint32_t kNoPoint = 0xffffffffU;
constexpr size_t kRecordHeader = 16;
// A mount event is 40 bytes (24 of metadata, 16 of info record), an overflow 24.
constexpr size_t kEventBytes = 40;
constexpr size_t kReadMax = 4096;
// A mount point is at most PATH_MAX from d_path, but statmount's buffer also holds the fixed
// part; grown on EOVERFLOW up to this.
constexpr size_t kStatmountInitial = 8192;
constexpr size_t kStatmountMax = 1 << 20;

int retryOpen(const char* path, int flags) {
  int fd;
  do fd = open(path, flags);
  while (fd < 0 && errno == EINTR);
  return fd;
}

void putLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; i++) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putLe64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; i++) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

Napi::Object failureObject(Napi::Env env, const char* stage, int errnum) {
  Napi::Object failure = Napi::Object::New(env);
  failure.Set("stage", Napi::String::New(env, stage));
  failure.Set("errno", Napi::Number::New(env, errnum));
  return failure;
}

bool pathArgument(const Napi::CallbackInfo& info, const char* what, std::string* out) {
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(what) + "(path: string)").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[0].As<Napi::String>().Utf8Value();
  // A NUL byte would silently cut the path short in the kernel: refuse it.
  if (out->empty() || out->find('\0') != std::string::npos) {
    Napi::TypeError::New(info.Env(), std::string(what) + ": path must be non-empty, without NUL bytes")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace

WatchFailure openMountWatch(int nsFd, int* fd, uint64_t* nsId) {
  uint64_t id = 0;
  if (ioctl(nsFd, sys::kNsGetMntnsId, &id) < 0) return {Stage::MntnsId, errno};
  int group = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_MNT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_CLOEXEC);
  if (group < 0) return {Stage::FanotifyInit, errno};
  if (fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_MNTNS, FAN_MNT_ATTACH | FAN_MNT_DETACH, nsFd, nullptr) < 0) {
    int e = errno;
    close(group);
    return {Stage::FanotifyMark, e};
  }
  *fd = group;
  *nsId = id;
  return {Stage::Thread, 0};
}

namespace {

class Poller;

// The libuv side of a poller; outlives the JavaScript object until libuv has closed the
// handle. Main thread only.
struct PollState {
  uv_poll_t handle;
  napi_env env = nullptr;
  napi_ref onReady = nullptr;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
  Poller* owner = nullptr;
  int fd = -1;
  int events = 0;
  bool armed = false;
  bool closing = false;
};

void onHandleClosed(uv_handle_t* handle);

// Stops polling, closes the descriptor and lets go of the callback; the state itself is
// freed once libuv has closed the handle. Idempotent.
void beginClose(PollState* s) {
  if (s->closing) return;
  s->closing = true;
  // Stopped first: libuv removes the descriptor from epoll here, so closing it is safe.
  uv_poll_stop(&s->handle);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  if (s->onReady != nullptr) napi_delete_reference(s->env, s->onReady);
  s->onReady = nullptr;
  if (s->context != nullptr) napi_async_destroy(s->env, s->context);
  s->context = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&s->handle), onHandleClosed);
}

// At environment teardown (a worker thread ending with a watch open): the handle must be
// closed before the loop is, and Node waits for this hook to be removed.
void onCleanup(napi_async_cleanup_hook_handle, void* arg) { beginClose(static_cast<PollState*>(arg)); }

void onPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* s = static_cast<PollState*>(handle->data);
  // fanotify: one shot, JavaScript re-arms when it wants more; its readiness is a level
  // (events queued), and a poll left running while the consumer is behind would call back
  // on every turn of the loop. mountinfo: never stopped. Its POLLPRI is an edge that the
  // kernel's poll hands out once: epoll, on (re)registering a descriptor, polls it once to
  // decide it is ready and again to report it, so a change made while the descriptor was
  // unregistered would be taken by the first poll and never reported.
  if (s->events == UV_READABLE || status < 0) {
    uv_poll_stop(handle);
    s->armed = false;
  }
  if (s->closing || s->onReady == nullptr) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argument, result;
  if (napi_get_reference_value(env, s->onReady, &callback) == napi_ok && callback != nullptr &&
      napi_get_global(env, &receiver) == napi_ok &&  // make_callback wants an object
      napi_create_int32(env, status < 0 ? -status : 0, &argument) == napi_ok) {
    // make_callback, not call_function: promise jobs and nextTicks queued by the callback
    // run when it returns, as after any other I/O callback.
    napi_status called = napi_make_callback(env, s->context, receiver, callback, 1, &argument, &result);
    bool pending = false;
    if (called != napi_ok && napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {InstanceMethod<&Poller::Arm>("arm"), InstanceMethod<&Poller::Read>("read"),
                        InstanceMethod<&Poller::Close>("close")});
  }

  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    // The descriptor is ours as soon as it is named: closed on every failure below.
    int fd = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
    bool lossless = false;
    int kind = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
    uint64_t nsId = info.Length() > 2 && info[2].IsBigInt() ? info[2].As<Napi::BigInt>().Uint64Value(&lossless) : 0;
    if (fd < 0 || (kind != 0 && kind != 1) || !lossless || info.Length() < 4 || !info[3].IsFunction()) {
      if (fd >= 0) close(fd);
      Napi::TypeError::New(env, "new Poller(fd: number, kind: 0 | 1, nsId: bigint, onReady: function)")
          .ThrowAsJavaScriptException();
      return;
    }
    nsId_ = nsId;
    fanotify_ = kind == 0;
    auto* s = new PollState();
    s->env = env;
    s->fd = fd;  // owned from here on, whatever happens next
    s->owner = this;
    s->events = fanotify_ ? UV_READABLE : UV_PRIORITIZED;
    s->handle.data = s;
    uv_loop_t* loop = nullptr;
    int e = napi_get_uv_event_loop(env, &loop) == napi_ok && loop != nullptr
                ? uv_poll_init(loop, &s->handle, fd)
                : UV_EINVAL;
    if (e != 0) {
      close(fd);
      delete s;
      Napi::Error::New(env, std::string("Poller: uv_poll_init: ") + uv_strerror(e)).ThrowAsJavaScriptException();
      return;
    }
    state_ = s;
    napi_create_reference(env, info[3], 1, &s->onReady);
    napi_value resource = Napi::Object::New(env);
    napi_async_init(env, resource, Napi::String::New(env, "linx-mount:watch"), &s->context);
    napi_add_async_cleanup_hook(env, onCleanup, s, &s->hook);
  }

  ~Poller() override {
    if (state_ != nullptr) {
      state_->owner = nullptr;
      beginClose(state_);
    }
  }

  void forget() { state_ = nullptr; }

 private:
  // arm(): fanotify: polls once (until onReady); mountinfo: starts polling for good (onReady
  // at every change); idempotent. undefined, or { stage: "watch_read", errno }.
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_ == nullptr || state_->closing) return failureObject(env, "watch_read", EBADF);
    if (state_->armed) return env.Undefined();
    int e = uv_poll_start(&state_->handle, state_->events, onPoll);
    if (e != 0) return failureObject(env, "watch_read", -e);
    state_->armed = true;
    return env.Undefined();
  }

  // read(maxEvents): the events queued now, at most about maxEvents of them, as records
  // (see kRecordHeader); an empty buffer when there are none.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!fanotify_) {
      Napi::TypeError::New(env, "read() is for fanotify pollers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (state_ == nullptr || state_->closing) return failureObject(env, "watch_read", EBADF);
    double max = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 1;
    if (!(max >= 1)) max = 1;
    if (max > 1e6) max = 1e6;
    size_t wanted = static_cast<size_t>(max);
    // Sized to what the caller has room for, so the kernel keeps the rest (its queue is
    // bounded and reports its own overflow).
    size_t bytes = wanted * kEventBytes;
    if (bytes > kReadMax) bytes = kReadMax;
    if (bytes < kEventBytes) bytes = kEventBytes;
    alignas(8) char buf[kReadMax];
    std::string out;
    size_t count = 0;
    while (count < wanted) {
      ssize_t n = read(state_->fd, buf, bytes);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return failureObject(env, "watch_read", errno);
      }
      if (n == 0) break;
      int e = decode(buf, static_cast<size_t>(n), &out, &count);
      if (e != 0) return failureObject(env, "watch_read", e);
    }
    return Napi::Buffer<char>::Copy(env, out.data(), out.size());
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (state_ != nullptr) {
      PollState* s = state_;
      state_ = nullptr;
      s->owner = nullptr;
      beginClose(s);
    }
    return info.Env().Undefined();
  }

  // Decodes whole events; 0, or EPROTO for a reply this code does not understand.
  int decode(const char* buf, size_t n, std::string* out, size_t* count) {
    size_t off = 0;
    while (off + sizeof(fanotify_event_metadata) <= n) {
      fanotify_event_metadata meta;
      std::memcpy(&meta, buf + off, sizeof meta);
      if (meta.vers != FANOTIFY_METADATA_VERSION || meta.event_len < meta.metadata_len ||
          meta.metadata_len < sizeof meta || off + meta.event_len > n) {
        return EPROTO;
      }
      // A mount group never gets descriptors; closed all the same, so none can leak.
      if (meta.fd >= 0) close(meta.fd);
      if (meta.mask & FAN_Q_OVERFLOW) {
        record(out, kOverflow, 0, nullptr, 0);
        ++*count;
      } else if (meta.mask & (FAN_MNT_ATTACH | FAN_MNT_DETACH)) {
        uint64_t id = 0;
        bool found = false;
        // The info records: skip the metadata, walk them by their own lengths.
        size_t info = off + meta.metadata_len;
        size_t end = off + meta.event_len;
        while (info + sizeof(fanotify_event_info_header) <= end) {
          fanotify_event_info_header hdr;
          std::memcpy(&hdr, buf + info, sizeof hdr);
          if (hdr.len < sizeof hdr || info + hdr.len > end) return EPROTO;
          if (hdr.info_type == FAN_EVENT_INFO_TYPE_MNT && hdr.len >= sizeof(MntInfo)) {
            std::memcpy(&id, buf + info + offsetof(MntInfo, mnt_id), sizeof id);
            found = true;
          }
          info += hdr.len;
        }
        if (found) {
          bool attach = meta.mask & FAN_MNT_ATTACH, detach = meta.mask & FAN_MNT_DETACH;
          uint8_t kind = attach && detach ? kMove : attach ? kAttach : kDetach;
          if (attach) {
            // Where the mount is now (it may have moved or gone since the event).
            const char* point = nullptr;
            size_t length = 0;
            if (mountPoint(id, &point, &length)) record(out, kind, id, point, length);
            else record(out, kind, id, nullptr, 0);
          } else {
            record(out, kind, id, nullptr, 0);
          }
          ++*count;
        }
      }
      off += meta.event_len;
      if (meta.event_len == 0) break;
    }
    return 0;
  }

  static void record(std::string* out, uint8_t kind, uint64_t id, const char* point, size_t length) {
    out->push_back(static_cast<char>(kind));
    out->append(3, '\0');
    putLe32(out, point == nullptr ? kNoPoint : static_cast<uint32_t>(length));
    putLe64(out, id);
    if (point != nullptr) out->append(point, length);
  }

  // statmount(STATMOUNT_MNT_POINT) in the watched namespace, relative to its root; false
  // when the kernel cannot tell (the mount has left the namespace: ENOENT).
  bool mountPoint(uint64_t id, const char** point, size_t* length) {
    if (statmount_.size() < kStatmountInitial) statmount_.resize(kStatmountInitial);
    sys::MountIdRequest req;
    req.mountId = id;
    req.param = sys::kStatmountMntPoint;
    req.mountNsId = nsId_;
    for (;;) {
      long r = sys::statmount(req, statmount_.data(), statmount_.size());
      if (r == 0) break;
      if (errno == EINTR) continue;
      if (errno != EOVERFLOW || statmount_.size() >= kStatmountMax) return false;
      statmount_.resize(statmount_.size() * 2);
    }
    const auto* sm = reinterpret_cast<const sys::Statmount*>(statmount_.data());
    uint32_t size = sm->size;
    uint32_t offset = sm->mnt_point;
    if (!(sm->mask & sys::kStatmountMntPoint) || size > statmount_.size() || size <= sizeof(sys::Statmount))
      return false;
    size_t strBytes = size - sizeof(sys::Statmount);
    if (offset >= strBytes) return false;
    const char* s = sm->str + offset;
    const void* nul = std::memchr(s, '\0', strBytes - offset);
    if (nul == nullptr) return false;
    *length = static_cast<size_t>(static_cast<const char*>(nul) - s);
    // Empty: the mount is outside the root the path would be relative to.
    if (*length == 0) return false;
    *point = s;
    return true;
  }

  PollState* state_ = nullptr;
  uint64_t nsId_ = 0;
  bool fanotify_ = true;
  std::vector<char> statmount_;
};

void onHandleClosed(uv_handle_t* handle) {
  auto* s = static_cast<PollState*>(handle->data);
  if (s->owner != nullptr) s->owner->forget();
  if (s->hook != nullptr) napi_remove_async_cleanup_hook(s->hook);
  delete s;
}

Napi::Value OpenMountInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!pathArgument(info, "openMountInfo", &path)) return env.Undefined();
  int fd = retryOpen(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return failureObject(env, "read", errno);
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  return result;
}

Napi::Value UniqueMountId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!pathArgument(info, "uniqueMountId", &path)) return env.Undefined();
  struct statx stx;
  if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE, &stx) < 0) {
    return failureObject(env, "statx", errno);
  }
  if (!(stx.stx_mask & STATX_MNT_ID_UNIQUE)) return failureObject(env, "statx", ENOSYS);
  return Napi::BigInt::New(env, static_cast<uint64_t>(stx.stx_mnt_id));
}

}  // namespace

Napi::Object DefineWatch(Napi::Env env) {
  Napi::Object watch = Napi::Object::New(env);
  watch.Set("openMountInfo", Napi::Function::New(env, OpenMountInfo, "openMountInfo"));
  watch.Set("Poller", Poller::Define(env));
  watch.Set("uniqueMountId", Napi::Function::New(env, UniqueMountId, "uniqueMountId"));
  watch.Freeze();
  return watch;
}

}  // namespace linx
