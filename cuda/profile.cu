// The CUDA backend's profiler hooks (note [profiler hooks] in native/core/backend.h).
//
// Note [cuda profiling]
// ~~~~~~~~~~~~~~~~~~~~~
// - A kernel launch is timed by two events recorded on the stream around it, taken from a
//   pool that every session reuses (events are created only when the pool grows). Nothing
//   waits for them while the session runs: the times are read when a report or a trace is
//   made (profile_resolve), after the work has completed.
// - Device times are put on the host's steady_clock through an origin event recorded when
//   the session starts; that start waits once for the stream to drain, so the origin's
//   host time is the moment it completed. Ops then sit on the same time axis as the host's
//   scopes, within the launch latency.
// - With the NVTX 3 headers (nvidia-nvtx wheel, found by CMakeLists.txt), every timed op
//   and every profiler scope is also an NVTX range, so Nsight Systems shows the same names;
//   no range is pushed while the profiler is off. Without them the hooks still time ops.
#include <cuda_runtime.h>

#if NEWTON_HAVE_NVTX
#include <nvtx3/nvToolsExt.h>
#endif

#include "check.h"
#include "cuda_backend.h"

namespace newton {
namespace cuda {

namespace {
constexpr const char* kOp = "profile";

inline void nvtx_push(const char* name) {
#if NEWTON_HAVE_NVTX
  nvtxRangePushA(name);
#else
  (void)name;
#endif
}

inline void nvtx_pop() {
#if NEWTON_HAVE_NVTX
  nvtxRangePop();
#endif
}
}  // namespace

int CudaBackend::take_profile_event() {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  if (profile_next_event_ == profile_events_.size()) {
    cudaEvent_t e = nullptr;
    NEWTON_CUDA_CHECK(kOp, cudaEventCreate(&e));
    profile_events_.push_back(e);
  }
  return static_cast<int>(profile_next_event_++);
}

void CudaBackend::release_profile_events() noexcept {
  for (cudaEvent_t e : profile_events_) cudaEventDestroy(e);
  profile_events_.clear();
  profile_next_event_ = 0;
  if (profile_origin_) cudaEventDestroy(profile_origin_);
  profile_origin_ = nullptr;
}

void CudaBackend::profile_session_begin() {
  set_device();
  std::lock_guard<std::mutex> lock(profile_mutex_);
  profile_next_event_ = 0;  // the previous session's events are free again
  if (!profile_origin_) NEWTON_CUDA_CHECK(kOp, cudaEventCreate(&profile_origin_));
  NEWTON_CUDA_CHECK(kOp, cudaEventRecord(profile_origin_, stream_));
  NEWTON_CUDA_CHECK(kOp, cudaEventSynchronize(profile_origin_));
  profile_origin_ns_ = host_clock_ns();
}

// The event at `index`, read under the mutex: another host thread's take_profile_event may
// grow (and so move) the pool at the same time.
cudaEvent_t CudaBackend::profile_event(int index) {
  std::lock_guard<std::mutex> lock(profile_mutex_);
  return profile_events_[static_cast<std::size_t>(index)];
}

void CudaBackend::profile_op_begin(const char* name, ProfileTiming& t) {
  set_device();
  nvtx_push(name);
  t.start_event = take_profile_event();
  t.end_event = take_profile_event();
  NEWTON_CUDA_CHECK(kOp, cudaEventRecord(profile_event(t.start_event), stream_));
}

void CudaBackend::profile_op_end(ProfileTiming& t) {
  nvtx_pop();
  if (t.end_event < 0) return;
  // Not checked: this runs in a destructor, also while a kernel's error unwinds.
  cudaEventRecord(profile_event(t.end_event), stream_);
}

void CudaBackend::profile_resolve(ProfileTiming& t) {
  if (t.start_event < 0 || t.end_event < 0) return;
  std::lock_guard<std::mutex> lock(profile_mutex_);
  const std::size_t n = profile_events_.size();
  if (static_cast<std::size_t>(t.end_event) >= n || !profile_origin_) return;
  NEWTON_CUDA_CHECK(kOp, cudaEventSynchronize(profile_events_[t.end_event]));
  float start_ms = 0, end_ms = 0;
  NEWTON_CUDA_CHECK(kOp, cudaEventElapsedTime(&start_ms, profile_origin_, profile_events_[t.start_event]));
  NEWTON_CUDA_CHECK(kOp, cudaEventElapsedTime(&end_ms, profile_origin_, profile_events_[t.end_event]));
  t.start_ns = profile_origin_ns_ + static_cast<int64_t>(static_cast<double>(start_ms) * 1e6);
  t.end_ns = profile_origin_ns_ + static_cast<int64_t>(static_cast<double>(end_ms) * 1e6);
  t.start_event = t.end_event = -1;  // resolved: later snapshots keep these times
}

void CudaBackend::profile_range_push(const char* name) { nvtx_push(name); }
void CudaBackend::profile_range_pop() { nvtx_pop(); }

}  // namespace cuda
}  // namespace newton
