// Note [image batches]
// ~~~~~~~~~~~~~~~~~~~~
// image_batch assembles one mini-batch of the image-folder data loader straight from files:
// for each position p = start + i of the epoch, the file of items[i] is read whole, decoded
// (note [image decoding]), transformed with the window of (seed, epoch, p) (note [image
// transforms]) and written to row i, with its one-hot target and its label. Images are
// independent, so the work is spread over the core's thread pool one image at a time
// (parallel_claim: a 4000×3000 photo next to thumbnails does not stall a static split); each
// row is a function of its position alone, so the bytes are the same for any thread count.
//
// A file that cannot be read or decoded does not fail the batch — an ImageNet-sized folder
// always holds a few damaged or odd files, and one of them must not end a day of training.
// It is reported (position, file, message), its row is dropped and the rows after it move up
// (x, y and labels_out alike), so rows [0, count) are the images that worked, in position
// order; the rows from count on are zeros in x and y and −1 in labels_out. What is wrong
// with the call itself (options, labels, sizes) is a ValueError before anything is written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image_transform.h"

namespace newton {

// One position of a batch: the file, its class and its index in the data set (for messages).
struct ImageBatchItem {
  std::string file;
  int32_t label = 0;
  int64_t index = 0;
};

struct ImageFailure {
  int64_t position = 0;
  std::string file;
  std::string message;
};

// Reads the whole file into out. Errors (newton::Error) say what is wrong without the path:
// "cannot open (No such file or directory)", "is a directory, not an image file", "is empty
// (0 bytes)", "read failed (Input/output error)".
void read_file_bytes(const std::string& path, std::vector<uint8_t>& out);

// Checks spec, classes, the positions [start, start + items.size()) and every label
// (ValueErrors naming fn). image_batch calls it first; the N-API layer calls it too, so that
// imageBatchAsync refuses a bad call before it queues any work.
void check_image_batch(const ImageTransformSpec& spec, int64_t classes, const std::vector<ImageBatchItem>& items,
                       int64_t start, const char* fn);

// Checks the call as check_image_batch does, then writes
// x (n, C, out_h, out_w), y (n, classes) and labels_out (n) for n = items.size() and returns
// the number of rows written; the images left out are appended to `failed` in position order.
int64_t image_batch(const ImageTransformSpec& spec, int64_t classes, const std::vector<ImageBatchItem>& items,
                    int64_t start, float* x, float* y, int32_t* labels_out, std::vector<ImageFailure>& failed,
                    const char* fn);

}  // namespace newton
