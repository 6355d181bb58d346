// The collective queue: note [collective queue] in comm_queue.h.
#include "comm_queue.h"

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "error.h"

namespace newton {

namespace {

class CollectiveQueue;
CollectiveQueue& queue();

class CollectiveQueue {
 public:
  uint64_t start(std::function<void()> call) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { run(); });
      // Registered after MPI's handler (MPI is up before any collective is started), so it
      // runs before MPI_Finalize.
      std::atexit([] { queue().drain(); });
    }
    const uint64_t ticket = ++last_ticket_;
    pending_.push_back({ticket, std::move(call)});
    outcomes_.emplace(ticket, Outcome{});
    wake_.notify_all();
    return ticket;
  }

  void wait(uint64_t ticket, const char* fn) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = outcomes_.find(ticket);
    if (it == outcomes_.end()) {
      fail<ValueError>(fn, ": no collective in flight has ticket ", ticket, " (each is waited for once)");
    }
    done_.wait(lock, [&] { return it->second.finished; });
    const std::exception_ptr error = it->second.error;
    outcomes_.erase(it);
    if (error) std::rethrow_exception(error);
  }

  void drain() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_.empty() && !busy_; });
  }

 private:
  struct Pending {
    uint64_t ticket;
    std::function<void()> call;
  };
  struct Outcome {
    bool finished = false;
    std::exception_ptr error;
  };

  // The queue's thread: never ends (the process's exit ends it, after drain).
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return !pending_.empty(); });
      Pending next = std::move(pending_.front());
      pending_.pop_front();
      busy_ = true;
      lock.unlock();
      std::exception_ptr error;
      try {
        next.call();
      } catch (...) {
        error = std::current_exception();
      }
      next.call = nullptr;  // releases the tensor before the waiter goes on
      lock.lock();
      busy_ = false;
      Outcome& o = outcomes_[next.ticket];
      o.finished = true;
      o.error = error;
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;  // a call was started
  std::condition_variable done_;  // a call finished
  std::deque<Pending> pending_;
  std::unordered_map<uint64_t, Outcome> outcomes_;
  uint64_t last_ticket_ = 0;
  bool busy_ = false;
  std::thread thread_;
};

// Never destroyed: its thread lives as long as the process.
CollectiveQueue& queue() {
  static CollectiveQueue* q = new CollectiveQueue();
  return *q;
}

}  // namespace

uint64_t start_all_reduce_sum(Communicator& comm, Communicator* cuda_comm, const Tensor& t, const char* fn) {
  Communicator* mpi = &comm;
  return queue().start([mpi, cuda_comm, t, fn] { all_reduce_sum(*mpi, cuda_comm, t, fn); });
}

void wait_collective(uint64_t ticket, const char* fn) { queue().wait(ticket, fn); }

void drain_collectives() { queue().drain(); }

}  // namespace newton
