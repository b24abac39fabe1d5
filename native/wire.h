// The wire form of a batch and of its outcomes (protocol/Codec.ts describes it; this is the
// addon's half): decoding a batch into Ops, encoding what happened. Free of N-API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stages.h"

namespace linx {

enum class NsKind : uint8_t { Self = 0, Pid = 1, Path = 2 };
enum class OpKind : uint8_t { Mount, Bind, Remount, Move, Umount, PivotRoot, SetAttributes, Watch };
// Another namespace an op refers to (protocol's NamespaceRef).
enum class RefKind : uint8_t { None, Own, Target, Pid, Path };

struct Ref {
  RefKind kind = RefKind::None;
  uint32_t pid = 0;
  std::string path;
};

// Every field any kind has; each kind uses its own (protocol/Codec.ts opLayouts).
struct Op {
  OpKind kind = OpKind::Mount;
  std::string source;  // Mount, Bind, Move; PivotRoot: put_old
  std::string target;  // every kind; PivotRoot: new_root
  std::string fstype;
  std::vector<std::string> superFlags;
  std::vector<std::string> options;
  uint32_t attributes = 0;  // Mount: fsmount's
  uint32_t attrSet = 0;
  uint32_t attrClear = 0;
  uint32_t propagation = 0;
  uint32_t flags = 0;  // Umount
  uint64_t uniqueId = 0;
  bool create = false;
  bool recursive = false;
  bool sourceAtHome = false;
  bool reconfigure = false;
  Ref ref;  // Mount: the PID namespace; Bind: the idmap's user namespace
};

struct Batch {
  NsKind ns = NsKind::Self;
  uint32_t pid = 0;
  std::string nsPath;
  bool rollback = false;
  std::vector<Op> ops;
};

// Decodes `data`; false (and why) for anything malformed, NUL bytes inside strings included.
bool decodeBatch(const uint8_t* data, size_t size, Batch* out, std::string* why);

// The batch as JSON, field names as in protocol/Codec.ts, bytes in hex: for the drift test.
std::string describeBatch(const Batch& batch);

enum class Status : uint8_t { Done = 0, Failed = 1, Skipped = 2 };
enum class UndoStatus : uint8_t { Undone = 0, Failed = 1, Impossible = 2 };

struct OpOutcome {
  Status status = Status::Skipped;
  Stage stage = Stage::Read;
  int err = 0;
  uint8_t subject = 0;  // which path it is about: 0 target, 1 source, 2 the namespace file, 3 pid ns, 4 user ns
  uint64_t uniqueId = 0;
  int handle = -1;      // a descriptor handed over (a watch's fanotify group)
  std::string message;  // the kernel's own words (fsconfig's log), when it gave some
};

struct UndoRecord {
  uint32_t index = 0;
  UndoStatus status = UndoStatus::Undone;
  Stage stage = Stage::Read;
  int err = 0;
  std::string text;
};

struct BatchResult {
  std::vector<OpOutcome> outcomes;
  std::vector<UndoRecord> undo;
  bool retired = false;  // the thread could not return home: replace it
  bool refused = false;  // the thread was retired before: nothing ran
};

std::vector<uint8_t> encodeOutcomes(const BatchResult& result);

}  // namespace linx
