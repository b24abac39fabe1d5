// listMounts / listMountsSync: a mount namespace's table from listmount(2) + statmount(2),
// packed into one Buffer of fixed-size records (the layout below) for JavaScript to decode.
//
// Why: /proc/PID/mountinfo is text the kernel formats and escapes for every read, and in a
// slave namespace it computes each mount's propagate_from by walking peer groups (O(mounts
// x peers)). statmount hands over the same facts as fields, one syscall per mount, and with
// a namespace id it reads another namespace without entering it (no setns, no thread of
// our own). The whole loop runs as one job on libuv's threadpool (a plain AsyncWorker) or,
// for the command-line tool, on the calling thread.
#pragma once

#include <napi.h>

namespace linx {

// One record per mount, native-endian, 8-byte aligned (indexes in 32-bit words):
//   [0..1] unique mount id (u64)   [2] mount id   [3] parent id   [4] major   [5] minor
//   [6] mount attributes (MOUNT_ATTR_*, low 32 bits)   [7] sb flags (SB_*)
//   [8] propagation (MS_SHARED|MS_SLAVE|MS_UNBINDABLE|MS_PRIVATE)   [9] peer group
//   [10] master's peer group   [11] bit i set: string i holds a byte >= 0x80
//   [12..17] byte lengths of the strings: root, mount point, fstype, subtype, source, options;
//            kSame: the same bytes as the previous record's (none stored)
//   [18] the record's size in bytes (header, strings, padding)   [19] zero
// then the strings' raw bytes, back to back, no NUL, padded with zeros to 8 bytes.
constexpr unsigned kRecordHeaderBytes = 80;
constexpr unsigned kStringCount = 6;
constexpr uint32_t kSame = 0xffffffffu;

// The JavaScript function `listMounts(nsPath: string | null, maxBytes: number, maxMounts:
// number, callback: (failure: { stage: "open_ns" | "read", errno } | null, table?: Buffer)
// => void): void`. nsPath null: the calling process's namespace, mount points relative to its
// root; otherwise a mount-namespace file (nsfs, checked), mount points relative to that
// namespace's root. Mounts whose mount point is not reachable are left out, as mountinfo
// leaves them out; a mount that disappears between listmount and statmount too. ENOSYS: the
// kernel lacks listmount/statmount or a field the records need (fall back to mountinfo);
// EFBIG: more than maxBytes of records or more than maxMounts mounts.
Napi::Function DefineListMounts(Napi::Env env);

// `listMountsSync(nsPath, maxBytes, maxMounts): Buffer | { stage, errno }`: the same, on the
// calling thread.
Napi::Function DefineListMountsSync(Napi::Env env);

// The layout above and the flag values the decoder needs, as numbers (frozen object).
Napi::Object TableLayout(Napi::Env env);

}  // namespace linx
