#include "errors.h"

#include <exception>
#include <new>
#include <stdexcept>

namespace newton {
namespace napi {

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
    throw Napi::RangeError::New(env, e.what());
  } catch (const newton::Error& e) {
    throw Napi::Error::New(env, e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, std::string(op) + ": out of memory");
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
