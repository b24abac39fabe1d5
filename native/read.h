// readFile(path, maxBytes, callback): reads a whole file in one libuv threadpool job.
//
// procfs hands mountinfo out one page per read(2), so a 10,000-mount table takes ~190
// reads; done as one threadpool job per read, each costs a main-thread round trip. Here the
// whole read loop runs on one threadpool thread and JavaScript is woken once, with the bytes.
#pragma once

#include <napi.h>

namespace linx {

// The JavaScript function `readFile(path: string, maxBytes: number,
// callback: (failure: { stage: "read", errno } | null, data?: Buffer) => void): void`.
// Wrong argument types throw a TypeError synchronously; every kernel failure (open, read,
// more than maxBytes: EFBIG) reaches the callback as { stage: "read", errno }.
Napi::Function DefineReadFile(Napi::Env env);

}  // namespace linx
