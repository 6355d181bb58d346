// Note [image decoding]
// ~~~~~~~~~~~~~~~~~~~~~
// decode_image turns the bytes of one JPEG or PNG file into 8-bit interleaved (HWC) pixels
// with 1 (luminance) or 3 (RGB) channels, for the image-folder data loader. The format comes
// from the first bytes (FF D8 FF: JPEG; 89 'PNG' 0D 0A 1A 0A: PNG), never from a file name:
// data sets hold PNGs named .JPEG (ImageNet has one).
//
//   JPEG  libjpeg-turbo's TurboJPEG API (2.x: tjDecompressHeader3 / tjDecompress2), the
//         accurate integer IDCT (ISLOW, libjpeg's default and PIL's) and fancy upsampling,
//         so the pixels are those of any libjpeg-turbo-based reader with default settings.
//         1 channel: the decoder's luminance output (the Y plane of a YCbCr JPEG). CMYK and
//         YCCK JPEGs are converted, not refused (ImageNet's training set has a few dozen):
//         TurboJPEG returns the stored Adobe-style inverted CMYK, and R = round(C·K/255)
//         (likewise G from M, B from Y) — libjpeg-turbo's own CMYK-to-RGB rule (cmyk.h of its
//         tools), without colour management.
//   PNG   libpng: palettes expanded, 1/2/4-bit gray widened to 8, 16-bit samples reduced to
//         their high byte (png_set_strip_16, as libvips does), interlacing undone; gAMA, cHRM
//         and ICC profiles ignored. 1 channel from RGB: round(0.299 R + 0.587 G + 0.114 B)
//         in libjpeg's 16-bit fixed point ((19595 R + 38470 G + 7471 B + 32768) >> 16, PIL's
//         convert('L') too), so that a PNG and a JPEG of one picture give the same luminance.
//   Both  alpha is dropped (not composited); gray becomes RGB by repeating it; EXIF
//         orientation is ignored (as torchvision's PIL loader does).
//
// Damaged data is an error, never a partly grey image: a libjpeg warning ("Premature end of
// JPEG file", "Corrupt JPEG data: ...") stops TurboJPEG (TJFLAG_STOPONWARNING) and fails the
// decode; libpng errors, a short read and a missing IEND fail too. Images over 2^15 pixels a
// side or 2^28 pixels in all are refused from the header, before anything is allocated.
//
// Each library is optional at build time (NEWTON_HAVE_TURBOJPEG, NEWTON_HAVE_PNG from
// CMakeLists.txt / binding.gyp); without it, decoding that format throws an Error naming the
// Debian package to install, and jpeg_codec() / png_codec() say why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace newton {

constexpr int64_t kMaxImageSide = int64_t{1} << 15;
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

enum class ImageFormat { Unknown, Jpeg, Png };

// The format of `data` from its magic bytes.
ImageFormat sniff_image_format(const uint8_t* data, std::size_t size);

struct DecodedImage {
  std::vector<uint8_t> pixels;  // height × width × channels, rows top to bottom
  int64_t width = 0, height = 0, channels = 0;
};

// Decodes `data` (channels 1 or 3) into `out`, reusing its buffer. Throws newton::Error with
// a message that names no function ("truncated or corrupt JPEG data: Premature end of JPEG
// file"): callers add their own context (decodeImage, or the file of a batch position).
void decode_image(const uint8_t* data, std::size_t size, int channels, DecodedImage& out);

// A decoder of this build: library = "libjpeg-turbo 2.1.5 (TurboJPEG)", or empty with the
// reason it is missing.
struct CodecInfo {
  std::string library;
  std::string reason;
};
CodecInfo jpeg_codec();
CodecInfo png_codec();

}  // namespace newton
