#pragma once
// kernels/SynchronousBackend.h — a backend whose every operation has finished when the call
// returns, for buffers that another backend (another stream) reads next without any
// synchronisation of its own.
//
// makeSynchronousBackend(inner) forwards each operation to `inner` and waits for it
// (inner.synchronize()) before returning. Calls are serialised by a lock, so one instance may be
// shared by every thread. No capture (canCapture() is false); stageFromHost copies at once.
#include <memory>

#include "kernels/Backend.h"

namespace cohort::kernels {

std::unique_ptr<Backend> makeSynchronousBackend(std::unique_ptr<Backend> inner);

}  // namespace cohort::kernels
