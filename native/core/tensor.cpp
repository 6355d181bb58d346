#include "tensor.h"

#include "error.h"

namespace newton {

Tensor Tensor::empty(const Shape& shape, DType dtype, Allocator& allocator) {
  // Limit sizes so that byte counts never overflow (2^40 elements is far beyond any RAM).
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail<ShapeError>("tensor: negative extent in shape ", fmt(shape));
    if (d > 0 && n > kMaxElements / d) fail<ShapeError>("tensor: shape ", fmt(shape), " has too many elements");
    n *= d;
  }
  // Zero-sized tensors still get a (tiny) buffer so that every defined tensor has one.
  const std::size_t bytes = static_cast<std::size_t>(n > 0 ? n : 1) * dtype_size(dtype);
  return Tensor(std::make_shared<Buffer>(&allocator, bytes), 0, shape, dtype);
}

Tensor Tensor::view(int64_t offset, const Shape& shape) const {
  const int64_t n = shape_numel(shape);
  if (offset < 0 || offset + n > numel()) {
    fail<ShapeError>("view: elements [", offset, ", ", offset + n, ") do not fit in a tensor of shape ",
                     fmt(shape_));
  }
  return Tensor(buffer_, offset_ + offset, shape, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (shape_numel(shape) != numel()) {
    fail<ShapeError>("reshape: cannot view shape ", fmt(shape_), " as ", fmt(shape));
  }
  return Tensor(buffer_, offset_, shape, dtype_);
}

bool Tensor::overlaps(const Tensor& other) const {
  if (!defined() || !other.defined() || buffer_ != other.buffer_) return false;
  const int64_t a0 = offset_, a1 = offset_ + numel();
  const int64_t b0 = other.offset_, b1 = other.offset_ + other.numel();
  return a0 < b1 && b0 < a1;
}

}  // namespace newton
