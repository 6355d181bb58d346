// Collectives that run while the caller goes on: the all-reduces of gradient buckets started
// during the backward pass (note [collective queue]).
#pragma once

#include <cstdint>

#include "comm.h"
#include "tensor.h"

namespace newton {

// Note [collective queue]
// ~~~~~~~~~~~~~~~~~~~~~~~
// A data-parallel SGD step sums the gradient over the ranks. Summed in one call after the
// backward pass, the communication waits for all of the computation and the computation for all
// of the communication. Summed in buckets — each contiguous range of θ's gradient as soon as the
// backward pass has written it (the last layers' first) — the sums of the first buckets run while
// the backward pass computes the rest (PyTorch's DistributedDataParallel does the same).
//
// The queue is one thread per process that makes the started collectives one after another, in
// the order they were started; start_all_reduce_sum returns at once with a ticket, and
// wait(ticket) returns when that call is done (rethrowing its error, of its class). Every rank
// starts the same calls in the same order (the buckets follow from the network and the bucket
// size alone), so the ranks' queues make the same collectives in the same order.
//
//   - Every collective made directly (the synchronous functions of comm.h, from the main
//     thread) first waits until the queue is empty (drain), so that the order of the
//     collectives is the same on every rank, and MPI is never called from two threads at once:
//     MPI_THREAD_SERIALIZED (comm_mpi.cpp) allows calls from several threads, one at a time.
//   - The tensor is held (its storage shared) until the call is done; the caller must not write
//     it meanwhile, nor read it before wait (the trainer waits for every bucket before the step).
//   - A call that fails (a rank's call differs, a failed MPI or NCCL call) stores its error for
//     its wait; the calls behind it still run (the other ranks make them too).
//   - With NCCL the call is queued on the GPU behind the kernels launched before start, so the
//     bucket holds the gradient the backward pass wrote; while it runs the main thread launches
//     the kernels of the layers before it (cuda/comm_nccl.cu runs NCCL on a stream of its own).
//   - At process exit the queue is drained before MPI is finalised (its atexit handler is
//     registered after MPI's, so it runs first).
//
// Start a collective and wait for it from the same thread (the main JavaScript thread, as every
// collective). A ticket is waited for once.

// Starts the checked all-reduce of comm.h (all_reduce_sum(comm, cuda_comm, t, fn)) on the
// queue's thread; returns its ticket (≥ 1).
uint64_t start_all_reduce_sum(Communicator& comm, Communicator* cuda_comm, const Tensor& t, const char* fn);

// Waits for the call of `ticket` and rethrows its error. ValueError for a ticket that was never
// given or was already waited for.
void wait_collective(uint64_t ticket, const char* fn);

// Waits until every started call is done (their errors stay for their waits).
void drain_collectives();

}  // namespace newton
