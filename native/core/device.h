// Where a tensor's memory lives.
#pragma once

#include <string>

namespace newton {

enum class DeviceKind : int { CPU = 0, CUDA = 1 };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }

  // "cpu", "cuda:0"
  std::string name() const {
    return kind == DeviceKind::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
  }
};

inline Device cpu_device() { return Device{}; }

}  // namespace newton
