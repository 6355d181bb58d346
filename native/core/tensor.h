// Tensor: a shape, a dtype, and a contiguous row-major region of a shared Buffer.
//
// Tensors are cheap handles: copying one shares the buffer. `view()` makes a tensor over a
// contiguous sub-range of the same buffer; networks use it to keep all parameters in one
// flat vector θ with a view per layer (the Newton method works on θ as a whole).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "allocator.h"
#include "dtype.h"
#include "shape.h"

namespace newton {

class Tensor {
 public:
  Tensor() = default;

  // Allocates uninitialised memory for `shape` from `allocator`.
  static Tensor empty(const Shape& shape, DType dtype, Allocator& allocator);

  // A tensor of `shape` over elements [offset, offset + numel(shape)) of this tensor's
  // buffer. Throws ShapeError when the range does not fit.
  Tensor view(int64_t offset, const Shape& shape) const;

  // The same elements under another shape with equal element count.
  Tensor reshape(const Shape& shape) const;

  bool defined() const { return buffer_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(std::size_t i) const { return shape_.at(i); }
  std::size_t ndim() const { return shape_.size(); }
  int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return buffer_ ? buffer_->device() : Device{}; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }

  void* raw() const {
    return static_cast<char*>(buffer_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
  }
  template <typename T>
  T* data() const {
    return static_cast<T*>(raw());
  }

  // True when both tensors' elements overlap in memory.
  bool overlaps(const Tensor& other) const;

  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  int64_t offset() const { return offset_; }

 private:
  Tensor(std::shared_ptr<Buffer> buffer, int64_t offset, Shape shape, DType dtype)
      : buffer_(std::move(buffer)), offset_(offset), shape_(std::move(shape)), dtype_(dtype) {}

  std::shared_ptr<Buffer> buffer_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::F32;
};

}  // namespace newton
