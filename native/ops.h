// Runs one batch, synchronously, on the calling thread (a piscina worker): the namespace
// work and the syscalls behind each op. Free of N-API.
#pragma once

#include "wire.h"

namespace linx {

// Gives the calling thread an fs_struct of its own (lazily, re-checked each time), blocks
// every signal, opens every namespace file the batch needs while still at home, enters the
// batch's mount namespace once (only when it is not ours), runs the ops — for a rollback
// batch, undoing the completed ones in reverse after the first failure — and returns home:
// namespace, root and working directory, before returning. A thread that cannot get home is
// marked retired: it reports so, and refuses every later batch.
BatchResult runBatch(const Batch& batch);

}  // namespace linx
