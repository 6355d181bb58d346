// The NCCL communicator of the CUDA backend: collectives of CUDA tensors between the processes of
// a job (note [communicators] in native/core/comm.h, "NCCL"). Compiled in every CUDA build;
// without NEWTON_HAVE_NCCL (CMake found no NCCL: NEWTON_USE_NCCL) each function throws
// newton::Error saying how to get a build with it. The exported C entry points that wrap these
// for the core (native/core/comm_nccl.cpp) are in entry.cu.
#pragma once

#include <cstddef>
#include <string>

#include "core/comm.h"
#include "cuda_backend.h"

namespace newton {
namespace cuda {

// "NCCL 2.27.7" (the loaded library's ncclGetVersion). Throws Error when the build has no NCCL.
std::string nccl_version();

// ncclGetUniqueId into id[0 … kNcclUniqueIdBytes): the job's id, made by rank 0.
void nccl_unique_id(void* id, std::size_t bytes);

// The communicator of `rank` of `size` on `backend`'s GPU, from rank 0's id (every rank calls it
// together). Waits at most `timeout_seconds` for the others (ncclCommInitRankConfig, then a
// barrier); on a timeout or an NCCL error the attempt is aborted and Error names the rank and the
// NCCL call; `fn` (the caller, "ncclInit") begins every message. The communicator is never
// destroyed (it is aborted at process exit).
Communicator* create_nccl_communicator(CudaBackend& backend, const void* id, std::size_t id_bytes, int rank, int size,
                                       int local_rank, int local_size, double timeout_seconds, const char* fn);

}  // namespace cuda
}  // namespace newton
