#include "errors.h"

#include <exception>
#include <new>
#include <stdexcept>

namespace newton {
namespace napi {

namespace {
thread_local std::string g_allocation_context;
}

void set_allocation_context(std::string what) { g_allocation_context = std::move(what); }

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
  } catch (const newton::Error& e) {
    throw Napi::Error::New(env, e.what());
  } catch (const std::bad_alloc&) {
    std::string what = g_allocation_context.empty() ? std::string("the result") : g_allocation_context;
    throw Napi::RangeError::New(env, std::string(op) + ": out of memory allocating " + what);
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
