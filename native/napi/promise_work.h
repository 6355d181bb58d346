// Note [promise work]
// ~~~~~~~~~~~~~~~~~~~
// The `…Async` functions of the data loader (augmentBatchAsync, imageBatchAsync,
// recordBatchAsync) run host work on a libuv thread and settle a Promise. They fail one way:
//   - a bad call (wrong types, sizes, options) is checked on the JS thread before anything is
//     queued and rejects the Promise with the TypeError / RangeError the synchronous function
//     throws — never an exception from the call itself;
//   - an exception of the work (a file that cannot be read, memory) is kept whole and rejects
//     with the class the synchronous function would throw (errors.h maps it), not a plain Error;
//   - the typed arrays of the call are referenced until the Promise settles, so none is
//     collected while the worker thread writes into it; the work touches no JS value (its
//     arguments own their strings).
// As in async_read.cpp, settling fails only while the environment is being torn down, and is
// then dropped.
#pragma once

#include <napi.h>

#include <exception>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace newton {
namespace napi {

template <typename Args, typename Result>
class PromiseWorker final : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result(const Args&)>;
  using Settle = std::function<Napi::Value(Napi::Env, Result&)>;

  PromiseWorker(const Napi::CallbackInfo& info, const char* op, std::initializer_list<int> keep, Args args, Work work,
                Settle settle)
      : Napi::AsyncWorker(info.Env(), (std::string("newton-cnn:") + op).c_str()),
        op_(op),
        deferred_(Napi::Promise::Deferred::New(info.Env())),
        args_(std::move(args)),
        work_(std::move(work)),
        settle_(std::move(settle)) {
    for (int i : keep) refs_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = work_(args_);
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  void OnOK() override {
    try {
      if (!error_) {
        deferred_.Resolve(settle_(Env(), result_));
        return;
      }
      try {
        std::rethrow_exception(error_);
      } catch (...) {
        try {
          rethrow_as_js(Env(), op_);
        } catch (const Napi::Error& e) {
          deferred_.Reject(e.Value());
        }
      }
    } catch (...) {
    }
  }

  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(e.Value());
    } catch (...) {
    }
  }

 private:
  const char* op_;
  Napi::Promise::Deferred deferred_;
  Args args_;
  Work work_;
  Settle settle_;
  Result result_{};
  std::exception_ptr error_;
  std::vector<Napi::ObjectReference> refs_;
};

// Checks the call with `parse` (on this thread), then runs `work` on a libuv thread and settles
// the returned Promise with `settle` (note [promise work]). `keep`: the indices of the call's
// arguments to hold until then (its typed arrays).
template <typename Args, typename Result>
Napi::Value queue_promise_work(const Napi::CallbackInfo& info, const char* op, std::initializer_list<int> keep,
                               const std::function<Args()>& parse, typename PromiseWorker<Args, Result>::Work work,
                               typename PromiseWorker<Args, Result>::Settle settle) {
  Args args;
  try {
    args = parse();
  } catch (...) {
    Napi::Promise::Deferred rejected = Napi::Promise::Deferred::New(info.Env());
    try {
      rethrow_as_js(info.Env(), op);
    } catch (const Napi::Error& e) {
      rejected.Reject(e.Value());
    }
    return rejected.Promise();
  }
  auto* worker = new PromiseWorker<Args, Result>(info, op, keep, std::move(args), std::move(work), std::move(settle));
  Napi::Promise promise = worker->promise();
  worker->Queue();  // deletes itself after OnOK / OnError
  return promise;
}

// The result of work that returns nothing.
struct Nothing {};

}  // namespace napi
}  // namespace newton
