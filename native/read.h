// readFile(path, maxBytes, chunkBytes, onChunk, callback): reads a whole file in one libuv
// threadpool job, handing it to JavaScript in slices of whole lines as it goes.
//
// procfs hands mountinfo out one page per read(2), so a 10,000-mount table takes ~190
// reads; done as one threadpool job per read, each costs a main-thread round trip. Here the
// whole read loop runs on one threadpool thread, and every time it holds chunkBytes or more
// it sends the whole lines read so far: JavaScript parses one slice while the kernel makes
// the next (on two CPUs the parse then costs almost nothing on top of the read).
#pragma once

#include <napi.h>

namespace linx {

// The JavaScript function `readFile(path: string, maxBytes: number, chunkBytes: number,
// onChunk: (lines: Buffer) => void, callback: (failure: { stage: "read", errno } | null) =>
// void): void`. Every chunk but the last ends with a newline; all of them reach onChunk, in
// order, before callback. Wrong argument types throw a TypeError synchronously; every kernel
// failure (open, read, more than maxBytes: EFBIG) reaches the callback as { stage: "read",
// errno }, after whatever chunks were read before it.
Napi::Function DefineReadFile(Napi::Env env);

}  // namespace linx
