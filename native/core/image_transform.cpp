// Crop windows and antialiased resizing of decoded images: note [image transforms] in
// image_transform.h.
#include "image_transform.h"

#include <algorithm>
#include <cmath>

#include "error.h"
#include "random.h"

namespace newton {

namespace {

// An integer in [0, range) from a uniform 32-bit word, as augment.cpp's below().
int64_t below(uint32_t w, int64_t range) {
  return static_cast<int64_t>((static_cast<uint64_t>(w) * static_cast<uint64_t>(range)) >> 32);
}

// A uniform in [0, 1) from one word: w · 2^-32, exact in a double.
double unit32(uint32_t w) { return static_cast<double>(w) * (1.0 / 4294967296.0); }

// Python's round() for x >= 0: half to even. x − floor(x) is exact in double.
double round_half_even(double x) {
  const double f = std::floor(x);
  const double d = x - f;
  if (d > 0.5 || (d == 0.5 && std::fmod(f, 2.0) != 0.0)) return f + 1.0;
  return f;
}

// round((d) / 2) half to even, for an integer d >= 0.
int64_t half_round_even(int64_t d) {
  const int64_t k = d / 2;
  return (d % 2 == 0 || k % 2 == 0) ? k : k + 1;
}

// The random-resized crop's source window (note: 10 attempts, then the clamped-ratio fallback).
void random_resized_window(const ImageTransformSpec& s, int64_t W, int64_t H, uint64_t key, uint64_t counter,
                           ImageWindow& win) {
  const double area = static_cast<double>(W) * static_cast<double>(H);
  const double log_r0 = std::log(s.ratio_lo), log_r1 = std::log(s.ratio_hi);
  for (int a = 0; a < kCropAttempts; ++a) {
    const philox::Block b = philox::generate(key, counter, static_cast<uint64_t>(a));
    const double target = area * (s.scale_lo + (s.scale_hi - s.scale_lo) * unit32(b.w[0]));
    const double aspect = std::exp(log_r0 + (log_r1 - log_r0) * unit32(b.w[1]));
    // Compared as doubles before any conversion: an extreme ratio must not overflow an int.
    const double w = round_half_even(std::sqrt(target * aspect));
    const double h = round_half_even(std::sqrt(target / aspect));
    if (w > 0 && w <= static_cast<double>(W) && h > 0 && h <= static_cast<double>(H)) {
      win.width = static_cast<int64_t>(w);
      win.height = static_cast<int64_t>(h);
      win.top = below(b.w[2], H - win.height + 1);
      win.left = below(b.w[3], W - win.width + 1);
      return;
    }
  }
  const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
  int64_t w = W, h = H;
  if (in_ratio < s.ratio_lo) {
    h = static_cast<int64_t>(round_half_even(static_cast<double>(W) / s.ratio_lo));  // < H here
  } else if (in_ratio > s.ratio_hi) {
    w = static_cast<int64_t>(round_half_even(static_cast<double>(H) * s.ratio_hi));  // < W here
  }
  win.width = std::clamp<int64_t>(w, 1, W);
  win.height = std::clamp<int64_t>(h, 1, H);
  win.top = (H - win.height) / 2;
  win.left = (W - win.width) / 2;
}

// The filter taps of n outputs along one axis: source range [begin, begin + len) resized to
// `resized` pixels, outputs offset .. offset + n − 1 of that resize. Weights are normalised in
// double and rounded to float once; zero weights at either end are dropped (they add +0).
void axis_taps(int64_t begin, int64_t len, int64_t resized, int64_t offset, int64_t n, std::vector<int64_t>& first,
               std::vector<int64_t>& count, std::vector<float>& weights) {
  const double scale = static_cast<double>(len) / static_cast<double>(resized);
  const double support = std::max(1.0, scale);  // the triangle's half-width, in source pixels
  const int64_t end = begin + len;
  first.resize(n);
  count.resize(n);
  weights.clear();
  std::vector<double> k;
  for (int64_t j = 0; j < n; ++j) {
    const double c = static_cast<double>(begin) + (static_cast<double>(offset + j) + 0.5) * scale;
    int64_t lo = std::max<int64_t>(begin, static_cast<int64_t>(std::floor(c - support - 0.5)));
    int64_t hi = std::min<int64_t>(end, static_cast<int64_t>(std::ceil(c + support + 0.5)));
    k.assign(static_cast<std::size_t>(hi - lo), 0.0);
    double total = 0;
    for (int64_t x = lo; x < hi; ++x) {
      const double t = std::fabs(static_cast<double>(x) + 0.5 - c) / support;
      k[x - lo] = t < 1.0 ? 1.0 - t : 0.0;
      total += k[x - lo];
    }
    // total > 0: the source pixel under c is within half a pixel of it.
    int64_t a = 0, b = hi - lo;
    while (a < b && k[a] == 0.0) ++a;
    while (b > a && k[b - 1] == 0.0) --b;
    first[j] = lo + a;
    count[j] = b - a;
    for (int64_t i = a; i < b; ++i) weights.push_back(static_cast<float>(k[i] / total));
  }
}

}  // namespace

void check_image_transform_spec(const ImageTransformSpec& s, const char* fn) {
  if (s.channels != 1 && s.channels != 3) fail<ValueError>(fn, ": channels must be 1 or 3, got ", s.channels);
  if (s.out_h < 1 || s.out_w < 1 || s.out_h > kMaxImageSide || s.out_w > kMaxImageSide) {
    fail<ValueError>(fn, ": size must be [h, w] with 1 <= h, w <= 32768, got [", s.out_h, ", ", s.out_w, "]");
  }
  if (s.kind == ImageTransformKind::RandomResizedCrop) {
    if (!(std::isfinite(s.scale_lo) && std::isfinite(s.scale_hi) && s.scale_lo > 0 && s.scale_lo <= s.scale_hi &&
          s.scale_hi <= 1)) {
      fail<ValueError>(fn, ": scale must be [lo, hi] with 0 < lo <= hi <= 1, got [", s.scale_lo, ", ", s.scale_hi, "]");
    }
    if (!(std::isfinite(s.ratio_lo) && std::isfinite(s.ratio_hi) && s.ratio_lo > 0 && s.ratio_lo <= s.ratio_hi)) {
      fail<ValueError>(fn, ": ratio must be [lo, hi] with 0 < lo <= hi, both finite, got [", s.ratio_lo, ", ", s.ratio_hi, "]");
    }
  }
  if (s.kind == ImageTransformKind::CenterCrop) {
    const int64_t longest = std::max(s.out_h, s.out_w);
    if (s.resize_to < longest || s.resize_to > kMaxImageSide) {
      fail<ValueError>(fn, ": resizeTo must be an integer from max(size) = ", longest, " to 32768 for 'center-crop', got ",
                       s.resize_to);
    }
  }
  const bool has_mean = !s.mean.empty(), has_std = !s.std.empty();
  if (has_mean != has_std) fail<ValueError>(fn, ": mean and std must be given together, got only ", has_mean ? "mean" : "std");
  if (has_mean) {
    if (static_cast<int64_t>(s.mean.size()) != s.channels || static_cast<int64_t>(s.std.size()) != s.channels) {
      fail<ValueError>(fn, ": mean and std must have one value per channel (", s.channels, "), got ", s.mean.size(), " and ",
                       s.std.size());
    }
    for (int64_t c = 0; c < s.channels; ++c) {
      if (!std::isfinite(s.mean[c])) fail<ValueError>(fn, ": mean[", c, "] must be finite, got ", s.mean[c]);
      if (!(s.std[c] > 0) || !std::isfinite(s.std[c])) {
        fail<ValueError>(fn, ": std[", c, "] must be positive and finite, got ", s.std[c]);
      }
    }
  }
  if (s.epoch >= (uint64_t{1} << 32)) fail<ValueError>(fn, ": epoch must be below 2^32, got ", s.epoch);
}

ImageWindow image_window(const ImageTransformSpec& s, int64_t W, int64_t H, uint64_t position) {
  ImageWindow win;
  const uint64_t key = s.seed ^ kImageStream;
  const uint64_t counter = (s.epoch << 32) + position;
  switch (s.kind) {
    case ImageTransformKind::RandomResizedCrop:
      random_resized_window(s, W, H, key, counter, win);
      win.resized_h = s.out_h;
      win.resized_w = s.out_w;
      break;
    case ImageTransformKind::CenterCrop: {
      win.height = H;
      win.width = W;
      // Integer floor of resizeTo·long/short: torchvision's int(size * long / short).
      if (W <= H) {
        win.resized_w = s.resize_to;
        win.resized_h = s.resize_to * H / W;
      } else {
        win.resized_h = s.resize_to;
        win.resized_w = s.resize_to * W / H;
      }
      win.crop_top = half_round_even(win.resized_h - s.out_h);
      win.crop_left = half_round_even(win.resized_w - s.out_w);
      break;
    }
    case ImageTransformKind::Stretch:
      win.height = H;
      win.width = W;
      win.resized_h = s.out_h;
      win.resized_w = s.out_w;
      break;
  }
  win.flip = s.flip && (philox::generate(key, counter, kFlipLane).w[0] >> 31) != 0;
  return win;
}

void transform_image(const ImageTransformSpec& s, const DecodedImage& src, const ImageWindow& win, float* out,
                     ImageTransformWorkspace& ws) {
  // src: (H, W, C) bytes; out: (C, OH, OW)
  const int64_t C = s.channels, W = src.width, OH = s.out_h, OW = s.out_w;
  if (src.channels != C) fail<Error>("transform_image: the image has ", src.channels, " channels, the output ", C);
  axis_taps(win.left, win.width, win.resized_w, win.crop_left, OW, ws.first_x, ws.count_x, ws.weights_x);
  axis_taps(win.top, win.height, win.resized_h, win.crop_top, OH, ws.first_y, ws.count_y, ws.weights_y);
  // Horizontal pass over the source rows some output row reads: rows (y0 .. y1) × OW × C.
  int64_t y0 = ws.first_y[0], y1 = ws.first_y[0];
  for (int64_t i = 0; i < OH; ++i) {
    y0 = std::min(y0, ws.first_y[i]);
    y1 = std::max(y1, ws.first_y[i] + ws.count_y[i]);
  }
  ws.rows.resize(static_cast<std::size_t>((y1 - y0) * OW * C));
  for (int64_t y = y0; y < y1; ++y) {
    const uint8_t* srow = src.pixels.data() + y * W * C;
    float* trow = ws.rows.data() + (y - y0) * OW * C;
    const float* w = ws.weights_x.data();
    for (int64_t j = 0; j < OW; ++j) {
      const uint8_t* p = srow + ws.first_x[j] * C;
      const int64_t n = ws.count_x[j];
      for (int64_t c = 0; c < C; ++c) {
        float acc = 0.0f;
        for (int64_t k = 0; k < n; ++k) acc += w[k] * static_cast<float>(p[k * C + c]);
        trow[j * C + c] = acc;
      }
      w += n;
    }
  }
  // Vertical pass, one output row at a time (acc: OW × C), then flip, CHW and normalise.
  const bool normalize = !s.mean.empty();
  ws.acc.resize(static_cast<std::size_t>(OW * C));
  const float* w = ws.weights_y.data();
  for (int64_t i = 0; i < OH; ++i) {
    std::fill(ws.acc.begin(), ws.acc.end(), 0.0f);
    for (int64_t k = 0; k < ws.count_y[i]; ++k) {
      const float wk = w[k];
      const float* trow = ws.rows.data() + (ws.first_y[i] + k - y0) * OW * C;
      float* a = ws.acc.data();
      for (int64_t e = 0; e < OW * C; ++e) a[e] += wk * trow[e];
    }
    w += ws.count_y[i];
    for (int64_t c = 0; c < C; ++c) {
      float* orow = out + (c * OH + i) * OW;
      const float m = normalize ? s.mean[c] : 0.0f, sd = normalize ? s.std[c] : 1.0f;
      for (int64_t j = 0; j < OW; ++j) {
        const float v = ws.acc[(win.flip ? OW - 1 - j : j) * C + c];
        orow[j] = normalize ? (v - m) / sd : v;
      }
    }
  }
}

}  // namespace newton
