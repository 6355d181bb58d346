// Note [image transforms]
// ~~~~~~~~~~~~~~~~~~~~~~~
// How one decoded image (H × W × C bytes, note [image decoding]) becomes the C × h × w float
// input of a network, for the image-folder data loader (image_batch.h). Three ways to pick
// the part of the image and its size, then an optional flip and normalisation:
//
//   'random-resized-crop'  torchvision's RandomResizedCrop.get_params. For attempt a = 0..9:
//       target = W·H · (s0 + (s1 − s0)·u0),  aspect = exp(log r0 + (log r1 − log r0)·u1),
//       w = round(sqrt(target·aspect)),  h = round(sqrt(target / aspect))   (in double),
//       accepted when 0 < w <= W and 0 < h <= H; then top = below(u2, H − h + 1),
//       left = below(u3, W − w + 1). When no attempt is accepted: the image's ratio W/H
//       clamped to [r0, r1] — below r0: w = W, h = round(W / r0); above r1: h = H,
//       w = round(H·r1); else the whole image — both at least 1, centred with
//       top = floor((H − h)/2), left = floor((W − w)/2). The window is resized to h×w output.
//   'center-crop'  torchvision's Resize(resizeTo) + CenterCrop(size): the shorter side
//       becomes resizeTo and the longer floor(resizeTo·long/short) (integer arithmetic;
//       torchvision truncates with int()); then the central size window of that resized
//       image, at top = round((RH − h)/2), left = round((RW − w)/2). Only the output window
//       of the resized image is computed: output pixel j along an axis is pixel left + j of
//       the full resize, so the values are exactly those of resizing everything and cutting.
//   'stretch'  the whole image resized to size (an identity copy when it already has it).
//
// round() is round-half-to-even, as Python's round() in torchvision. An integer in
// [0, range) from a word w is below(w, range) = (w·range) >> 32 (as note [batch
// augmentation]), and a uniform in [0, 1) is u = w · 2^-32, exact in a double.
//
// The draws: one Philox4x32 block per (position, lane): key = seed ^ kImageStream, counter
// (epoch·2^32 + position, lane) (philox::generate with the lane as the counter's upper half).
// Attempt a of the random-resized crop reads lane a (words 0..3 = u0, u1, u2, u3 above); the
// flip reads lane 10, word 0's top bit. So an example's window depends only on (seed, epoch,
// position, its image's size), whatever the batch size or thread count.
//
// Resizing (every transform): separable, horizontal pass first, then vertical, both in
// float32 with weights computed in double and rounded to float once. Along an axis where a
// source range [b, b + n) is resized to R pixels (scale = n / R source pixels per output
// pixel), output pixel j is centred at c = b + (j + 0.5)·scale in edge coordinates (source
// pixel x spans [x, x + 1): the centre-aligned (j + 0.5)·scale − 0.5 of pixel indices) and is
//     Σ_x v[x]·K((x + 0.5 − c) / f) / Σ_x K((x + 0.5 − c) / f),   f = max(1, scale),
// over the source pixels x of [b, b + n) (the crop's edge clamps the filter, as cropping
// before resizing does), K(t) = max(0, 1 − |t|) the triangle: bilinear when enlarging, the
// triangle widened by the factor (PIL's and torchvision's antialias=True) when shrinking.
// Sums run over x ascending from 0.0f; the horizontal pass keeps float32 (no rounding to
// bytes in between, unlike PIL). Output values are 0..255 floats in CHW order; the flip
// reverses each output row after resizing; normalisation is (v − mean[c]) / std[c] in float32.
#pragma once

#include <cstdint>
#include <vector>

#include "image_codec.h"

namespace newton {

// XORed into the seed so that the image stream differs from the augmentation, dropout and
// init streams that take the same user seed.
constexpr uint64_t kImageStream = 0xD1B54A32D192ED03ull;
// The random-resized crop's attempts and the Philox lane of the flip (note above).
constexpr int kCropAttempts = 10;
constexpr uint64_t kFlipLane = 10;

enum class ImageTransformKind { RandomResizedCrop, CenterCrop, Stretch };

struct ImageTransformSpec {
  int64_t channels = 3;                 // output channels: 1 or 3 (the decoder's too)
  int64_t out_h = 0, out_w = 0;         // output size
  ImageTransformKind kind = ImageTransformKind::Stretch;
  double scale_lo = 0.08, scale_hi = 1.0;           // random-resized-crop
  double ratio_lo = 3.0 / 4.0, ratio_hi = 4.0 / 3.0;  // random-resized-crop (w/h)
  int64_t resize_to = 0;                // center-crop
  bool flip = false;                    // horizontal flip with probability 1/2
  std::vector<float> mean, std;         // empty: no normalisation; else one per channel
  uint64_t seed = 0, epoch = 0;
};

// Checks every field (sizes in [1, 2^15], channels, scale, ratio, resizeTo >= max(size) for
// center-crop, mean/std lengths and values, epoch < 2^32); ValueErrors name fn and the option.
void check_image_transform_spec(const ImageTransformSpec& spec, const char* fn);

// Where the output of one position comes from: the source rectangle (top, left, height,
// width) is resized to resized_h × resized_w, and the output is the window (crop_top,
// crop_left, out_h, out_w) of that resize — crop_* = 0 and resized = output size except for
// center-crop, whose source rectangle is the whole image.
struct ImageWindow {
  int64_t top = 0, left = 0, height = 0, width = 0;
  int64_t resized_h = 0, resized_w = 0;
  int64_t crop_top = 0, crop_left = 0;
  bool flip = false;
};
ImageWindow image_window(const ImageTransformSpec& spec, int64_t src_w, int64_t src_h, uint64_t position);

// Buffers one thread reuses from image to image.
struct ImageTransformWorkspace {
  std::vector<int64_t> first_x, count_x, first_y, count_y;
  std::vector<float> weights_x, weights_y, rows, acc;
};

// src: (H, W, spec.channels) bytes; out: (spec.channels, out_h, out_w) float32.
void transform_image(const ImageTransformSpec& spec, const DecodedImage& src, const ImageWindow& window, float* out,
                     ImageTransformWorkspace& ws);

}  // namespace newton
