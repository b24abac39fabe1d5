// The mount API's newer syscalls, called raw: glibc wraps some of them only from 2.36 and
// none of statx's newer bits, so one prebuild loads on older distributions too. Every name
// here is our own (k…, linx::…) so it never clashes with what a newer libc or kernel header
// defines.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
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

// statmount(2) masks and listmount(2)'s "the whole namespace".
constexpr uint64_t kStatmountSbBasic = 0x1;
constexpr uint64_t kStatmountMntBasic = 0x2;
constexpr uint64_t kStatmountMntRoot = 0x8;
constexpr uint64_t kStatmountMntPoint = 0x10;
constexpr uint64_t kStatmountFsType = 0x20;
constexpr uint64_t kStatmountMntOpts = 0x80;
constexpr uint64_t kStatmountFsSubtype = 0x100;
constexpr uint64_t kStatmountSbSource = 0x200;
constexpr uint64_t kStatmountSupportedMask = 0x1000;
constexpr uint64_t kListmountRoot = 0xffffffffffffffffULL;

// nsfs: its magic and ioctls (linux/nsfs.h); NS_GET_MNTNS_ID is 6.11+.
constexpr unsigned long kNsfsMagic = 0x6e736673;
constexpr unsigned long kNsGetNstype = 0xb703;       // _IO(0xb7, 0x3)
constexpr unsigned long kNsGetMntnsId = 0x8008b705;  // _IOR(0xb7, 0x5, __u64)

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

// struct mnt_id_req, version 1 (with the namespace id; 0: the caller's namespace).
struct MountIdRequest {
  uint32_t size = 32;
  uint32_t spare = 0;
  uint64_t mountId = 0;
  uint64_t param = 0;  // statmount: the mask; listmount: the last id seen
  uint64_t mountNsId = 0;
};

// struct statmount as of Linux 6.18 (include/uapi/linux/mount.h); the kernel fills what
// was asked (`mask`); the strings follow at `str`, which the ABI keeps at offset 512.
struct Statmount {
  uint32_t size;
  uint32_t mnt_opts;
  uint64_t mask;
  uint32_t sb_dev_major;
  uint32_t sb_dev_minor;
  uint64_t sb_magic;
  uint32_t sb_flags;
  uint32_t fs_type;
  uint64_t mnt_id;
  uint64_t mnt_parent_id;
  uint32_t mnt_id_old;
  uint32_t mnt_parent_id_old;
  uint64_t mnt_attr;
  uint64_t mnt_propagation;
  uint64_t mnt_peer_group;
  uint64_t mnt_master;
  uint64_t propagate_from;
  uint32_t mnt_root;
  uint32_t mnt_point;
  uint64_t mnt_ns_id;
  uint32_t fs_subtype;
  uint32_t sb_source;
  uint32_t opt_num;
  uint32_t opt_array;
  uint32_t opt_sec_num;
  uint32_t opt_sec_array;
  uint64_t supported_mask;
  uint32_t mnt_uidmap_num;
  uint32_t mnt_uidmap;
  uint32_t mnt_gidmap_num;
  uint32_t mnt_gidmap;
  uint64_t spare2[43];
  char str[];
};
static_assert(sizeof(Statmount) == 512, "struct statmount's strings start at 512");

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
inline long statmount(const MountIdRequest& req, void* buf, size_t size) {
  return syscall(kStatmount, &req, buf, size, 0);
}
inline long listmount(const MountIdRequest& req, uint64_t* ids, size_t count) {
  return syscall(kListmount, &req, ids, count, 0);
}

// A namespace file, opened and checked: on nsfs and of type `nstype` (CLONE_NEW*), else
// EINVAL — a tmpfs mounted over /proc/<pid>/ns, a FIFO (O_NONBLOCK: the open never waits
// for a writer) or a regular file is refused, never entered. The fd or -errno.
inline int openNamespace(int dirfd, const char* path, int nstype) {
  int fd;
  do fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return -errno;
  struct statfs fs;
  if (fstatfs(fd, &fs) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  if (static_cast<unsigned long>(fs.f_type) != kNsfsMagic || ioctl(fd, kNsGetNstype) != nstype) {
    close(fd);
    return -EINVAL;
  }
  return fd;
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
