// Element types of tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace newton {

// float32 and float64 hold data; int32 holds indices (max-pool argmax) only.
enum class DType : int { F32 = 0, F64 = 1, I32 = 2 };

inline std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I32: return 4;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I32: return "int32";
  }
  return "unknown";
}

inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64; }

}  // namespace newton
