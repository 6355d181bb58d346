// Collectives between processes (data parallelism): note [communicators].
//
// The MPI implementation is in comm_mpi.cpp. It is optional at build time: the build defines
// NEWTON_HAVE_MPI when it found an MPI library (CMakeLists.txt: find_package(MPI); binding.gyp:
// mpicc). Without it the functions still exist: mpi_info() says why there is no MPI, and
// mpi_communicator throws newton::Error saying how to get a build that has it.
//
// The NCCL implementation (CUDA tensors) lives in the CUDA library (cuda/comm_nccl.cu, built
// when CMake finds NCCL: NEWTON_USE_NCCL); comm_nccl.cpp here reaches it through the library's
// entry points (cuda/entry.cu) and says why there is none when it cannot.
#pragma once

#include <cstddef>
#include <string>

#include "device.h"
#include "tensor.h"

namespace newton {

class Backend;

// Note [communicators]
// ~~~~~~~~~~~~~~~~~~~~
// A Communicator joins the `size` processes of one job (ranks 0 … size-1) for collectives:
// every rank makes the same collective calls in the same order, and a call returns on a rank
// once that rank's part is done. `local_rank` / `local_size` number the ranks of this host (the
// GPU a rank takes: cuda:(local_rank % devices)). This interface is what every backend fills: MPI
// (host memory) and NCCL (device memory of one GPU, with the same calls); the checked,
// tensor-level functions below take the job's MPI communicator and, where it was made, its NCCL
// one, and send each tensor through the one for its device.
//
// MPI (comm_mpi.cpp), in a Node process:
//   - Node loads addons with dlopen(RTLD_LAZY | RTLD_LOCAL), so libmpi, a dependency of the
//     addon, is loaded with local scope. Open MPI opens its components (mca_*.so plugins) with
//     dlopen at MPI_Init, and they need libmpi's (and libopen-pal's, libopen-rte's) symbols,
//     which a local library does not provide to objects opened later: MPI_Init then fails with
//     "undefined symbol" errors from the plugins. So, before MPI_Init, the already loaded libmpi
//     is promoted to global scope: dladdr of an MPI function gives the file it lives in, and
//     dlopen(that file, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) re-opens the loaded object (never
//     loading another) and adds it and its dependencies to the global scope. The soname is not
//     hard-coded (libmpi.so.40 for Open MPI 4, libmpi.so.12 for MPICH). Debian's Open MPI 4.1
//     links each plugin against libmpi and libopen-pal itself and works without this (checked:
//     a program that dlopens, RTLD_LOCAL, a library linked with libmpi initialises fine); Open
//     MPI builds whose plugins do not link them need it.
//   - MPI_Init_thread(MPI_THREAD_SERIALIZED): only one thread calls MPI at a time, the one that
//     called mpi_communicator (in Node: the main JavaScript thread; worker threads are refused).
//     The timeout watchdog (below) is the one other thread that may call MPI, and only
//     MPI_Abort, which ends the process.
//   - MPI_ERRORS_RETURN on MPI_COMM_WORLD: a failed call becomes newton::Error naming the
//     function, the MPI call and MPI_Error_string's text, instead of aborting the process.
//   - local_rank / local_size: MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) (the ranks that can
//     share memory, i.e. of one host).
//   - MPI_Finalize runs at process exit (std::atexit), when this library initialised MPI (an MPI
//     another library initialised first is used as it is, and left to it to finalise). A
//     failure of MPI_Init_thread itself usually ends the process with Open MPI's message:
//     MPI_ERRORS_ARE_FATAL applies until MPI is initialised (MPI-4's mpi_initial_errhandler,
//     which could change that, comes with Open MPI 5).
//   - Outside mpirun MPI_Init gives a job of one (an Open MPI "singleton"): rank 0 of size 1,
//     where every collective returns its input.
//
// Timeouts. MPI has none: a collective whose peer died or hangs waits forever. A watchdog
// thread watches every collective this library makes; when one has run for longer than the
// timeout it writes one line to stderr,
//   newton-cnn: rank 0 of 2: MPI_Allgather (commAllReduceSum) has waited 3 s for the other
//   ranks (one has died or hangs); ending the job
// (the MPI call, then the function that made it) and calls MPI_Abort(MPI_COMM_WORLD, 70), which
// makes mpirun end every rank (exit status 70). A rank that is killed or crashes is usually
// seen first by mpirun, which then ends the job with its own message naming that rank; the
// watchdog covers what mpirun cannot see: a rank that exits normally, or hangs, before a
// collective the others are in. The timeout is per MPI call (a large tensor goes in chunks of at
// most 2^30 elements), so it must be longer than the longest all-reduce of the job, and than
// the longest time one rank may spend outside the collectives while the others wait in one
// (rank 0 writing a checkpoint while the others wait at the next all-reduce). MPI_Init_thread
// and MPI_Finalize are not watched: they wait for every rank to start, or to finish (a rank that
// is done waits at exit as long as another works on), and a rank that dies meanwhile is seen by
// mpirun.
//
// Open MPI in a Node process, as seen with Open MPI 4.1.4: it installs its backtrace handlers
// for SIGABRT, SIGBUS and SIGFPE, where Node has none, and leaves Node's SIGSEGV handler alone.
// Outside mpirun it starts a helper daemon (orted, from openmpi-bin) through its launcher,
// which looks for ssh even on one host: without ssh on PATH, set OMPI_MCA_plm=isolated.
//
// Checked collectives (all_reduce_sum, broadcast, barrier below). A mistake on one rank (a
// CUDA tensor, another shape, another root) must not leave the other ranks waiting in the data
// collective: each call first exchanges a small description of every rank's call (which
// collective, dtype, device, shape, root) with all_gather, and every rank checks all of them,
// so that every rank throws the same error, naming the rank at fault, and the job stays in step
// (every rank made the same calls). That costs one small all_gather per call (a few µs between
// the processes of one host).
//
// NCCL (cuda/comm_nccl.cu), for CUDA tensors:
//   - One communicator per process, on the GPU cuda:(local_rank % visible devices), made by
//     nccl_communicator() below once MPI is up: rank 0 asks ncclGetUniqueId for the job's id,
//     MPI broadcasts its 128 bytes, and every rank calls ncclCommInitRankConfig. Before that
//     every rank tells the others, with an MPI all_gather, whether it can take part (a CUDA
//     library with NCCL, a GPU), so that all fail together, naming the rank at fault, instead
//     of leaving the others waiting in the broadcast.
//   - The descriptions of the checked collectives still go over MPI, also for CUDA tensors:
//     they are a few host bytes, which MPI exchanges in microseconds, where NCCL would need
//     them copied to the device and back with a synchronisation each way; and the checks must
//     also catch the mistakes that make NCCL unusable (a CPU tensor on one rank, a rank without
//     NCCL), so they cannot depend on it. Only the data goes through NCCL.
//   - The collectives run on a stream of the communicator's own, made to wait (an event) for
//     everything queued on the CUDA backend's stream before the call — the kernels that made the
//     tensor, so no synchronisation is needed before — and the call then waits until they have
//     completed: a collective is a step every rank takes together, as with MPI, and that wait is
//     where a timeout can be seen. The backend's stream is not held meanwhile: the kernels the
//     main thread launches while the collective queue's thread sums a gradient bucket
//     (comm_queue.h) run beside it.
//   - Timeouts: NCCL has none either, and a watchdog that ends the job (as MPI's does) would
//     also end a healthy rank's process where NCCL can be stopped cleanly. So the communicator is
//     non-blocking (ncclConfig_t.blocking = 0): no NCCL call blocks the host, and the calling
//     thread polls, until a deadline of timeout seconds, cudaEventQuery (completion) and
//     ncclCommGetAsyncError (errors, including a peer NCCL saw fail). At the deadline it calls
//     ncclCommAbort (which ends the collective's kernels) and throws an Error naming the rank,
//     the NCCL call and the wait. The communicator cannot be used after that (nor after any
//     NCCL error: NCCL communicators do not recover), and says so. ncclCommInitRankConfig is
//     watched the same way (a rank that never calls ncclInit).
//   - The barrier is an all-reduce of one float on the device; ncclInit ends with one, since
//     NCCL connects the ranks lazily at the first collective: a connection problem then shows
//     in ncclInit, under its timeout, not in the first all-reduce of the training.
//   - ncclCommAbort at process exit (not ncclCommDestroy, which waits for the other ranks).
class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // The library, e.g. "Open MPI 4.1.4".
  virtual const std::string& library() const = 0;
  // The backend and library, e.g. "MPI (Open MPI 4.1.4)".
  virtual std::string name() const = 0;
  // Where the data of the primitives below lives: cpu (MPI), or the GPU of an NCCL communicator.
  virtual Device device() const = 0;
  // The timeout of the collectives from now on (seconds, finite and > 0).
  virtual void set_timeout(double seconds) = 0;

  // The primitives, unchecked: every rank must pass the same n / bytes / root. `fn` names the
  // caller in error messages ("commAllReduceSum: MPI_Allreduce failed: …").
  // data[0 … n) = the sum over the ranks of their data[0 … n), in place.
  virtual void all_reduce_sum(float* data, std::size_t n, const char* fn) = 0;
  virtual void all_reduce_sum(double* data, std::size_t n, const char* fn) = 0;
  // root's bytes into every rank's data[0 … bytes).
  virtual void broadcast(void* data, std::size_t bytes, int root, const char* fn) = 0;
  // recv[r·bytes … (r+1)·bytes) = rank r's send[0 … bytes), on every rank (size()·bytes).
  virtual void all_gather(const void* send, std::size_t bytes, void* recv, const char* fn) = 0;
  // Returns once every rank has called it.
  virtual void barrier(const char* fn) = 0;
};

// The MPI library this build linked, or why there is none.
struct MpiInfo {
  bool available = false;
  std::string library;  // "Open MPI 4.1.4" when available
  std::string reason;   // when not: "this build has no MPI (install libopenmpi-dev and rebuild)"
};
MpiInfo mpi_info();

// The process-wide MPI communicator, created (MPI_Init_thread) by the first call; later calls
// return the same one and set the watchdog's timeout to `timeout_seconds`. `fn` names the
// caller in errors. Errors:
//   ValueError  timeout_seconds not a finite number > 0
//   Error       no MPI in this build; MPI failed to initialise (the same error again on later
//               calls: MPI cannot be initialised twice); a call from another thread than the
//               first call's
Communicator& mpi_communicator(double timeout_seconds, const char* fn);

// The communicator mpi_communicator created. Error when there is none yet ("<fn>: MPI is not
// initialised in this process: call mpiInit(timeoutSeconds) first"), when the build has no MPI,
// or when called from another thread than the one that created it.
Communicator& initialized_mpi_communicator(const char* fn);

// The NCCL library of the CUDA backend, or why there is none: no CUDA library, no NCCL in its
// build, no GPU (`available` false: `library` then holds the version when NCCL is built in).
struct NcclInfo {
  bool available = false;
  std::string library;  // "NCCL 2.27.7" when NCCL is in the build
  std::string reason;   // when not available
};
NcclInfo nccl_info();

// The process-wide NCCL communicator (note [communicators], "NCCL"), made by the first call on
// every rank together (a collective over `mpi`, the communicator the unique id goes through);
// later calls return the same one and set its timeout. Errors (the same on every rank where the
// cause is one rank's; `fn` names the caller):
//   ValueError  timeout_seconds not a finite number > 0
//   Error       no CUDA library, no NCCL in it, no GPU (on any rank, naming it); NCCL failed to
//               initialise or timed out (naming the NCCL call and the rank)
Communicator& nccl_communicator(Communicator& mpi, double timeout_seconds, const char* fn);
// The communicator nccl_communicator made, or null before.
Communicator* initialized_nccl_communicator();

// The NCCL entry points of libnewton_cuda.so (cuda/entry.cu), looked up with dlsym by
// comm_nccl.cpp. Each returns 0, or non-zero with a message in `error`; none throws.
//   newton_nccl_version(text, size): "NCCL 2.27.7" into text; non-zero when the library was built
//     without NCCL (text: why).
//   newton_nccl_unique_id(id, id_size, error, error_size): ncclGetUniqueId into id[0 … 128).
//   newton_nccl_create(abi_version, backend, id, id_size, rank, size, local_rank, local_size,
//     timeout_seconds, fn, out, error, error_size): the communicator of `rank` on `backend`'s GPU;
//     the error begins with `fn`.
constexpr std::size_t kNcclUniqueIdBytes = 128;  // NCCL_UNIQUE_ID_BYTES
using NcclVersionFn = int (*)(char*, unsigned long);
using NcclUniqueIdFn = int (*)(void*, unsigned long, char*, unsigned long);
using NcclCreateFn = int (*)(int, Backend*, const void*, unsigned long, int, int, int, int, double, const char*,
                             Communicator**, char*, unsigned long);

// Checked collectives (note [communicators]: every rank checks every rank's call first, and
// all throw the same error). `comm` is the job's MPI communicator, which carries the calls'
// descriptions and the CPU tensors; `cuda_comm` its NCCL communicator (null when none was made),
// which carries the CUDA tensors. Every rank must call the same one with the same shape and dtype:
//   Error       a CUDA tensor on some rank without NCCL there, on another GPU than its NCCL
//               communicator's, or CPU tensors on some ranks and CUDA tensors on others
//   ShapeError  a dtype other than float32/float64 (all_reduce_sum), or ranks whose shapes or
//               dtypes differ, naming both
//   ValueError  a root outside [0, size) or ranks that name different roots (broadcast)
//   Error       ranks that called different collectives; a failed MPI call
// Every Tensor is one contiguous range of its buffer (tensor.h: a view is a contiguous
// sub-range), so there are no strided views to refuse.
//
// t = the sum over the ranks of t (float32 or float64, CPU; float32 on CUDA), in place.
void all_reduce_sum(Communicator& comm, Communicator* cuda_comm, const Tensor& t, const char* fn);
// a[0 … n) = the sum over the ranks (n must agree), in place.
void all_reduce_sum(Communicator& comm, double* a, std::size_t n, const char* fn);
// root's t into every rank's t (any dtype, CPU or CUDA; shapes and dtypes must agree).
void broadcast(Communicator& comm, Communicator* cuda_comm, const Tensor& t, int64_t root, const char* fn);
// Returns once every rank has called it.
void barrier(Communicator& comm, const char* fn);

}  // namespace newton
