// Collectives between processes (core/comm.h, note [communicators]): mpiInfo, mpiInit,
// ncclInfo, ncclInit, commAllReduceSum, commAllReduceSumArray, commBroadcast and commBarrier.
// Synchronous on the JS thread, by design: a collective is a step every rank takes together, and
// MPI is initialised for one calling thread (MPI_THREAD_SERIALIZED), the main JavaScript thread.
// CPU tensors go through MPI, CUDA tensors through NCCL once ncclInit has made its communicator.
// The exception: commAllReduceSumStart / commWait, the gradient buckets' all-reduces made by the
// collective queue's thread while the backward pass goes on (core/comm_queue.h, note
// [collective queue]); every synchronous collective first waits for the queue to empty.
#include <napi.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <pthread.h>
#endif

#include <cstddef>
#include <cstdint>
#include <string>

#include "convert.h"
#include "core/comm.h"
#include "core/comm_queue.h"
#include "core/error.h"
#include "errors.h"
#include "exports.h"

namespace newton {
namespace napi {

namespace {

using Info = Napi::CallbackInfo;

// Whether this is the process's main thread, where Node runs the main environment (worker
// threads' environments run on threads of their own).
bool on_main_thread() {
#if defined(__linux__)
  return static_cast<pid_t>(syscall(SYS_gettid)) == getpid();
#elif defined(__APPLE__)
  return pthread_main_np() != 0;
#else
  return true;  // the core still refuses collectives from another thread than mpiInit's
#endif
}

// { library } when available, else { library: null, reason }: mpiInfo's and ncclInfo's shape.
Napi::Object library_info(Napi::Env env, bool available, const std::string& library, const std::string& reason) {
  Napi::Object result = Napi::Object::New(env);
  if (available) {
    result.Set("library", Napi::String::New(env, library));
  } else {
    result.Set("library", env.Null());
    result.Set("reason", Napi::String::New(env, reason));
  }
  return result;
}

// { rank, size, localRank, localSize, library }: the job as a communicator sees it.
Napi::Object job_object(Napi::Env env, const Communicator& comm) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("rank", Napi::Number::New(env, comm.rank()));
  result.Set("size", Napi::Number::New(env, comm.size()));
  result.Set("localRank", Napi::Number::New(env, comm.local_rank()));
  result.Set("localSize", Napi::Number::New(env, comm.local_size()));
  result.Set("library", Napi::String::New(env, comm.library()));
  return result;
}

Napi::Value MpiInfoFn(const Info& info) {
  return guard(info, "mpiInfo", [&]() -> Napi::Value {
    const MpiInfo mpi = mpi_info();
    return library_info(info.Env(), mpi.available, mpi.library, mpi.reason);
  });
}

// mpiInit(timeoutSeconds) -> { rank, size, localRank, localSize, library }.
Napi::Value MpiInit(const Info& info) {
  static constexpr const char* op = "mpiInit";
  return guard(info, op, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const double timeout = number_arg(info[0], op, "timeoutSeconds");
    const MpiInfo mpi = mpi_info();
    if (!mpi.available) fail<Error>(op, ": ", mpi.reason);
    if (!on_main_thread()) {
      fail<Error>(op, ": MPI can only be initialised from the main JavaScript thread, not from a worker thread "
                      "(worker_threads); make the collectives from the main thread");
    }
    return job_object(env, mpi_communicator(timeout, op));
  });
}

Napi::Value NcclInfoFn(const Info& info) {
  return guard(info, "ncclInfo", [&]() -> Napi::Value {
    const NcclInfo nccl = nccl_info();
    return library_info(info.Env(), nccl.available, nccl.library, nccl.reason);
  });
}

// ncclInit(timeoutSeconds) -> { rank, size, localRank, localSize, device, library }. Every rank
// together, after mpiInit (the NCCL id goes through MPI).
Napi::Value NcclInit(const Info& info) {
  static constexpr const char* op = "ncclInit";
  return guard(info, op, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const double timeout = number_arg(info[0], op, "timeoutSeconds");
    Communicator& mpi = initialized_mpi_communicator(op);  // also: the thread that called mpiInit
    drain_collectives();
    Communicator& comm = nccl_communicator(mpi, timeout, op);
    Napi::Object result = job_object(env, comm);
    result.Set("device", Napi::String::New(env, comm.device().name()));
    return result;
  });
}

Napi::Value CommAllReduceSum(const Info& info) {
  static constexpr const char* op = "commAllReduceSum";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "t");
    Communicator& comm = initialized_mpi_communicator(op);
    drain_collectives();
    all_reduce_sum(comm, initialized_nccl_communicator(), t, op);
    return info.Env().Undefined();
  });
}

// commAllReduceSumStart(t) -> ticket: the all-reduce of t made by the collective queue; t must
// be neither written nor read until commWait(ticket) returns.
Napi::Value CommAllReduceSumStart(const Info& info) {
  static constexpr const char* op = "commAllReduceSumStart";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "t");
    Communicator& comm = initialized_mpi_communicator(op);
    const uint64_t ticket = start_all_reduce_sum(comm, initialized_nccl_communicator(), t, "commAllReduceSum");
    return Napi::Number::New(info.Env(), static_cast<double>(ticket));
  });
}

// commWait(ticket): returns when the started collective is done; throws its error.
Napi::Value CommWait(const Info& info) {
  static constexpr const char* op = "commWait";
  return guard(info, op, [&]() -> Napi::Value {
    const uint64_t ticket = uint_arg(info[0], op, "ticket", "ticket");
    initialized_mpi_communicator(op);  // the thread that called mpiInit
    wait_collective(ticket, op);
    return info.Env().Undefined();
  });
}

Napi::Value CommAllReduceSumArray(const Info& info) {
  static constexpr const char* op = "commAllReduceSumArray";
  return guard(info, op, [&]() -> Napi::Value {
    const Napi::Value av = info[0];
    if (!av.IsTypedArray()) fail<ArgumentTypeError>(op, ": a must be a Float64Array, got ", describe(av));
    Napi::TypedArray ta = av.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_float64_array) {
      fail<ArgumentTypeError>(op, ": a must be a Float64Array, got ", typed_array_name(ta.TypedArrayType()));
    }
    Communicator& comm = initialized_mpi_communicator(op);
    drain_collectives();
    const std::size_t n = ta.ElementLength();
    double* a = n == 0 ? nullptr : Napi::Float64Array(info.Env(), av).Data();
    all_reduce_sum(comm, a, n, op);
    return info.Env().Undefined();
  });
}

// commBroadcast(t, root). root: a non-negative integer here; whether it is a rank of the job
// is checked by every rank together (core/comm.h).
Napi::Value CommBroadcast(const Info& info) {
  static constexpr const char* op = "commBroadcast";
  return guard(info, op, [&]() -> Napi::Value {
    const Tensor t = tensor_arg(info[0], op, "t");
    const uint64_t root = uint_arg(info[1], op, "root", "root");
    Communicator& comm = initialized_mpi_communicator(op);
    drain_collectives();
    broadcast(comm, initialized_nccl_communicator(), t, static_cast<int64_t>(root), op);  // a safe integer: exact in an int64
    return info.Env().Undefined();
  });
}

Napi::Value CommBarrier(const Info& info) {
  static constexpr const char* op = "commBarrier";
  return guard(info, op, [&]() -> Napi::Value {
    Communicator& comm = initialized_mpi_communicator(op);
    drain_collectives();
    barrier(comm, op);
    return info.Env().Undefined();
  });
}

}  // namespace

void register_comm(Napi::Env env, Napi::Object exports) {
  exports.Set("mpiInfo", Napi::Function::New(env, MpiInfoFn, "mpiInfo"));
  exports.Set("mpiInit", Napi::Function::New(env, MpiInit, "mpiInit"));
  exports.Set("ncclInfo", Napi::Function::New(env, NcclInfoFn, "ncclInfo"));
  exports.Set("ncclInit", Napi::Function::New(env, NcclInit, "ncclInit"));
  exports.Set("commAllReduceSum", Napi::Function::New(env, CommAllReduceSum, "commAllReduceSum"));
  exports.Set("commAllReduceSumArray", Napi::Function::New(env, CommAllReduceSumArray, "commAllReduceSumArray"));
  exports.Set("commAllReduceSumStart", Napi::Function::New(env, CommAllReduceSumStart, "commAllReduceSumStart"));
  exports.Set("commWait", Napi::Function::New(env, CommWait, "commWait"));
  exports.Set("commBroadcast", Napi::Function::New(env, CommBroadcast, "commBroadcast"));
  exports.Set("commBarrier", Napi::Function::New(env, CommBarrier, "commBarrier"));
}

}  // namespace napi
}  // namespace newton
