// Tensor shapes: a list of non-negative extents, row-major (NCHW for images).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace newton {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// "(2, 3, 5)"; a scalar shape prints as "()".
inline std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

struct ShapeFormat {
  const Shape& shape;
};
inline std::ostream& operator<<(std::ostream& out, const ShapeFormat& f) {
  return out << shape_str(f.shape);
}
inline ShapeFormat fmt(const Shape& shape) { return ShapeFormat{shape}; }

}  // namespace newton
