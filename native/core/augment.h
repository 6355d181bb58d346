// Note [batch augmentation]
// ~~~~~~~~~~~~~~~~~~~~~~~~~
// augment_batch assembles one training mini-batch on the host: for each position p of the
// epoch in [start, start + count), image order[p] of an NCHW float32 array goes through
//   1. a random crop of crop_h × crop_w from the image zero-padded by `padding` on every side
//      (offsets dy, dx uniform in [0, H + 2·padding − crop_h] and [0, W + 2·padding − crop_w]),
//   2. a horizontal flip with probability 1/2,
//   3. per-channel normalisation (x − mean[c]) / std[c] in float32 (padded pixels are 0 before
//      it, as torchvision's RandomCrop + Normalize do),
// and lands in row p − start of the output, with its one-hot target and its label.
//
// The draws are one Philox block per example, keyed by (seed, epoch) and counted by the
// position p in the epoch: key = seed ^ kAugmentStream, block = epoch·2^32 + p; word 0 gives
// dy, word 1 dx, word 2's top bit the flip; an offset in [0, r) is (w·r) >> 32. So an example's
// augmentation depends only on (seed, epoch, p), never on the thread count, the batch size or
// how an epoch is split into batches: a resumed run redraws exactly what it would have drawn.
// Images are independent, so the work is a parallel_for over them (core's thread pool); the
// work of one image is augment_example, which record_batch (note [record batches]) calls too
// for images read from files, so that both give the same bits for the same pixels.
// It is a host utility, not a tensor op: its input is a host data set and its output feeds
// Tensor creation on any device.
#pragma once

#include <cstdint>
#include <vector>

namespace newton {

// XORed into the seed so that the augmentation stream differs from the dropout and init
// streams that take the same user seed.
constexpr uint64_t kAugmentStream = 0x9E3779B97F4A7C15ull;

struct AugmentSpec {
  int64_t channels = 0, height = 0, width = 0;  // the source images' shape
  int64_t classes = 0;                          // width of the one-hot targets
  int64_t crop_h = 0, crop_w = 0;               // output image size; 0 = no crop (source size)
  int64_t padding = 0;                          // zero padding before the crop
  bool flip = false;                            // horizontal flip with probability 1/2
  std::vector<float> mean, std;                 // empty: no normalisation; else one per channel
  uint64_t seed = 0, epoch = 0;
};

// The per-example draws of note [batch augmentation] (exposed for the tests' reference).
struct AugmentDraw {
  int64_t dy, dx;
  bool flip;
};
AugmentDraw augment_draw(const AugmentSpec& spec, uint64_t position);

// Checks `spec` (sizes, padding, mean/std lengths, std > 0 and finite); errors name `fn` and
// the option. Call before touching any buffer.
void check_augment_spec(const AugmentSpec& spec, const char* fn);

// The values in one output row of x: C · crop_h · crop_w (the source size where no crop).
int64_t augment_row_size(const AugmentSpec& spec);

// What every batch of note [batch augmentation] checks before touching a buffer, whatever
// holds its images (augment_batch: an array; record_batch: files): the spec, the positions
// [start, start + count) and the epoch, then every index order[i] in [0, num_examples) and
// its label in [0, classes) — ValueErrors naming fn, the position and the value.
void check_augment_batch(const AugmentSpec& spec, int64_t num_examples, const int32_t* labels, const int32_t* order,
                         int64_t start, int64_t count, const char* fn);

// The work of one example, shared by every source of images: `image` (C, H, W) at position
// `position` of the epoch is cropped, flipped and normalised into x_row (C, crop_h, crop_w);
// y_row (classes) gets the one-hot target of `label` and *label_out the label. Checks nothing
// (the caller has run check_augment_batch); touches no other memory.
void augment_example(const AugmentSpec& spec, const float* image, int32_t label, uint64_t position, float* x_row,
                     float* y_row, int32_t* label_out);

// Writes count examples: x (count, C, crop_h, crop_w), y (count, classes) one-hot, labels_out
// (count). `order` holds the data set indices of positions [start, start + count), i.e.
// order[i] is the example at position start + i. Every index and label is checked first
// (ValueError naming fn, the position and the value), so nothing is written for a bad batch.
void augment_batch(const AugmentSpec& spec, const float* images, int64_t num_images, const int32_t* labels,
                   const int32_t* order, int64_t start, int64_t count, float* x, float* y, int32_t* labels_out,
                   const char* fn);

}  // namespace newton
