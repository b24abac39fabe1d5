// N-API glue: turns JavaScript op objects into linx::Op, runs them, and returns one
// outcome per op. No syscall is made here; argument errors become JavaScript TypeErrors
// (never a crash), and every kernel failure comes back as { stage, errno }.
#include <errno.h>
#include <sys/mount.h>

#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "ops.h"
#include "pool.h"
#include "read.h"
#include "tables.h"

#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x00000008
#endif

namespace {

using linx::Op;
using linx::Outcome;

bool readString(Napi::Env env, Napi::Object obj, const char* key, std::string* out, bool required) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() && !required) return true;
  if (!v.IsString()) {
    Napi::TypeError::New(env, std::string("op.") + key + " must be a string")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = v.As<Napi::String>().Utf8Value();
  // A NUL byte would silently cut the path short in the kernel: refuse it.
  if (out->find('\0') != std::string::npos) {
    Napi::TypeError::New(env, std::string("op.") + key + " contains a NUL byte")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

bool readNumber(Napi::Env env, Napi::Object obj, const char* key, double max, double* out) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) {
    *out = 0;
    return true;
  }
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d < 0 || d > max || std::floor(d) != d) {
    Napi::TypeError::New(env, std::string("op.") + key + " must be an integer in range")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = d;
  return true;
}

bool readBool(Napi::Object obj, const char* key) {
  Napi::Value v = obj.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

}  // namespace

namespace linx {

// Reads one JavaScript op object; on bad input throws a TypeError and returns false.
bool readOp(Napi::Env env, Napi::Value value, Op* op) {
  if (!value.IsObject()) {
    Napi::TypeError::New(env, "each op must be an object").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object o = value.As<Napi::Object>();
  double kind, ns, pid, flags, remountFlags;
  if (!readNumber(env, o, "kind", 2, &kind) || !readNumber(env, o, "ns", 2, &ns) ||
      !readNumber(env, o, "pid", 4194304, &pid) || !readNumber(env, o, "flags", 4294967295.0, &flags) ||
      !readNumber(env, o, "remountFlags", 4294967295.0, &remountFlags))
    return false;
  op->kind = static_cast<linx::OpKind>(static_cast<int>(kind));
  op->ns = static_cast<linx::NsKind>(static_cast<int>(ns));
  op->pid = static_cast<int>(pid);
  op->flags = static_cast<unsigned long>(flags);
  op->remountFlags = static_cast<unsigned long>(remountFlags);
  op->pidns = readBool(o, "pidns");
  op->create = readBool(o, "create");
  op->sourceFromHome = readBool(o, "sourceFromHome");
  if (!readString(env, o, "target", &op->target, true) ||
      !readString(env, o, "source", &op->source, false) ||
      !readString(env, o, "fstype", &op->fstype, false) ||
      !readString(env, o, "data", &op->data, false) ||
      !readString(env, o, "nsPath", &op->nsPath, op->ns == linx::NsKind::Path) ||
      !readString(env, o, "putOld", &op->putOld, op->kind == linx::OpKind::PivotRoot))
    return false;
  if (op->ns == linx::NsKind::Pid && op->pid <= 0) {
    Napi::TypeError::New(env, "op.pid must be a positive integer").ThrowAsJavaScriptException();
    return false;
  }
  if (op->sourceFromHome && (op->kind != linx::OpKind::Mount || op->pidns || op->source.empty())) {
    Napi::TypeError::New(env, "op.sourceFromHome needs a bind with a source").ThrowAsJavaScriptException();
    return false;
  }
  if (op->pidns && op->ns != linx::NsKind::Pid) {
    Napi::TypeError::New(env, "op.pidns needs a pid namespace target").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace linx

namespace {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    Napi::Object constants = Napi::Object::New(env);
    auto set = [&](const char* name, double value) { constants.Set(name, Napi::Number::New(env, value)); };
    set("MS_RDONLY", MS_RDONLY);
    set("MS_NOSUID", MS_NOSUID);
    set("MS_NODEV", MS_NODEV);
    set("MS_NOEXEC", MS_NOEXEC);
    set("MS_SYNCHRONOUS", MS_SYNCHRONOUS);
    set("MS_REMOUNT", MS_REMOUNT);
    set("MS_MANDLOCK", MS_MANDLOCK);
    set("MS_DIRSYNC", MS_DIRSYNC);
    set("MS_NOATIME", MS_NOATIME);
    set("MS_NODIRATIME", MS_NODIRATIME);
    set("MS_BIND", MS_BIND);
    set("MS_MOVE", MS_MOVE);
    set("MS_REC", MS_REC);
    set("MS_SILENT", MS_SILENT);
    set("MS_PRIVATE", MS_PRIVATE);
    set("MS_SHARED", MS_SHARED);
    set("MS_SLAVE", MS_SLAVE);
    set("MS_UNBINDABLE", MS_UNBINDABLE);
    set("MS_RELATIME", MS_RELATIME);
    set("MS_STRICTATIME", MS_STRICTATIME);
    set("MS_LAZYTIME", MS_LAZYTIME);
    set("MNT_FORCE", MNT_FORCE);
    set("MNT_DETACH", MNT_DETACH);
    set("MNT_EXPIRE", MNT_EXPIRE);
    set("UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW);
    constants.Freeze();
    DefineAddon(exports, {
        InstanceValue("constants", constants, napi_enumerable),
        InstanceValue("Pool", linx::Pool::Define(env), napi_enumerable),
        InstanceValue("readFile", linx::DefineReadFile(env), napi_enumerable),
        InstanceValue("readFileSync", linx::DefineReadFileSync(env), napi_enumerable),
        InstanceValue("listMounts", linx::DefineListMounts(env), napi_enumerable),
        InstanceValue("listMountsSync", linx::DefineListMountsSync(env), napi_enumerable),
        InstanceValue("tableLayout", linx::TableLayout(env), napi_enumerable),
    });
  }
};

}  // namespace

NODE_API_ADDON(Addon)
