// N-API glue, nothing else: the constants, the stage names, and one synchronous entry that
// runs an encoded batch on the calling thread (a piscina worker) and returns its encoded
// outcomes. Malformed input becomes a TypeError (never a crash); every kernel failure comes
// back inside the outcomes as a stage and an errno.
#include <errno.h>
#include <sys/mount.h>

#include <napi.h>

#include <string>

#include "ops.h"
#include "read.h"
#include "stages.h"
#include "syscalls.h"
#include "tables.h"
#include "watch.h"
#include "wire.h"

#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x00000008
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

namespace {

// The batch's bytes, decoded; false after throwing a TypeError.
bool readBatch(const Napi::CallbackInfo& info, linx::Batch* batch) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "expected one Uint8Array (an encoded batch)").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  std::string why;
  if (!linx::decodeBatch(bytes.Data(), bytes.ByteLength(), batch, &why)) {
    Napi::TypeError::New(env, "malformed batch: " + why).ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// runBatch(batch: Uint8Array): Buffer — the syscalls run here, on the calling thread.
Napi::Value RunBatch(const Napi::CallbackInfo& info) {
  linx::Batch batch;
  if (!readBatch(info, &batch)) return info.Env().Undefined();
  std::vector<uint8_t> out = linx::encodeOutcomes(linx::runBatch(batch));
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
}

// describeBatch(batch: Uint8Array): string — what the addon read, as JSON (tests only).
Napi::Value DescribeBatch(const Napi::CallbackInfo& info) {
  linx::Batch batch;
  if (!readBatch(info, &batch)) return info.Env().Undefined();
  return Napi::String::New(info.Env(), linx::describeBatch(batch));
}

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
    set("MS_NOSYMFOLLOW", MS_NOSYMFOLLOW);
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
    set("MOUNT_ATTR_RDONLY", static_cast<double>(linx::sys::kAttrRdonly));
    set("MOUNT_ATTR_NOSUID", static_cast<double>(linx::sys::kAttrNosuid));
    set("MOUNT_ATTR_NODEV", static_cast<double>(linx::sys::kAttrNodev));
    set("MOUNT_ATTR_NOEXEC", static_cast<double>(linx::sys::kAttrNoexec));
    set("MOUNT_ATTR__ATIME", static_cast<double>(linx::sys::kAttrAtime));
    set("MOUNT_ATTR_RELATIME", 0);
    set("MOUNT_ATTR_NOATIME", 0x10);
    set("MOUNT_ATTR_STRICTATIME", 0x20);
    set("MOUNT_ATTR_NODIRATIME", static_cast<double>(linx::sys::kAttrNodiratime));
    set("MOUNT_ATTR_IDMAP", static_cast<double>(linx::sys::kAttrIdmap));
    set("MOUNT_ATTR_NOSYMFOLLOW", static_cast<double>(linx::sys::kAttrNosymfollow));
    constants.Freeze();
    Napi::Array stages = Napi::Array::New(env, linx::kStageCount);
    for (unsigned i = 0; i < linx::kStageCount; i++) stages.Set(i, linx::kStageNames[i]);
    stages.Freeze();
    DefineAddon(exports, {
                             InstanceValue("constants", constants, napi_enumerable),
                             InstanceValue("stages", stages, napi_enumerable),
                             InstanceValue("runBatch", Napi::Function::New(env, RunBatch, "runBatch"), napi_enumerable),
                             InstanceValue("describeBatch", Napi::Function::New(env, DescribeBatch, "describeBatch"),
                                           napi_enumerable),
                             InstanceValue("readFile", linx::DefineReadFile(env), napi_enumerable),
                             InstanceValue("readFileSync", linx::DefineReadFileSync(env), napi_enumerable),
                             InstanceValue("listMounts", linx::DefineListMounts(env), napi_enumerable),
                             InstanceValue("listMountsSync", linx::DefineListMountsSync(env), napi_enumerable),
                             InstanceValue("tableLayout", linx::TableLayout(env), napi_enumerable),
                             InstanceValue("watch", linx::DefineWatch(env), napi_enumerable),
                         });
  }
};

}  // namespace

NODE_API_ADDON(Addon)
