// The mount API's newer syscalls, called raw: glibc wraps some of them only from 2.36 and
// none of statx's newer bits, so one prebuild loads on older distributions too. Every name
// here is our own (k…, linx::…) so it never clashes with what a newer libc or kernel header
// defines.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace linx::sys {

// Syscall numbers of the unified table (the same on x86_64 and aarch64).
constexpr long kOpenTree = 428;
constexpr long kMoveMount = 429;
constexpr long kFsopen = 430;
constexpr long kFsconfig = 431;
constexpr long kFsmount = 432;
constexpr long kFspick = 433;
constexpr long kOpenat2 = 437;
constexpr long kMountSetattr = 442;
constexpr long kStatmount = 457;
constexpr long kListmount = 458;

constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kAtRecursive = 0x8000;

constexpr unsigned kMoveFromEmptyPath = 0x04;
constexpr unsigned kMoveToEmptyPath = 0x40;

constexpr unsigned kFsopenCloexec = 1;
constexpr unsigned kFspickCloexec = 1;
constexpr unsigned kFspickEmptyPath = 8;
constexpr unsigned kFsmountCloexec = 1;

constexpr unsigned kFsconfigSetFlag = 0;
constexpr unsigned kFsconfigSetString = 1;
constexpr unsigned kFsconfigCreate = 6;
constexpr unsigned kFsconfigReconfigure = 7;

constexpr uint64_t kAttrRdonly = 0x1;
constexpr uint64_t kAttrNosuid = 0x2;
constexpr uint64_t kAttrNodev = 0x4;
constexpr uint64_t kAttrNoexec = 0x8;
constexpr uint64_t kAttrAtime = 0x70;  // the atime mode bits: relatime 0, noatime 0x10, strictatime 0x20
constexpr uint64_t kAttrNodiratime = 0x80;
constexpr uint64_t kAttrIdmap = 0x100000;
constexpr uint64_t kAttrNosymfollow = 0x200000;
// What mount_setattr can set or clear on a mount (everything but idmap, which only a
// detached mount may take once).
constexpr uint64_t kAttrSettable =
    kAttrRdonly | kAttrNosuid | kAttrNodev | kAttrNoexec | kAttrAtime | kAttrNodiratime | kAttrNosymfollow;

constexpr uint64_t kResolveNoMagiclinks = 0x02;
constexpr uint64_t kResolveInRoot = 0x10;

constexpr unsigned kStatxMntId = 0x1000;
constexpr unsigned kStatxMntIdUnique = 0x4000;

constexpr uint64_t kStatmountSbBasic = 0x1;
constexpr uint64_t kStatmountMntBasic = 0x2;
constexpr uint64_t kStatmountMntPoint = 0x10;

// A mount namespace file's 64-bit id: _IOR(0xb7, 0x5, __u64).
constexpr unsigned long kNsGetMntnsId = 0x8008b705;

struct MountAttr {
  uint64_t attrSet = 0;
  uint64_t attrClear = 0;
  uint64_t propagation = 0;
  uint64_t usernsFd = 0;
};

struct OpenHow {
  uint64_t flags = 0;
  uint64_t mode = 0;
  uint64_t resolve = 0;
};

struct MountIdRequest {
  uint32_t size = 24;  // MNT_ID_REQ_SIZE_VER0
  uint32_t spare = 0;
  uint64_t mountId = 0;
  uint64_t param = 0;
};

// The head of struct statmount (the fixed part we read; the kernel fills what was asked).
struct Statmount {
  uint32_t size;
  uint32_t mntOpts;
  uint64_t mask;
  uint32_t sbDevMajor;
  uint32_t sbDevMinor;
  uint64_t sbMagic;
  uint32_t sbFlags;
  uint32_t fsType;
  uint64_t mntId;
  uint64_t mntParentId;
  uint32_t mntIdOld;
  uint32_t mntParentIdOld;
  uint64_t mntAttr;
  uint64_t mntPropagation;
  uint64_t mntPeerGroup;
  uint64_t mntMaster;
  uint64_t propagateFrom;
  uint32_t mntRoot;
  uint32_t mntPoint;
  uint64_t spare2[50];
  char str[];
};

inline int openTree(int dirfd, const char* path, unsigned flags) {
  return static_cast<int>(syscall(kOpenTree, dirfd, path, flags));
}
inline int moveMount(int fromDir, const char* fromPath, int toDir, const char* toPath, unsigned flags) {
  return static_cast<int>(syscall(kMoveMount, fromDir, fromPath, toDir, toPath, flags));
}
inline int fsopen(const char* fstype, unsigned flags) { return static_cast<int>(syscall(kFsopen, fstype, flags)); }
inline int fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(syscall(kFsconfig, fd, cmd, key, value, aux));
}
inline int fsmount(int fd, unsigned flags, unsigned attrs) { return static_cast<int>(syscall(kFsmount, fd, flags, attrs)); }
inline int fspick(int dirfd, const char* path, unsigned flags) {
  return static_cast<int>(syscall(kFspick, dirfd, path, flags));
}
inline int openat2(int dirfd, const char* path, const OpenHow& how) {
  return static_cast<int>(syscall(kOpenat2, dirfd, path, &how, sizeof how));
}
inline int mountSetattr(int dirfd, const char* path, unsigned flags, const MountAttr& attr) {
  return static_cast<int>(syscall(kMountSetattr, dirfd, path, flags, &attr, sizeof attr));
}
inline long statmount(const MountIdRequest& req, Statmount* buf, size_t size) {
  return syscall(kStatmount, &req, buf, size, 0);
}
inline long listmount(const MountIdRequest& req, uint64_t* ids, size_t count) {
  return syscall(kListmount, &req, ids, count, 0);
}

// The unique (never reused) id of the mount `path` from `dirfd` is on, falling back to the
// reusable id on kernels before 6.8; 0 or an errno.
inline int mountIdOf(int dirfd, const char* path, int flags, uint64_t* id) {
  struct statx stx;
  if (statx(dirfd, path, flags | AT_NO_AUTOMOUNT, kStatxMntIdUnique | kStatxMntId, &stx) < 0) return errno;
  *id = (stx.stx_mask & (kStatxMntIdUnique | kStatxMntId)) ? stx.stx_mnt_id : 0;
  return 0;
}

}  // namespace linx::sys
