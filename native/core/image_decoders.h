// The per-format halves of decode_image (note [image decoding] in image_codec.h), shared by
// image_codec.cpp, image_jpeg.cpp and image_png.cpp only.
//
// Note [codecs at run time]
// ~~~~~~~~~~~~~~~~~~~~~~~~~
// The prebuilt addon (CMake's NEWTON_IMAGE_PORTABLE, scripts/prebuild.js) may need no shared
// library beyond glibc's, but Debian's libturbojpeg.a and libpng.a cannot be linked into a
// shared object (a local-exec thread-local, non-PIC references to stderr), and linking their
// .so files would stop the whole addon from loading on a machine without them. So that build
// (NEWTON_TURBOJPEG_DLOPEN, NEWTON_PNG_DLOPEN) opens libturbojpeg.so.0 and libpng16.so.16 on
// first use and looks up the functions it calls; when one cannot be had, that format alone is
// unavailable and jpeg_codec() / png_codec() say why. Every other build links the libraries.
// Both ways fill the same table of function pointers, so the decoding code is one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "image_codec.h"

namespace newton {
namespace image_detail {

// Each decodes data of its own format (already sniffed) into out; without its library in
// the build it throws the Error "cannot decode a JPEG image: <jpeg_codec().reason>".
void decode_jpeg(const uint8_t* data, std::size_t size, int channels, DecodedImage& out);
void decode_png(const uint8_t* data, std::size_t size, int channels, DecodedImage& out);

// Throws unless 1 <= width, height <= 2^15 and width·height <= 2^28; `format` starts the
// message ("JPEG image is 40000×30000 pixels: ...").
void check_image_size(const char* format, int64_t width, int64_t height);

// count RGB pixels -> count luminance bytes, in place (see the note for the weights).
void rgb_to_luma(uint8_t* pixels, int64_t count);

}  // namespace image_detail
}  // namespace newton
