#include "wire.h"

#include <cstring>

namespace linx {

namespace {

constexpr uint32_t kBatchMagic = 0x3142584c;    // "LXB1"
constexpr uint32_t kOutcomeMagic = 0x314f584c;  // "LXO1"

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool ok() const { return ok_; }
  bool done() const { return at_ == size_; }
  uint8_t u8() { return need(1) ? data_[at_++] : 0; }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v;
    std::memcpy(&v, data_ + at_, 4);  // little-endian hosts only (Linux on x86_64, aarch64)
    at_ += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v;
    std::memcpy(&v, data_ + at_, 8);
    at_ += 8;
    return v;
  }
  // A length-prefixed string; a NUL inside would cut a path short in the kernel.
  std::string bytes() {
    uint32_t n = u32();
    if (!need(n)) return {};
    std::string s(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += n;
    if (s.find('\0') != std::string::npos) ok_ = false;
    return s;
  }
  bool flag() { return u8() != 0; }
  std::vector<std::string> list() {
    uint32_t n = u32();
    std::vector<std::string> out;
    // Each entry takes at least its 4-byte length: refuse counts the data cannot hold.
    if (!ok_ || n > (size_ - at_) / 4) {
      ok_ = false;
      return out;
    }
    out.reserve(n);
    for (uint32_t i = 0; i < n && ok_; i++) out.push_back(bytes());
    return out;
  }
  Ref ref() {
    Ref r;
    uint8_t kind = u8();
    if (kind > static_cast<uint8_t>(RefKind::Path)) ok_ = false;
    r.kind = static_cast<RefKind>(kind);
    r.pid = u32();
    r.path = bytes();
    return r;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || n > size_ - at_) ok_ = false;
    return ok_;
  }
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put(&v, 2); }
  void u32(uint32_t v) { put(&v, 4); }
  void i32(int32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void bytes(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    put(s.data(), s.size());
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  void put(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  std::vector<uint8_t> out_;
};

bool readOp(Reader& r, Op* op) {
  uint8_t kind = r.u8();
  if (kind > static_cast<uint8_t>(OpKind::Watch)) return false;
  op->kind = static_cast<OpKind>(kind);
  switch (op->kind) {
    case OpKind::Mount:
      op->source = r.bytes();
      op->target = r.bytes();
      op->fstype = r.bytes();
      op->superFlags = r.list();
      op->options = r.list();
      op->attributes = r.u32();
      op->create = r.flag();
      op->ref = r.ref();
      break;
    case OpKind::Bind:
      op->source = r.bytes();
      op->target = r.bytes();
      op->recursive = r.flag();
      op->attrSet = r.u32();
      op->attrClear = r.u32();
      op->create = r.flag();
      op->sourceAtHome = r.flag();
      op->ref = r.ref();
      break;
    case OpKind::Remount:
      op->target = r.bytes();
      op->reconfigure = r.flag();
      op->superFlags = r.list();
      op->options = r.list();
      op->attrSet = r.u32();
      op->attrClear = r.u32();
      break;
    case OpKind::Move:
      op->source = r.bytes();
      op->target = r.bytes();
      break;
    case OpKind::Umount:
      op->target = r.bytes();
      op->flags = r.u32();
      op->uniqueId = r.u64();
      break;
    case OpKind::PivotRoot:
      op->target = r.bytes();
      op->source = r.bytes();
      break;
    case OpKind::SetAttributes:
      op->target = r.bytes();
      op->attrSet = r.u32();
      op->attrClear = r.u32();
      op->propagation = r.u32();
      op->recursive = r.flag();
      break;
    case OpKind::Watch:
      return r.ok();
  }
  return r.ok() && !op->target.empty();
}

void hex(std::string* out, const std::string& s) {
  static const char digits[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    out->push_back(digits[c >> 4]);
    out->push_back(digits[c & 15]);
  }
  out->push_back('"');
}

}  // namespace

bool decodeBatch(const uint8_t* data, size_t size, Batch* out, std::string* why) {
  Reader r(data, size);
  if (r.u32() != kBatchMagic) {
    *why = "not a batch";
    return false;
  }
  uint8_t ns = r.u8();
  out->rollback = r.flag();
  r.u8();
  r.u8();
  out->pid = r.u32();
  out->nsPath = r.bytes();
  uint32_t count = r.u32();
  if (!r.ok() || ns > static_cast<uint8_t>(NsKind::Path) || count > size) {
    *why = "malformed header";
    return false;
  }
  out->ns = static_cast<NsKind>(ns);
  if ((out->ns == NsKind::Pid && out->pid == 0) || (out->ns == NsKind::Path && out->nsPath.empty())) {
    *why = "namespace without its pid or path";
    return false;
  }
  out->ops.resize(count);
  for (uint32_t i = 0; i < count; i++) {
    if (!readOp(r, &out->ops[i])) {
      *why = "malformed op " + std::to_string(i);
      return false;
    }
  }
  if (!r.done()) {
    *why = "trailing bytes";
    return false;
  }
  return true;
}

std::string describeBatch(const Batch& batch) {
  static const char* kinds[] = {"Mount", "Bind", "Remount", "Move", "Umount", "PivotRoot", "SetAttributes", "Watch"};
  static const char* refs[] = {"None", "Own", "Target", "Pid", "Path"};
  static const char* namespaces[] = {"Self", "Pid", "Path"};
  std::string s = "{\"in\":{\"_tag\":\"";
  s += namespaces[static_cast<int>(batch.ns)];
  s += "\",\"pid\":" + std::to_string(batch.pid) + ",\"path\":";
  hex(&s, batch.nsPath);
  s += "},\"rollback\":";
  s += batch.rollback ? "true" : "false";
  s += ",\"ops\":[";
  auto field = [&s](const char* name) {
    s += ",\"";
    s += name;
    s += "\":";
  };
  auto bytes = [&](const char* name, const std::string& v) {
    field(name);
    hex(&s, v);
  };
  auto number = [&](const char* name, uint64_t v) {
    field(name);
    s += std::to_string(v);
  };
  auto boolean = [&](const char* name, bool v) {
    field(name);
    s += v ? "true" : "false";
  };
  auto list = [&](const char* name, const std::vector<std::string>& v) {
    field(name);
    s += "[";
    for (size_t i = 0; i < v.size(); i++) {
      if (i) s += ",";
      hex(&s, v[i]);
    }
    s += "]";
  };
  auto ref = [&](const char* name, const Ref& r) {
    field(name);
    s += "{\"_tag\":\"";
    s += refs[static_cast<int>(r.kind)];
    s += "\",\"pid\":" + std::to_string(r.pid) + ",\"path\":";
    hex(&s, r.path);
    s += "}";
  };
  for (size_t i = 0; i < batch.ops.size(); i++) {
    const Op& op = batch.ops[i];
    if (i) s += ",";
    s += "{\"_tag\":\"";
    s += kinds[static_cast<int>(op.kind)];
    s += "\"";
    switch (op.kind) {
      case OpKind::Mount:
        bytes("source", op.source);
        bytes("target", op.target);
        bytes("fstype", op.fstype);
        list("superFlags", op.superFlags);
        list("options", op.options);
        number("attributes", op.attributes);
        boolean("create", op.create);
        ref("pidNamespace", op.ref);
        break;
      case OpKind::Bind:
        bytes("source", op.source);
        bytes("target", op.target);
        boolean("recursive", op.recursive);
        number("attrSet", op.attrSet);
        number("attrClear", op.attrClear);
        boolean("create", op.create);
        boolean("sourceAtHome", op.sourceAtHome);
        ref("idmap", op.ref);
        break;
      case OpKind::Remount:
        bytes("target", op.target);
        boolean("reconfigure", op.reconfigure);
        list("superFlags", op.superFlags);
        list("options", op.options);
        number("attrSet", op.attrSet);
        number("attrClear", op.attrClear);
        break;
      case OpKind::Move:
        bytes("source", op.source);
        bytes("target", op.target);
        break;
      case OpKind::Umount:
        bytes("target", op.target);
        number("flags", op.flags);
        field("uniqueId");
        s += "\"" + std::to_string(op.uniqueId) + "\"";
        break;
      case OpKind::PivotRoot:
        bytes("newRoot", op.target);
        bytes("putOld", op.source);
        break;
      case OpKind::SetAttributes:
        bytes("target", op.target);
        number("attrSet", op.attrSet);
        number("attrClear", op.attrClear);
        number("propagation", op.propagation);
        boolean("recursive", op.recursive);
        break;
      case OpKind::Watch:
        break;
    }
    s += "}";
  }
  s += "]}";
  return s;
}

std::vector<uint8_t> encodeOutcomes(const BatchResult& result) {
  Writer w;
  w.u32(kOutcomeMagic);
  w.u32(static_cast<uint32_t>(result.outcomes.size()));
  w.u8(result.retired ? 1 : 0);
  w.u8(result.refused ? 1 : 0);
  w.u16(0);
  for (const OpOutcome& o : result.outcomes) {
    w.u8(static_cast<uint8_t>(o.status));
    w.u8(static_cast<uint8_t>(o.stage));
    w.u16(o.subject);
    w.i32(o.err);
    w.u64(o.uniqueId);
    w.i32(o.handle);
    w.bytes(o.message);
  }
  w.u32(static_cast<uint32_t>(result.undo.size()));
  for (const UndoRecord& u : result.undo) {
    w.u32(u.index);
    w.u8(static_cast<uint8_t>(u.status));
    w.u8(static_cast<uint8_t>(u.stage));
    w.u16(0);
    w.i32(u.err);
    w.bytes(u.text);
  }
  return w.take();
}

}  // namespace linx
