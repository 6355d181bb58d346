#include "errors.h"

#include <exception>
#include <new>
#include <stdexcept>

#include "tensor_wrap.h"

namespace newton {
namespace napi {

namespace {

// lib/errors.ts's OutOfMemoryError (a RangeError) when lib/native.ts registered it, else a
// plain RangeError: the addon stays usable on its own.
[[noreturn]] void throw_out_of_memory(Napi::Env env, const std::string& message) {
  InstanceData* data = env.GetInstanceData<InstanceData>();
  if (data && !data->out_of_memory_error.IsEmpty()) {
    Napi::Object error = data->out_of_memory_error.New({Napi::String::New(env, message)});
    throw Napi::Error(env, error);
  }
  throw Napi::RangeError::New(env, message);
}

}  // namespace

void rethrow_as_js(Napi::Env env, const char* op) {
  try {
    throw;
  } catch (const Napi::Error&) {
    // A JS exception is already pending (or was created by us): pass it on unchanged.
    throw;
  } catch (const newton::ArgumentTypeError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const newton::ShapeError& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const newton::ValueError& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const newton::OutOfMemoryError& e) {
    throw_out_of_memory(env, e.what());
  } catch (const newton::Error& e) {
    throw Napi::Error::New(env, e.what());
  } catch (const std::bad_alloc&) {
    throw_out_of_memory(env, std::string(op) + ": out of memory");
  } catch (const std::length_error& e) {
    throw Napi::RangeError::New(env, std::string(op) + ": size too large (" + e.what() + ")");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(op) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string(op) + ": unknown native error");
  }
}

}  // namespace napi
}  // namespace newton
