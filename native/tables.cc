#include "tables.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "read.h"
#include "syscalls.h"

namespace linx {

namespace {

using sys::Statmount;
constexpr uint64_t kSmSbBasic = sys::kStatmountSbBasic;
constexpr uint64_t kSmMntBasic = sys::kStatmountMntBasic;
constexpr uint64_t kSmMntRoot = sys::kStatmountMntRoot;
constexpr uint64_t kSmMntPoint = sys::kStatmountMntPoint;
constexpr uint64_t kSmFsType = sys::kStatmountFsType;
constexpr uint64_t kSmMntOpts = sys::kStatmountMntOpts;
constexpr uint64_t kSmFsSubtype = sys::kStatmountFsSubtype;
constexpr uint64_t kSmSbSource = sys::kStatmountSbSource;
constexpr uint64_t kSmSupportedMask = sys::kStatmountSupportedMask;
// Never STATMOUNT_PROPAGATE_FROM (0x4): it walks the peer groups, O(peers) per mount, the
// very cost this reader exists to avoid.
constexpr uint64_t kWanted = kSmSbBasic | kSmMntBasic | kSmMntRoot | kSmMntPoint | kSmFsType |
                             kSmMntOpts | kSmFsSubtype | kSmSbSource;


constexpr uint32_t kMountAttrRdonly = sys::kAttrRdonly, kMountAttrNosuid = sys::kAttrNosuid,
                   kMountAttrNodev = sys::kAttrNodev, kMountAttrNoexec = sys::kAttrNoexec,
                   kMountAttrAtime = sys::kAttrAtime, kMountAttrRelatime = 0x0, kMountAttrNoatime = 0x10,
                   kMountAttrStrictatime = 0x20, kMountAttrNodiratime = sys::kAttrNodiratime,
                   kMountAttrIdmap = sys::kAttrIdmap, kMountAttrNosymfollow = sys::kAttrNosymfollow;
constexpr uint32_t kSbRdonly = 0x1, kSbSynchronous = 0x10, kSbMandlock = 0x40, kSbDirsync = 0x80,
                   kSbLazytime = 0x2000000;


// Ids asked of listmount per call: 8 KiB, and ~1 ms of statmount calls between pages.
constexpr size_t kIdsPerPage = 1024;
// The first statmount buffer; doubled on EOVERFLOW (long overlayfs options, say).
constexpr size_t kFirstStatmountBytes = 16 * 1024;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The namespace id behind an nsfs file, or an errno (the stage is open_ns).
int OpenMountNamespace(const char* path, int* fd, uint64_t* id) {
  *fd = sys::openNamespace(AT_FDCWD, path, CLONE_NEWNS);
  if (*fd < 0) return -*fd;
  // ENOTTY here: an nsfs file of a kernel without NS_GET_MNTNS_ID (before 6.8), so without
  // listmount either.
  if (ioctl(*fd, sys::kNsGetMntnsId, id) != 0) return errno == ENOTTY ? ENOSYS : errno;
  return 0;
}

struct Table {
  size_t maxBytes;
  Bytes* out;
  // Where the previous record's strings are in out (offset, length): consecutive mounts
  // mostly share fstype, source and options, and a string stored once is decoded once.
  size_t prevOffset[kStringCount] = {};
  uint32_t prevLength[kStringCount] = {};
  bool havePrev = false;
};

// Whether any of the n bytes at s is >= 0x80, eight at a time.
bool HasHighByte(const char* s, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    memcpy(&word, s + i, 8);
    if (word & 0x8080808080808080ULL) return true;
  }
  for (; i < n; i++) {
    if (static_cast<unsigned char>(s[i]) >= 0x80) return true;
  }
  return false;
}

// The NUL-terminated string at offset `off` in sm's string area, or "" when the kernel
// did not set `bit` (it leaves empty strings unset) or the offset is out of bounds.
const char* StringAt(const Statmount* sm, uint64_t bit, uint32_t off, size_t* length) {
  *length = 0;
  if ((sm->mask & bit) == 0 || sm->size <= sizeof(Statmount)) return "";
  size_t area = sm->size - sizeof(Statmount);
  if (off >= area) return "";
  *length = strnlen(sm->str + off, area - off);
  return sm->str + off;
}

int Append(Table* t, const Statmount* sm) {
  const char* s[kStringCount];
  size_t len[kStringCount];
  s[0] = StringAt(sm, kSmMntRoot, sm->mnt_root, &len[0]);
  s[1] = StringAt(sm, kSmMntPoint, sm->mnt_point, &len[1]);
  s[2] = StringAt(sm, kSmFsType, sm->fs_type, &len[2]);
  s[3] = StringAt(sm, kSmFsSubtype, sm->fs_subtype, &len[3]);
  s[4] = StringAt(sm, kSmSbSource, sm->sb_source, &len[4]);
  s[5] = StringAt(sm, kSmMntOpts, sm->mnt_opts, &len[5]);
  // Not reachable from the reader's root: mountinfo leaves such a mount out too.
  if (len[1] == 0) return 0;

  bool same[kStringCount];
  size_t bytes = kRecordHeaderBytes;
  for (unsigned i = 0; i < kStringCount; i++) {
    if (len[i] > 0xfffffff0u) return EFBIG;
    same[i] = t->havePrev && len[i] > 0 && t->prevLength[i] == len[i] &&
              memcmp(t->out->data + t->prevOffset[i], s[i], len[i]) == 0;
    if (!same[i]) bytes += len[i];
  }
  bytes = (bytes + 7) & ~static_cast<size_t>(7);
  int err = t->out->reserve(bytes, t->maxBytes);
  if (err != 0) return err;

  char* rec = t->out->data + t->out->length;
  // The header and the padding are zeroed; the strings are written over the rest.
  memset(rec, 0, kRecordHeaderBytes);
  memset(rec + bytes - 8, 0, 8);
  uint32_t* w = reinterpret_cast<uint32_t*>(rec);
  uint64_t unique = sm->mnt_id;
  memcpy(rec, &unique, sizeof unique);
  w[2] = sm->mnt_id_old;
  w[3] = sm->mnt_parent_id_old;
  w[4] = sm->sb_dev_major;
  w[5] = sm->sb_dev_minor;
  w[6] = static_cast<uint32_t>(sm->mnt_attr);
  w[7] = sm->sb_flags;
  w[8] = static_cast<uint32_t>(sm->mnt_propagation);
  w[9] = static_cast<uint32_t>(sm->mnt_peer_group);
  w[10] = static_cast<uint32_t>(sm->mnt_master);
  w[18] = static_cast<uint32_t>(bytes);
  size_t at = t->out->length + kRecordHeaderBytes;
  uint32_t high = 0;
  for (unsigned i = 0; i < kStringCount; i++) {
    if (same[i]) {
      w[12 + i] = kSame;
      continue;
    }
    w[12 + i] = static_cast<uint32_t>(len[i]);
    memcpy(t->out->data + at, s[i], len[i]);
    if (HasHighByte(s[i], len[i])) high |= 1u << i;
    t->prevOffset[i] = at;
    t->prevLength[i] = static_cast<uint32_t>(len[i]);
    at += len[i];
  }
  w[11] = high;
  t->havePrev = true;
  t->out->length += bytes;
  return 0;
}

// The whole table into `out`; 0 or an errno, with *stage naming the step that failed.
int ListMountTable(const char* nsPath, size_t maxBytes, size_t maxMounts, Bytes* out,
                   const char** stage) {
  uint64_t nsId = 0;
  int rawFd = -1;
  *stage = "open_ns";
  int err = nsPath != nullptr ? OpenMountNamespace(nsPath, &rawFd, &nsId) : 0;
  // Held to the end: the namespace (and the process's pid) cannot go away meanwhile.
  Fd nsFd(rawFd);
  if (err != 0) return err;
  *stage = "read";

  size_t smBytes = kFirstStatmountBytes;
  Statmount* sm = static_cast<Statmount*>(malloc(smBytes));
  if (sm == nullptr) return ENOMEM;
  uint64_t* ids = static_cast<uint64_t*>(malloc(kIdsPerPage * sizeof(uint64_t)));
  if (ids == nullptr) {
    free(sm);
    return ENOMEM;
  }
  Table table{maxBytes, out};
  bool checked = false;
  size_t seen = 0;
  uint64_t last = 0;
  for (;;) {
    sys::MountIdRequest req;
    req.mountId = sys::kListmountRoot;
    req.param = last;
    req.mountNsId = nsId;
    long n = sys::listmount(req, ids, kIdsPerPage);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    seen += static_cast<size_t>(n);
    if (seen > maxMounts) {
      err = EFBIG;
      break;
    }
    for (long i = 0; i < n && err == 0; i++) {
      uint64_t mask = checked ? kWanted : kWanted | kSmSupportedMask;
      for (;;) {
        sys::MountIdRequest one;
        one.mountId = ids[i];
        one.param = mask;
        one.mountNsId = nsId;
        if (sys::statmount(one, sm, smBytes) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EOVERFLOW && smBytes < maxBytes + sizeof(Statmount)) {
          size_t grown = smBytes * 2;
          if (grown > maxBytes + sizeof(Statmount)) grown = maxBytes + sizeof(Statmount);
          void* more = realloc(sm, grown);
          if (more == nullptr) {
            err = ENOMEM;
            break;
          }
          sm = static_cast<Statmount*>(more);
          smBytes = grown;
          continue;
        }
        // ENOENT: unmounted since listmount listed it, so it is no longer in the table.
        // EOVERFLOW past the cap: this one mount's strings alone are more than the table may be.
        err = errno == ENOENT ? -1 : errno == EOVERFLOW ? EFBIG : errno;
        break;
      }
      if (err == -1) {
        err = 0;
        continue;
      }
      if (err != 0) break;
      if (!checked) {
        // A kernel that cannot say it fills every field we read (before 6.15) gets the
        // mountinfo reader instead: an empty string and an unsupported one look alike.
        if ((sm->mask & kSmSupportedMask) == 0 || (sm->supported_mask & kWanted) != kWanted) {
          err = ENOSYS;
          break;
        }
        checked = true;
      }
      err = Append(&table, sm);
    }
    if (err != 0 || static_cast<size_t>(n) < kIdsPerPage) break;
    last = ids[n - 1];
    // Between pages: let a main thread woken meanwhile have the CPU (see read.cc).
    sched_yield();
  }
  free(ids);
  free(sm);
  return err;
}

class ListWorker : public Napi::AsyncWorker {
 public:
  ListWorker(const Napi::Function& callback, bool self, std::string nsPath, size_t maxBytes,
             size_t maxMounts)
      : Napi::AsyncWorker(callback, "linx-mount:listMounts"),
        self_(self),
        nsPath_(std::move(nsPath)),
        maxBytes_(maxBytes),
        maxMounts_(maxMounts) {}

 protected:
  // On a libuv threadpool thread, which shares the process's namespace and root.
  void Execute() override {
    err_ = ListMountTable(self_ ? nullptr : nsPath_.c_str(), maxBytes_, maxMounts_, &bytes_, &stage_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Callback().Call({Failure(env, stage_, err_)});
      return;
    }
    Napi::Value buffer = ToBuffer(env, &bytes_);
    if (buffer.IsEmpty()) return;
    Callback().Call({env.Null(), buffer});
  }

 private:
  bool self_;
  std::string nsPath_;
  size_t maxBytes_;
  size_t maxMounts_;
  Bytes bytes_;
  int err_ = 0;
  const char* stage_ = "read";
};

// nsPath (null for this process), maxBytes, maxMounts; false with a TypeError thrown.
bool ListArgs(const Napi::CallbackInfo& info, const char* fn, bool* self, std::string* nsPath,
              size_t* maxBytes, size_t* maxMounts) {
  *self = info.Length() > 0 && info[0].IsNull();
  if (!*self && !ArgPath(info, 0, fn, nsPath)) return false;
  return ArgSize(info, 1, fn, "maxBytes", 0, 1 << 30, maxBytes) &&
         ArgSize(info, 2, fn, "maxMounts", 0, 1 << 30, maxMounts);
}

Napi::Value ListMounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool self = false;
  std::string nsPath;
  size_t maxBytes = 0, maxMounts = 0;
  if (!ListArgs(info, "listMounts", &self, &nsPath, &maxBytes, &maxMounts)) return env.Undefined();
  if (info.Length() < 4 || !info[3].IsFunction()) {
    Napi::TypeError::New(env, "listMounts: callback must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  (new ListWorker(info[3].As<Napi::Function>(), self, std::move(nsPath), maxBytes, maxMounts))->Queue();
  return env.Undefined();
}

Napi::Value ListMountsSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool self = false;
  std::string nsPath;
  size_t maxBytes = 0, maxMounts = 0;
  if (!ListArgs(info, "listMountsSync", &self, &nsPath, &maxBytes, &maxMounts)) return env.Undefined();
  Bytes bytes;
  const char* stage = "read";
  int err = ListMountTable(self ? nullptr : nsPath.c_str(), maxBytes, maxMounts, &bytes, &stage);
  if (err != 0) return Failure(env, stage, err);
  return ToBuffer(env, &bytes);
}

}  // namespace

Napi::Function DefineListMounts(Napi::Env env) { return Napi::Function::New(env, ListMounts, "listMounts"); }

Napi::Function DefineListMountsSync(Napi::Env env) {
  return Napi::Function::New(env, ListMountsSync, "listMountsSync");
}

Napi::Object TableLayout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { o.Set(name, Napi::Number::New(env, value)); };
  set("recordHeaderBytes", kRecordHeaderBytes);
  set("stringCount", kStringCount);
  set("same", kSame);
  set("MOUNT_ATTR_RDONLY", kMountAttrRdonly);
  set("MOUNT_ATTR_NOSUID", kMountAttrNosuid);
  set("MOUNT_ATTR_NODEV", kMountAttrNodev);
  set("MOUNT_ATTR_NOEXEC", kMountAttrNoexec);
  set("MOUNT_ATTR__ATIME", kMountAttrAtime);
  set("MOUNT_ATTR_RELATIME", kMountAttrRelatime);
  set("MOUNT_ATTR_NOATIME", kMountAttrNoatime);
  set("MOUNT_ATTR_STRICTATIME", kMountAttrStrictatime);
  set("MOUNT_ATTR_NODIRATIME", kMountAttrNodiratime);
  set("MOUNT_ATTR_IDMAP", kMountAttrIdmap);
  set("MOUNT_ATTR_NOSYMFOLLOW", kMountAttrNosymfollow);
  set("SB_RDONLY", kSbRdonly);
  set("SB_SYNCHRONOUS", kSbSynchronous);
  set("SB_MANDLOCK", kSbMandlock);
  set("SB_DIRSYNC", kSbDirsync);
  set("SB_LAZYTIME", kSbLazytime);
  set("MS_SHARED", MS_SHARED);
  set("MS_SLAVE", MS_SLAVE);
  set("MS_UNBINDABLE", MS_UNBINDABLE);
  o.Freeze();
  return o;
}

}  // namespace linx
