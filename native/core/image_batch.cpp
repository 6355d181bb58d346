// Batches of images read from files: note [image batches] in image_batch.h.
#include "image_batch.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <system_error>

#include "error.h"
#include "image_codec.h"
#include "parallel.h"

namespace newton {

namespace {

// No image file of a data set comes near this; a larger one is a mistake in the folder.
constexpr int64_t kMaxFileBytes = int64_t{1} << 30;

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

class File {
 public:
  explicit File(const std::string& path) : f_(std::fopen(path.c_str(), "rb")) {}
  ~File() {
    if (f_) std::fclose(f_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  std::FILE* get() const { return f_; }

 private:
  std::FILE* f_;
};

// What one task of the pool reuses from image to image.
struct Workspace {
  std::vector<uint8_t> bytes;
  DecodedImage image;
  ImageTransformWorkspace transform;
};

}  // namespace

void read_file_bytes(const std::string& path, std::vector<uint8_t>& out) {
  File file(path);
  if (!file.get()) fail<Error>("cannot open (", errno_text(errno), ")");
  struct stat st {};
  if (fstat(fileno(file.get()), &st) != 0) fail<Error>("cannot stat (", errno_text(errno), ")");
  if (S_ISDIR(st.st_mode)) fail<Error>("is a directory, not an image file");
  if (!S_ISREG(st.st_mode)) fail<Error>("is not a regular file");
  if (st.st_size == 0) fail<Error>("is empty (0 bytes)");
  if (st.st_size > kMaxFileBytes) fail<Error>("is ", st.st_size, " bytes: larger than the 1 GiB an image file may have");
  out.resize(static_cast<std::size_t>(st.st_size));
  const std::size_t got = std::fread(out.data(), 1, out.size(), file.get());
  if (got != out.size()) {
    if (std::ferror(file.get())) fail<Error>("read failed (", errno_text(errno), ")");
    fail<Error>("shrank from ", out.size(), " to ", got, " bytes while being read");
  }
}

void check_image_batch(const ImageTransformSpec& spec, int64_t classes, const std::vector<ImageBatchItem>& items,
                       int64_t start, const char* fn) {
  check_image_transform_spec(spec, fn);
  if (classes < 1) fail<ValueError>(fn, ": classes must be a positive integer, got ", classes);
  const int64_t n = static_cast<int64_t>(items.size());
  if (start < 0 || start + n > (int64_t{1} << 32)) {
    fail<ValueError>(fn, ": positions [", start, ", ", start + n, ") must lie in [0, 2^32)");
  }
  // every label before any write: a bad batch leaves the outputs untouched
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = items[i].label;
    if (label < 0 || label >= classes) {
      fail<ValueError>(fn, ": label ", label, " of example ", items[i].index, " is outside [0, ", classes, ")");
    }
  }
}

int64_t image_batch(const ImageTransformSpec& spec, int64_t classes, const std::vector<ImageBatchItem>& items,
                    int64_t start, float* x, float* y, int32_t* labels_out, std::vector<ImageFailure>& failed,
                    const char* fn) {
  check_image_batch(spec, classes, items, start, fn);
  const int64_t n = static_cast<int64_t>(items.size());
  const int64_t row = spec.channels * spec.out_h * spec.out_w;
  std::vector<std::string> errors(static_cast<std::size_t>(n));
  std::vector<char> ok(static_cast<std::size_t>(n), 0);
  parallel_claim(
      n, [] { return Workspace{}; },
      [&](int64_t i, Workspace& ws) {
        const ImageBatchItem& item = items[i];
        try {
          read_file_bytes(item.file, ws.bytes);
          decode_image(ws.bytes.data(), ws.bytes.size(), static_cast<int>(spec.channels), ws.image);
          const ImageWindow win = image_window(spec, ws.image.width, ws.image.height, static_cast<uint64_t>(start + i));
          transform_image(spec, ws.image, win, x + i * row, ws.transform);
          float* t = y + i * classes;
          std::fill(t, t + classes, 0.0f);
          t[item.label] = 1.0f;
          labels_out[i] = item.label;
          ok[i] = 1;
        } catch (const std::bad_alloc&) {
          errors[i] = "out of memory while reading or decoding it";
        } catch (const std::exception& e) {
          errors[i] = e.what();
        } catch (...) {
          errors[i] = "unknown native error";
        }
      });
  // Compaction: the rows that worked move up, in position order.
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!ok[i]) {
      failed.push_back(ImageFailure{start + i, items[i].file, std::move(errors[i])});
      continue;
    }
    if (count != i) {
      std::memmove(x + count * row, x + i * row, static_cast<std::size_t>(row) * sizeof(float));
      std::memmove(y + count * classes, y + i * classes, static_cast<std::size_t>(classes) * sizeof(float));
      labels_out[count] = labels_out[i];
    }
    ++count;
  }
  std::fill(x + count * row, x + n * row, 0.0f);
  std::fill(y + count * classes, y + n * classes, 0.0f);
  std::fill(labels_out + count, labels_out + n, -1);
  return count;
}

}  // namespace newton
