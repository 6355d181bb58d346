// Note [random numbers]
// ~~~~~~~~~~~~~~~~~~~~~
// Random numbers come from Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC'11): a counter-based generator, so element i of a fill is a pure function
// of (seed, offset + i). Every backend and every thread count therefore produces the same
// numbers for the same seed. Each fill consumes `numel` positions of its stream; callers
// that draw repeatedly advance `offset` by numel to continue the stream.
//
//   float32 uniform j : word j%4 of block j/4, top 24 bits          -> [0, 1)
//   float64 uniform j : words 2(j%2), 2(j%2)+1 of block j/2, 53 bits -> [0, 1)
//   float32 normal  j : two 24-bit uniforms from block j/2 (words 2(j%2), 2(j%2)+1)
//   float64 normal  j : two 53-bit uniforms from block j (all four words)
// Normals use the Box-Muller cosine branch computed in double, then rounded, so backends
// agree to within the ulps of their libm's log/cos.
#pragma once

#include <cmath>
#include <cstdint>

#include "hostdevice.h"

namespace newton {
namespace philox {

struct Block {
  uint32_t w[4];
};

NEWTON_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// The 128-bit output for the 128-bit counter (block, lane) under key `seed`. `lane` is the
// counter's upper half: a caller that needs several independent blocks for one (seed, block)
// takes lanes 0, 1, 2, ... (note [image transforms] in image_transform.h) rather than
// perturbing the key, which would make (seed, lane 1) collide with (seed ^ 1, lane 0).
NEWTON_HD Block generate(uint64_t seed, uint64_t block, uint64_t lane) {
  uint32_t c0 = static_cast<uint32_t>(block), c1 = static_cast<uint32_t>(block >> 32);
  uint32_t c2 = static_cast<uint32_t>(lane), c3 = static_cast<uint32_t>(lane >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Block{{c0, c1, c2, c3}};
}

// Lane 0: the stream every fill of note [random numbers] uses.
NEWTON_HD Block generate(uint64_t seed, uint64_t block) { return generate(seed, block, 0); }

NEWTON_HD double unit24(uint32_t w) { return static_cast<double>(w >> 8) * (1.0 / 16777216.0); }

NEWTON_HD double unit53(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ static_cast<uint64_t>(lo >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Box-Muller with u1 in (0, 1] so the logarithm is finite.
NEWTON_HD double box_muller(double u1_open0, double u2) {
  const double two_pi = 6.283185307179586476925286766559;
  return std::sqrt(-2.0 * std::log(u1_open0)) * std::cos(two_pi * u2);
}

// Position j of each stream, as laid out in the note above.
NEWTON_HD double uniform_f32(uint64_t seed, uint64_t j) {
  return unit24(generate(seed, j >> 2).w[j & 3]);
}
NEWTON_HD double uniform_f64(uint64_t seed, uint64_t j) {
  const Block b = generate(seed, j >> 1);
  const int k = static_cast<int>(j & 1) * 2;
  return unit53(b.w[k], b.w[k + 1]);
}
NEWTON_HD double normal_f32(uint64_t seed, uint64_t j) {
  const Block b = generate(seed, j >> 1);
  const int k = static_cast<int>(j & 1) * 2;
  return box_muller(1.0 - unit24(b.w[k]), unit24(b.w[k + 1]));
}
NEWTON_HD double normal_f64(uint64_t seed, uint64_t j) {
  const Block b = generate(seed, j);
  return box_muller(1.0 - unit53(b.w[0], b.w[1]), unit53(b.w[2], b.w[3]));
}

}  // namespace philox
}  // namespace newton
