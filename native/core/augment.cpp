// Batch augmentation on the host: note [batch augmentation] in augment.h.
#include "augment.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.h"
#include "parallel.h"
#include "random.h"

namespace newton {

namespace {

// An integer in [0, range) from a uniform 32-bit word: (w·range) >> 32, exact in 64 bits
// (and in a double, for the JS reference, since range < 2^21 here).
int64_t below(uint32_t w, int64_t range) {
  return static_cast<int64_t>((static_cast<uint64_t>(w) * static_cast<uint64_t>(range)) >> 32);
}

int64_t out_h(const AugmentSpec& s) { return s.crop_h > 0 ? s.crop_h : s.height; }
int64_t out_w(const AugmentSpec& s) { return s.crop_w > 0 ? s.crop_w : s.width; }

}  // namespace

void check_augment_spec(const AugmentSpec& s, const char* fn) {
  if (s.channels < 1 || s.height < 1 || s.width < 1) {
    fail<ValueError>(fn, ": shape must be positive [C, H, W], got [", s.channels, ", ", s.height, ", ", s.width, "]");
  }
  if (s.classes < 1) fail<ValueError>(fn, ": classes must be a positive integer, got ", s.classes);
  // padding and sizes stay far below 2^20 so that below() is exact and offsets fit anything
  constexpr int64_t kMax = int64_t{1} << 20;
  if (s.padding < 0 || s.padding > kMax) fail<ValueError>(fn, ": crop.padding must be an integer in [0, 2^20], got ", s.padding);
  if (s.crop_h < 0 || s.crop_w < 0 || s.crop_h > kMax || s.crop_w > kMax) {
    fail<ValueError>(fn, ": crop.size must be a positive integer, got ", s.crop_h, "×", s.crop_w);
  }
  if (out_h(s) > s.height + 2 * s.padding || out_w(s) > s.width + 2 * s.padding) {
    fail<ValueError>(fn, ": crop.size ", out_h(s), "×", out_w(s), " is larger than the padded image ", s.height + 2 * s.padding,
                     "×", s.width + 2 * s.padding, " (H, W + 2·crop.padding)");
  }
  const bool has_mean = !s.mean.empty(), has_std = !s.std.empty();
  if (has_mean != has_std) fail<ValueError>(fn, ": normalize needs both mean and std");
  if (has_mean) {
    if (static_cast<int64_t>(s.mean.size()) != s.channels || static_cast<int64_t>(s.std.size()) != s.channels) {
      fail<ValueError>(fn, ": normalize.mean and normalize.std must have one value per channel (", s.channels, "), got ",
                       s.mean.size(), " and ", s.std.size());
    }
    for (int64_t c = 0; c < s.channels; ++c) {
      if (!std::isfinite(s.mean[c])) fail<ValueError>(fn, ": normalize.mean[", c, "] must be finite, got ", s.mean[c]);
      if (!(s.std[c] > 0) || !std::isfinite(s.std[c])) {
        fail<ValueError>(fn, ": normalize.std[", c, "] must be positive and finite, got ", s.std[c]);
      }
    }
  }
}

AugmentDraw augment_draw(const AugmentSpec& s, uint64_t position) {
  AugmentDraw d{0, 0, false};
  const bool crop = out_h(s) != s.height || out_w(s) != s.width || s.padding > 0;
  if (!crop && !s.flip) return d;
  const philox::Block b = philox::generate(s.seed ^ kAugmentStream, (s.epoch << 32) + position);
  if (crop) {
    d.dy = below(b.w[0], s.height + 2 * s.padding - out_h(s) + 1);
    d.dx = below(b.w[1], s.width + 2 * s.padding - out_w(s) + 1);
  }
  d.flip = s.flip && (b.w[2] >> 31) != 0;
  return d;
}

int64_t augment_row_size(const AugmentSpec& s) { return s.channels * out_h(s) * out_w(s); }

void check_augment_batch(const AugmentSpec& s, int64_t num_examples, const int32_t* labels, const int32_t* order,
                         int64_t start, int64_t count, const char* fn) {
  check_augment_spec(s, fn);
  if (start < 0 || count < 0 || start + count > (int64_t{1} << 32)) {
    fail<ValueError>(fn, ": positions [", start, ", ", start + count, ") must lie in [0, 2^32)");
  }
  if (s.epoch >= (uint64_t{1} << 32)) fail<ValueError>(fn, ": epoch must be below 2^32, got ", s.epoch);
  // every index and label before any write: a bad batch leaves the outputs untouched
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = order[i];
    if (j < 0 || j >= num_examples) {
      fail<ValueError>(fn, ": order[", start + i, "] = ", j, " is outside [0, ", num_examples, ")");
    }
    if (labels[j] < 0 || labels[j] >= s.classes) {
      fail<ValueError>(fn, ": label ", labels[j], " of example ", j, " is outside [0, ", s.classes, ")");
    }
  }
}

void augment_example(const AugmentSpec& s, const float* image, int32_t label, uint64_t position, float* x_row,
                     float* y_row, int32_t* label_out) {
  const AugmentDraw d = augment_draw(s, position);
  const int64_t C = s.channels, H = s.height, W = s.width, OH = out_h(s), OW = out_w(s);
  const bool normalize = !s.mean.empty();
  // output pixel (oy, ox) reads padded pixel (oy + dy, ox' + dx) with ox' the flipped column
  for (int64_t c = 0; c < C; ++c) {
    const float m = normalize ? s.mean[c] : 0.0f;
    const float sd = normalize ? s.std[c] : 1.0f;
    const float zero = normalize ? (0.0f - m) / sd : 0.0f;
    for (int64_t oy = 0; oy < OH; ++oy) {
      float* row = x_row + (c * OH + oy) * OW;
      const int64_t iy = oy + d.dy - s.padding;
      if (iy < 0 || iy >= H) {
        std::fill(row, row + OW, zero);
        continue;
      }
      const float* srow = image + (c * H + iy) * W;
      for (int64_t ox = 0; ox < OW; ++ox) {
        const int64_t sx = (d.flip ? OW - 1 - ox : ox) + d.dx - s.padding;
        const float v = sx >= 0 && sx < W ? srow[sx] : 0.0f;
        row[ox] = normalize ? (v - m) / sd : v;
      }
    }
  }
  std::fill(y_row, y_row + s.classes, 0.0f);
  y_row[label] = 1.0f;
  *label_out = label;
}

void augment_batch(const AugmentSpec& s, const float* images, int64_t num_images, const int32_t* labels,
                   const int32_t* order, int64_t start, int64_t count, float* x, float* y, int32_t* labels_out,
                   const char* fn) {
  check_augment_batch(s, num_images, labels, order, start, count, fn);
  const int64_t in_size = s.channels * s.height * s.width, out_size = augment_row_size(s);
  parallel_for(count, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t j = order[i];
      augment_example(s, images + j * in_size, labels[j], static_cast<uint64_t>(start + i), x + i * out_size,
                      y + i * s.classes, labels_out + i);
    }
  });
}

}  // namespace newton
