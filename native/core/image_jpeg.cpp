// JPEG decoding through libjpeg-turbo's TurboJPEG 2.x API: note [image decoding] in
// image_codec.h. Compiled to a stub that names the package to install when the build has no
// TurboJPEG (NEWTON_HAVE_TURBOJPEG unset); opens the library at run time in the prebuilt
// addon (note [codecs at run time] in image_decoders.h).
#include <string>
#include <type_traits>
#include <vector>

#include "error.h"
#include "image_codec.h"
#include "image_decoders.h"

#ifdef NEWTON_HAVE_TURBOJPEG
#include <turbojpeg.h>
#if defined(__has_include)
#if __has_include(<jconfig.h>)
#include <jconfig.h>  // LIBJPEG_TURBO_VERSION_NUMBER, from the same libjpeg-turbo
#endif
#endif
#ifdef NEWTON_TURBOJPEG_DLOPEN
#include <dlfcn.h>
#endif
#endif

namespace newton {

#ifdef NEWTON_HAVE_TURBOJPEG

namespace {

#ifndef NEWTON_TURBOJPEG_DLOPEN
// "2.1.5" from jconfig.h's 2001005, else the version CMake's pkg-config saw, else nothing.
std::string header_version() {
#if defined(LIBJPEG_TURBO_VERSION_NUMBER)
  const long n = LIBJPEG_TURBO_VERSION_NUMBER;
  return std::to_string(n / 1000000) + "." + std::to_string(n / 1000 % 1000) + "." + std::to_string(n % 1000);
#elif defined(NEWTON_TURBOJPEG_VERSION)
  return NEWTON_TURBOJPEG_VERSION;
#else
  return "";
#endif
}
#endif

// The TurboJPEG functions decode_jpeg calls (note [codecs at run time] in image_decoders.h).
struct TurboJpeg {
  decltype(&tjInitDecompress) init = nullptr;
  decltype(&tjDecompressHeader3) header = nullptr;
  decltype(&tjDecompress2) decompress = nullptr;
  decltype(&tjGetErrorStr2) error_text = nullptr;
  decltype(&tjGetErrorCode) error_code = nullptr;
  decltype(&tjDestroy) destroy = nullptr;
  std::string library;  // "libjpeg-turbo 2.1.5 (TurboJPEG)"
  std::string missing;  // why the functions are not there, when they are not
};

#ifdef NEWTON_TURBOJPEG_DLOPEN
TurboJpeg load_turbojpeg() {
  TurboJpeg t;
  const char* kLibrary = "libturbojpeg.so.0";
  void* handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);  // never closed: decoders may run at exit
  if (!handle) {
    const char* why = dlerror();
    t.missing = std::string("this build opens ") + kLibrary + " at run time, and it could not be loaded (" +
                (why ? why : "not found") + "): install libturbojpeg0 (Debian/Ubuntu) or libjpeg-turbo (Fedora)";
    return t;
  }
  auto find = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
    if (!fn && t.missing.empty()) {
      t.missing = std::string(kLibrary) + " has no " + name + " (libjpeg-turbo 2.0 or newer is needed)";
    }
  };
  find(t.init, "tjInitDecompress");
  find(t.header, "tjDecompressHeader3");
  find(t.decompress, "tjDecompress2");
  find(t.error_text, "tjGetErrorStr2");
  find(t.error_code, "tjGetErrorCode");
  find(t.destroy, "tjDestroy");
  // The 2.x API has no version function; 3.x adds tj3Init.
  t.library = std::string("libjpeg-turbo ") + (dlsym(handle, "tj3Init") ? "3.x" : "2.x") + " (TurboJPEG, " + kLibrary + ")";
  return t;
}
#else
TurboJpeg load_turbojpeg() {
  TurboJpeg t;
  t.init = tjInitDecompress;
  t.header = tjDecompressHeader3;
  t.decompress = tjDecompress2;
  t.error_text = tjGetErrorStr2;
  t.error_code = tjGetErrorCode;
  t.destroy = tjDestroy;
  const std::string version = header_version();
  t.library = "libjpeg-turbo " + (version.empty() ? std::string("(version unknown)") : version) + " (TurboJPEG)";
  return t;
}
#endif

const TurboJpeg& turbojpeg() {
  static const TurboJpeg t = load_turbojpeg();  // thread-safe initialisation
  return t;
}

// One decompressor per call: creating one costs microseconds against the milliseconds of a
// decode, and nothing is then shared between the threads of a batch.
class Decompressor {
 public:
  explicit Decompressor(const TurboJpeg& tj) : tj_(tj), handle_(tj.init()) {
    if (!handle_) fail<Error>("cannot start the JPEG decoder: ", tj.error_text(nullptr));
  }
  ~Decompressor() { tj_.destroy(handle_); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  tjhandle get() const { return handle_; }

 private:
  const TurboJpeg& tj_;
  tjhandle handle_;
};

}  // namespace

CodecInfo jpeg_codec() {
  const TurboJpeg& tj = turbojpeg();
  if (!tj.missing.empty()) return CodecInfo{"", tj.missing};
  return CodecInfo{tj.library, ""};
}

namespace image_detail {

void decode_jpeg(const uint8_t* data, std::size_t size, int channels, DecodedImage& out) {
  const TurboJpeg& api = turbojpeg();
  if (!api.missing.empty()) fail<Error>("cannot decode a JPEG image: ", api.missing);
  Decompressor tj(api);
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (api.header(tj.get(), data, static_cast<unsigned long>(size), &width, &height, &subsampling, &colorspace) != 0) {
    fail<Error>("corrupt JPEG header: ", api.error_text(tj.get()));
  }
  // A stream that ends before its frame header reads as a tables-only JPEG: no size.
  if (width == 0 || height == 0) fail<Error>("truncated or corrupt JPEG data: no frame header before the data ends");
  check_image_size("JPEG", width, height);
  const int64_t pixels = static_cast<int64_t>(width) * height;
  // A warning about the entropy-coded data (truncated, damaged) fails the decode: the image would
  // be partly grey. The one warning that leaves the image whole is padding after the last scan
  // ("Corrupt JPEG data: N extraneous bytes before marker 0xd9"; a few ImageNet files have it, and
  // PIL reads them), so the decode runs to the end and only that warning, when it is the last
  // word, is let through. More than 500 progressive scans is a known decompression bomb.
  const int flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS;
  auto fail_decode = [&]() {
    const bool warning = api.error_code(tj.get()) == TJERR_WARNING;
    const std::string text = api.error_text(tj.get());
    if (warning && text.find("extraneous bytes before marker 0xd9") != std::string::npos) return;
    fail<Error>(warning ? "truncated or corrupt JPEG data: " : "cannot decode JPEG: ", text);
  };
  out.width = width;
  out.height = height;
  out.channels = channels;
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    // libjpeg converts no CMYK to RGB itself: take the (inverted) CMYK and apply the note's rule.
    std::vector<uint8_t> cmyk(static_cast<std::size_t>(pixels) * 4);
    if (api.decompress(tj.get(), data, static_cast<unsigned long>(size), cmyk.data(), width, 0, height, TJPF_CMYK, flags) != 0) {
      fail_decode();
    }
    out.pixels.resize(static_cast<std::size_t>(pixels) * 3);
    for (int64_t i = 0; i < pixels; ++i) {
      const uint32_t k = cmyk[4 * i + 3];
      for (int c = 0; c < 3; ++c) out.pixels[3 * i + c] = static_cast<uint8_t>((cmyk[4 * i + c] * k + 127) / 255);
    }
    if (channels == 1) {
      rgb_to_luma(out.pixels.data(), pixels);
      out.pixels.resize(static_cast<std::size_t>(pixels));
    }
    return;
  }
  out.pixels.resize(static_cast<std::size_t>(pixels) * channels);
  if (api.decompress(tj.get(), data, static_cast<unsigned long>(size), out.pixels.data(), width, 0, height,
                    channels == 1 ? TJPF_GRAY : TJPF_RGB, flags) != 0) {
    fail_decode();
  }
}

}  // namespace image_detail

#else  // no TurboJPEG

CodecInfo jpeg_codec() {
  return CodecInfo{"",
                   "this build has no JPEG decoder (libjpeg-turbo's TurboJPEG was not found, or NEWTON_USE_TURBOJPEG=OFF): "
                   "install libturbojpeg0-dev (Debian/Ubuntu) or libjpeg-turbo-devel (Fedora) and rebuild newton-cnn"};
}

namespace image_detail {

void decode_jpeg(const uint8_t*, std::size_t, int, DecodedImage&) {
  fail<Error>("cannot decode a JPEG image: ", jpeg_codec().reason);
}

}  // namespace image_detail

#endif

}  // namespace newton
