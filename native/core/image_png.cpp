// PNG decoding through libpng: note [image decoding] in image_codec.h. Compiled to a stub
// that names the package to install when the build has no libpng (NEWTON_HAVE_PNG unset);
// opens the library at run time in the prebuilt addon (note [codecs at run time] in
// image_decoders.h).
//
// Note [libpng and longjmp]
// ~~~~~~~~~~~~~~~~~~~~~~~~~
// libpng reports errors by longjmp to the setjmp of the caller (png_jmpbuf); it must never
// abort the process nor unwind C++ frames. So:
//   - the error callback copies libpng's message into PngSource (plain data) and longjmps;
//     the read callback reports a short read with png_error, also a longjmp;
//   - only read_header and read_pixels call setjmp; they hold no C++ object with a
//     destructor, modify no local after setjmp, and return false when libpng failed;
//   - the objects that need destructors (the read struct's owner, the pixel buffer, the row
//     pointers) live in decode_png, which calls them and turns false into an exception.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "image_codec.h"
#include "image_decoders.h"

#ifdef NEWTON_HAVE_PNG
#include <png.h>

#include <csetjmp>
#ifdef NEWTON_PNG_DLOPEN
#include <dlfcn.h>
#endif
#endif

namespace newton {

#ifdef NEWTON_HAVE_PNG

namespace {

// The libpng functions this file calls (note [codecs at run time]).
#define NEWTON_PNG_FUNCTIONS(X)                                                                              \
  X(png_create_read_struct) X(png_create_info_struct) X(png_destroy_read_struct) X(png_set_read_fn)          \
  X(png_get_io_ptr) X(png_get_error_ptr) X(png_error) X(png_longjmp) X(png_set_longjmp_fn) X(png_read_info) \
  X(png_get_color_type) X(png_get_bit_depth) X(png_set_palette_to_rgb) X(png_set_expand_gray_1_2_4_to_8)     \
  X(png_set_strip_16) X(png_set_strip_alpha) X(png_set_gray_to_rgb) X(png_set_interlace_handling)           \
  X(png_read_update_info) X(png_get_image_width) X(png_get_image_height) X(png_get_channels)                 \
  X(png_get_rowbytes) X(png_read_image) X(png_read_end) X(png_get_libpng_ver)

struct LibPng {
#define NEWTON_PNG_MEMBER(name) decltype(&::name) name = nullptr;
  NEWTON_PNG_FUNCTIONS(NEWTON_PNG_MEMBER)
#undef NEWTON_PNG_MEMBER
  std::string missing;  // why the functions are not there, when they are not
};

LibPng load_libpng() {
  LibPng t;
#ifdef NEWTON_PNG_DLOPEN
  const char* kLibrary = "libpng16.so.16";
  void* handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);  // never closed: decoders may run at exit
  if (!handle) {
    const char* why = dlerror();
    t.missing = std::string("this build opens ") + kLibrary + " at run time, and it could not be loaded (" +
                (why ? why : "not found") + "): install libpng16-16 (Debian/Ubuntu) or libpng (Fedora)";
    return t;
  }
#define NEWTON_PNG_FIND(name)                                                                  \
  t.name = reinterpret_cast<decltype(t.name)>(dlsym(handle, #name));                           \
  if (!t.name && t.missing.empty()) t.missing = std::string(kLibrary) + " has no " + #name;
  NEWTON_PNG_FUNCTIONS(NEWTON_PNG_FIND)
#undef NEWTON_PNG_FIND
#else
#define NEWTON_PNG_TAKE(name) t.name = &::name;
  NEWTON_PNG_FUNCTIONS(NEWTON_PNG_TAKE)
#undef NEWTON_PNG_TAKE
#endif
  return t;
}

const LibPng& libpng() {
  static const LibPng t = load_libpng();  // thread-safe initialisation
  return t;
}

// What the callbacks see (note [libpng and longjmp]): no destructor.
struct PngSource {
  const uint8_t* data;
  std::size_t size;
  std::size_t pos;
  char message[256];
};

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(libpng().png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message ? message : "unknown libpng error");
  libpng().png_longjmp(png, 1);
  __builtin_unreachable();  // png_longjmp does not return (the pointer's type cannot say so)
}

// Warnings (an sRGB profile libpng dislikes, a damaged ancillary chunk it skips) leave the
// pixels intact: ignored.
void on_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep out, std::size_t n) {
  auto* src = static_cast<PngSource*>(libpng().png_get_io_ptr(png));
  if (n > src->size - src->pos) libpng().png_error(png, "unexpected end of data (the file is truncated)");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

struct PngHeader {
  png_uint_32 width, height;
  int channels;  // after the transformations: 1 (gray) or 3 (RGB)
  int bit_depth;
  std::size_t rowbytes;
};

// png_jmpbuf(png), through the table.
#define NEWTON_PNG_JMPBUF(api, png) (*(api).png_set_longjmp_fn((png), longjmp, sizeof(jmp_buf)))

// Reads the chunks before the image data and sets the transformations of the note; false
// when libpng failed (message in the PngSource).
bool read_header(const LibPng& api, png_structp png, png_infop info, int channels, PngHeader* h) {
  if (setjmp(NEWTON_PNG_JMPBUF(api, png))) return false;
  api.png_read_info(png, info);
  const int color_type = api.png_get_color_type(png, info);
  const int bit_depth = api.png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) api.png_set_palette_to_rgb(png);  // tRNS becomes alpha, stripped below
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) api.png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) api.png_set_strip_16(png);
  api.png_set_strip_alpha(png);
  if (channels == 3 && (color_type & PNG_COLOR_MASK_COLOR) == 0) api.png_set_gray_to_rgb(png);
  api.png_set_interlace_handling(png);
  api.png_read_update_info(png, info);
  h->width = api.png_get_image_width(png, info);
  h->height = api.png_get_image_height(png, info);
  h->channels = api.png_get_channels(png, info);
  h->bit_depth = api.png_get_bit_depth(png, info);
  h->rowbytes = api.png_get_rowbytes(png, info);
  return true;
}

// Reads every row (all passes of an interlaced image) and the chunks up to IEND.
bool read_pixels(const LibPng& api, png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(NEWTON_PNG_JMPBUF(api, png))) return false;
  api.png_read_image(png, rows);
  api.png_read_end(png, info);
  return true;
}

// Owns libpng's read and info structs.
class PngReader {
 public:
  PngReader(const LibPng& api, PngSource* src) : api_(api) {
    png_ = api.png_create_read_struct(PNG_LIBPNG_VER_STRING, src, on_error, on_warning);
    if (!png_) {
      fail<Error>("cannot start the PNG decoder (libpng ", api.png_get_libpng_ver(nullptr), " does not match its header ",
                  PNG_LIBPNG_VER_STRING, ", or no memory)");
    }
    info_ = api.png_create_info_struct(png_);
    if (!info_) {
      api.png_destroy_read_struct(&png_, nullptr, nullptr);
      fail<Error>("cannot start the PNG decoder (no memory)");
    }
    api.png_set_read_fn(png_, src, on_read);
  }
  ~PngReader() { api_.png_destroy_read_struct(&png_, &info_, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  const LibPng& api_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

}  // namespace

CodecInfo png_codec() {
  const LibPng& api = libpng();
  if (!api.missing.empty()) return CodecInfo{"", api.missing};
  // The library loaded at run time, which may be newer than the header compiled against.
  return CodecInfo{std::string("libpng ") + api.png_get_libpng_ver(nullptr), ""};
}

namespace image_detail {

void decode_png(const uint8_t* data, std::size_t size, int channels, DecodedImage& out) {
  const LibPng& api = libpng();
  if (!api.missing.empty()) fail<Error>("cannot decode a PNG image: ", api.missing);
  PngSource src{data, size, 0, {0}};
  PngReader reader(api, &src);
  PngHeader h{};
  if (!read_header(api, reader.png(), reader.info(), channels, &h)) fail<Error>("corrupt PNG: ", src.message);
  check_image_size("PNG", h.width, h.height);
  if (h.bit_depth != 8 || (h.channels != 1 && h.channels != 3) || h.rowbytes != std::size_t{h.width} * h.channels) {
    fail<Error>("unsupported PNG layout (", h.channels, " channels of ", h.bit_depth, " bits after conversion)");
  }
  const int64_t pixels = static_cast<int64_t>(h.width) * h.height;
  out.pixels.resize(static_cast<std::size_t>(pixels) * h.channels);
  std::vector<png_bytep> rows(h.height);
  for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = out.pixels.data() + std::size_t{y} * h.rowbytes;
  if (!read_pixels(api, reader.png(), reader.info(), rows.data())) fail<Error>("corrupt PNG: ", src.message);
  if (channels == 1 && h.channels == 3) {
    rgb_to_luma(out.pixels.data(), pixels);
    out.pixels.resize(static_cast<std::size_t>(pixels));
  }
  out.width = h.width;
  out.height = h.height;
  out.channels = channels;
}

}  // namespace image_detail

#else  // no libpng

CodecInfo png_codec() {
  return CodecInfo{"",
                   "this build has no PNG decoder (libpng was not found, or NEWTON_USE_PNG=OFF): install libpng-dev "
                   "(Debian/Ubuntu) or libpng-devel (Fedora) and rebuild newton-cnn"};
}

namespace image_detail {

void decode_png(const uint8_t*, std::size_t, int, DecodedImage&) {
  fail<Error>("cannot decode a PNG image: ", png_codec().reason);
}

}  // namespace image_detail

#endif

}  // namespace newton
