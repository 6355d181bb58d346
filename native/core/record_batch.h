// Note [record batches]
// ~~~~~~~~~~~~~~~~~~~~~
// record_batch is augment_batch (note [batch augmentation]) for a data set that stays on disk:
// CIFAR's .bin files, IDX image files, SVHN's .mat arrays — every image a fixed-size record of
// bytes at a computable offset, so that no index is needed and a data set larger than memory
// is read one batch at a time, straight from the page cache.
//
// Where a record lies. The source is files[0..K) in order; file k holds counts[k] records of
// record_bytes bytes each from byte offsets[k] on (offsets skip headers: IDX's 16 bytes, a
// .mat variable's position). Record j of the data set is in the file k with
// first_k ≤ j < first_k + counts[k], first_k = counts[0] + … + counts[k − 1] (a binary search
// in the cumulative counts), and its image is the C·H·W bytes from
//   offsets[k] + (j − first_k)·record_bytes + image_offset
// (image_offset skips what precedes the pixels inside a record: CIFAR-10's label byte,
// CIFAR-100's two). The labels are not read here: the caller holds them all in memory (they are
// a byte per record) and passes them as for augment_batch.
//
// The bytes become floats 0..255 — exactly the values of the in-memory Float32Array that the
// readers build from the same bytes — in the order of `layout`:
//   - Chw: channel planes of rows, the order of the output (CIFAR, IDX): copied in order;
//   - HwcColumns: MATLAB's column-major H×W×C array (SVHN's .mat), byte (y, x, c) at
//     c·H·W + x·H + y: transposed to CHW.
// With paper_mean (the Newton paper's preprocessing, lib/data/preprocess.ts paperPreprocess),
// the float image is first min-max scaled over its C·H·W values, (v − min)/(max − min) in double
// rounded to float (a constant image becomes zeros), then paper_mean[k] is subtracted (the
// difference of two floats in double, rounded to float): the arithmetic of the TypeScript, so
// the values equal those of paperPreprocess on the data in memory.
// The float image then goes through augment_example, the one function augment_batch calls per
// example too, so a batch is bit-identical to augment_batch on the same images held in memory.
//
// Reading. Files are opened once per call (O_RDONLY | O_CLOEXEC: a child process forked while
// a batch is being read inherits none of them) and closed when it returns or throws. Each
// image is read with pread(), which takes its own offset and moves no shared file position, so
// the threads of one call read the same descriptor concurrently without a lock. The work is a
// parallel_for over the batch in which the thread that transforms an image is the one that
// reads it (into its own byte and float buffers), so reading is spread over the pool like the
// arithmetic and a record is touched while it is in that core's cache. Each row is a function
// of its position alone: the bytes are the same for any thread count.
//
// Failing. Everything that can be checked before writing is, so a bad call leaves x, y and
// labels_out untouched: the source (lengths, counts, sizes), the positions, every index and
// label (check_augment_batch), then each file — it must open and be a regular file at least
// offsets[k] + counts[k]·record_bytes bytes long (fstat), else the error names the file, its
// size and the size needed. What can still go wrong is the disk itself or a file shrinking
// under us: an I/O error or a short read mid-batch is an Error naming the file and the record,
// raised after the other threads have finished their rows (rows may then be partly written).
// Nothing aborts the process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "augment.h"

namespace newton {

enum class RecordLayout { Chw, HwcColumns };

// Where the images of a data set lie on disk (NativeRecordSource in lib/native.ts).
struct RecordSource {
  std::vector<std::string> files;
  std::vector<int64_t> offsets;  // byte offset of the first record in each file
  std::vector<int64_t> counts;   // records in each file
  int64_t record_bytes = 0;      // bytes from one record to the next
  int64_t image_offset = 0;      // bytes before the image inside a record
  RecordLayout layout = RecordLayout::Chw;
  std::vector<float> paper_mean; // empty, or C·H·W: the paper's preprocessing (note above)
};

// Checks the source against spec's image shape and the number of labels, without touching the
// files: offsets, counts and files of one length ≥ 1, offsets and counts ≥ 0, record_bytes ≥
// image_offset + C·H·W, every file's extent below 2^53 bytes, the counts adding up to
// num_labels, paper_mean empty or C·H·W finite values. ValueErrors naming fn and the field.
void check_record_source(const RecordSource& source, const AugmentSpec& spec, int64_t num_labels, const char* fn);

// Writes the batch of positions [start, start + count) as augment_batch does, image order[i]
// read from the files of `source` (note [record batches]). Checks the source, the batch
// (check_augment_batch) and every file's size before writing anything.
void record_batch(const AugmentSpec& spec, const RecordSource& source, const int32_t* labels, int64_t num_labels,
                  const int32_t* order, int64_t start, int64_t count, float* x, float* y, int32_t* labels_out,
                  const char* fn);

}  // namespace newton
