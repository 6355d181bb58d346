// Batches read from fixed-size records on disk: note [record batches] in record_batch.h.
#include "record_batch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <system_error>

#include "error.h"
#include "parallel.h"

namespace newton {

namespace {

// Byte offsets stay below 2^53: exact as JS numbers (the offsets come from JS) and far from
// overflowing int64 or off_t in any sum below.
constexpr int64_t kMaxBytes = int64_t{1} << 53;

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// The descriptors of one call, closed on every way out.
class OpenFiles {
 public:
  OpenFiles() = default;
  OpenFiles(const OpenFiles&) = delete;
  OpenFiles& operator=(const OpenFiles&) = delete;
  ~OpenFiles() {
    for (int fd : fds_) ::close(fd);  // read-only: nothing to lose if close reports an error
  }
  // Opens path read-only, close-on-exec; -1 (errno set) on failure.
  int open(const std::string& path) {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }
  int operator[](std::size_t k) const { return fds_[k]; }

 private:
  std::vector<int> fds_;
};

// Reads exactly n bytes at `offset` of descriptor fd into buf, retrying partial reads and
// EINTR; a read that ends early or fails is an Error naming the file and the record.
void read_record(int fd, uint8_t* buf, std::size_t n, int64_t offset, const RecordSource& src, std::size_t k,
                 int64_t record, int64_t in_file, const char* fn) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (r > 0) {
      done += static_cast<std::size_t>(r);
    } else if (r == 0) {
      fail<Error>(fn, ": ", src.files[k], ": short read of record ", record, " (record ", in_file, " of the file): its ", n,
                  " image bytes from byte ", offset, " end at byte ", offset + static_cast<int64_t>(n),
                  " but the file ends at byte ", offset + static_cast<int64_t>(done), " (was it truncated while being read?)");
    } else if (errno != EINTR) {
      const int e = errno;
      fail<Error>(fn, ": ", src.files[k], ": cannot read record ", record, " (record ", in_file, " of the file, byte ", offset,
                  "): ", errno_text(e));
    }
  }
}

// The paper's preprocessing of one image in place: note [record batches].
void paper_preprocess(float* v, const float* mean, int64_t n) {
  float lo = v[0], hi = v[0];
  for (int64_t k = 1; k < n; ++k) {
    lo = std::min(lo, v[k]);
    hi = std::max(hi, v[k]);
  }
  const double range = static_cast<double>(hi) - static_cast<double>(lo);
  for (int64_t k = 0; k < n; ++k) {
    const float scaled = range > 0 ? static_cast<float>((static_cast<double>(v[k]) - lo) / range) : 0.0f;
    v[k] = static_cast<float>(static_cast<double>(scaled) - static_cast<double>(mean[k]));
  }
}

// Bytes of one image in the source's layout -> floats 0..255 in CHW order.
void to_chw(const uint8_t* bytes, RecordLayout layout, int64_t C, int64_t H, int64_t W, float* out) {
  const int64_t plane = H * W;
  if (layout == RecordLayout::Chw) {
    for (int64_t i = 0; i < C * plane; ++i) out[i] = static_cast<float>(bytes[i]);
    return;
  }
  // column-major H×W×C: byte (y, x, c) at c·H·W + x·H + y; read each column in order
  for (int64_t c = 0; c < C; ++c) {
    const uint8_t* src = bytes + c * plane;
    float* dst = out + c * plane;
    for (int64_t x = 0; x < W; ++x) {
      for (int64_t y = 0; y < H; ++y) dst[y * W + x] = static_cast<float>(src[x * H + y]);
    }
  }
}

}  // namespace

void check_record_source(const RecordSource& s, const AugmentSpec& spec, int64_t num_labels, const char* fn) {
  const std::size_t n = s.files.size();
  if (n < 1 || s.offsets.size() != n || s.counts.size() != n) {
    fail<ValueError>(fn, ": source.files, source.offsets and source.counts must have one entry per file (at least one), got ",
                     n, ", ", s.offsets.size(), " and ", s.counts.size());
  }
  const int64_t image_bytes = spec.channels * spec.height * spec.width;
  if (!s.paper_mean.empty()) {
    if (static_cast<int64_t>(s.paper_mean.size()) != image_bytes) {
      fail<ValueError>(fn, ": source.paperMean must hold C·H·W = ", image_bytes, " values (the training images' pixel mean), got ", s.paper_mean.size());
    }
    for (std::size_t k = 0; k < s.paper_mean.size(); ++k) {
      if (!std::isfinite(s.paper_mean[k])) fail<ValueError>(fn, ": source.paperMean[", k, "] must be finite, got ", s.paper_mean[k]);
    }
  }
  if (s.image_offset < 0 || s.image_offset > kMaxBytes) {
    fail<ValueError>(fn, ": source.imageOffset must be a non-negative integer below 2^53, got ", s.image_offset);
  }
  if (s.record_bytes > kMaxBytes || s.record_bytes < s.image_offset + image_bytes) {
    fail<ValueError>(fn, ": source.recordBytes must be at least source.imageOffset + C·H·W = ", s.image_offset, " + ",
                     image_bytes, " = ", s.image_offset + image_bytes, " (and below 2^53), got ", s.record_bytes);
  }
  int64_t total = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (s.offsets[k] < 0 || s.offsets[k] > kMaxBytes) {
      fail<ValueError>(fn, ": source.offsets[", k, "] must be a non-negative integer below 2^53, got ", s.offsets[k]);
    }
    if (s.counts[k] < 0) fail<ValueError>(fn, ": source.counts[", k, "] must be a non-negative integer, got ", s.counts[k]);
    // offsets[k] + counts[k]·record_bytes ≤ 2^53, without overflow (record_bytes ≥ 1 here)
    if (s.counts[k] > (kMaxBytes - s.offsets[k]) / s.record_bytes) {
      fail<ValueError>(fn, ": source.counts[", k, "] = ", s.counts[k], " records of ", s.record_bytes, " bytes from byte ",
                       s.offsets[k], " would end past 2^53 bytes");
    }
    // each term ≤ 2^53 and the sum stops growing once past 2^53: no overflow
    if (total <= kMaxBytes) total += s.counts[k];
  }
  if (total != num_labels) {
    fail<ValueError>(fn, ": source.counts add up to ", total > kMaxBytes ? std::string("more than 2^53") : std::to_string(total),
                     " records but labels has ", num_labels, " values");
  }
}

void record_batch(const AugmentSpec& spec, const RecordSource& src, const int32_t* labels, int64_t num_labels,
                  const int32_t* order, int64_t start, int64_t count, float* x, float* y, int32_t* labels_out,
                  const char* fn) {
  check_augment_spec(spec, fn);
  check_record_source(src, spec, num_labels, fn);
  check_augment_batch(spec, num_labels, labels, order, start, count, fn);

  // Every file opens and is long enough before anything is written.
  const std::size_t n = src.files.size();
  OpenFiles fds;
  for (std::size_t k = 0; k < n; ++k) {
    const std::string& path = src.files[k];
    if (fds.open(path) < 0) {
      const int e = errno;
      fail<Error>(fn, ": ", path, ": cannot open (", errno_text(e), ")");
    }
    struct stat st {};
    if (::fstat(fds[k], &st) != 0) {
      const int e = errno;
      fail<Error>(fn, ": ", path, ": cannot stat (", errno_text(e), ")");
    }
    if (S_ISDIR(st.st_mode)) fail<Error>(fn, ": ", path, ": is a directory, not a file of records");
    if (!S_ISREG(st.st_mode)) fail<Error>(fn, ": ", path, ": is not a regular file");
    const int64_t need = src.offsets[k] + src.counts[k] * src.record_bytes;
    const int64_t size = static_cast<int64_t>(st.st_size);
    if (size < need) {
      fail<ValueError>(fn, ": ", path, ": the file has ", size, " bytes but needs ", need, " (source.offsets[", k,
                       "] + source.counts[", k, "]·source.recordBytes = ", src.offsets[k], " + ", src.counts[k], "·",
                       src.record_bytes, ")");
    }
  }

  // first[k]: the data set index of file k's first record
  std::vector<int64_t> first(n + 1, 0);
  for (std::size_t k = 0; k < n; ++k) first[k + 1] = first[k] + src.counts[k];

  const int64_t C = spec.channels, H = spec.height, W = spec.width;
  const std::size_t image_bytes = static_cast<std::size_t>(C * H * W);
  const int64_t out_size = augment_row_size(spec);
  parallel_for(count, 8, [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> bytes(image_bytes);
    std::vector<float> image(image_bytes);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t j = order[i];
      // the file whose records [first[k], first[k + 1]) hold j (empty files are skipped)
      const std::size_t k = static_cast<std::size_t>(std::upper_bound(first.begin(), first.end(), j) - first.begin()) - 1;
      const int64_t in_file = j - first[k];
      const int64_t offset = src.offsets[k] + in_file * src.record_bytes + src.image_offset;
      read_record(fds[k], bytes.data(), image_bytes, offset, src, k, j, in_file, fn);
      to_chw(bytes.data(), src.layout, C, H, W, image.data());
      if (!src.paper_mean.empty()) paper_preprocess(image.data(), src.paper_mean.data(), static_cast<int64_t>(image_bytes));
      augment_example(spec, image.data(), labels[j], static_cast<uint64_t>(start + i), x + i * out_size,
                      y + i * spec.classes, labels_out + i);
    }
  });
}

}  // namespace newton
