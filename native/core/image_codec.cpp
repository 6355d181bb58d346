// JPEG and PNG decoding: note [image decoding] in image_codec.h. The format-independent
// parts (sniffing, size limits, channel conversions, the codec descriptions) live here; the
// two decoders in image_jpeg.cpp and image_png.cpp.
#include "image_codec.h"

#include <cstring>

#include "error.h"
#include "image_decoders.h"

namespace newton {

ImageFormat sniff_image_format(const uint8_t* data, std::size_t size) {
  static const uint8_t kJpeg[3] = {0xFF, 0xD8, 0xFF};
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size >= sizeof kJpeg && std::memcmp(data, kJpeg, sizeof kJpeg) == 0) return ImageFormat::Jpeg;
  if (size >= sizeof kPng && std::memcmp(data, kPng, sizeof kPng) == 0) return ImageFormat::Png;
  return ImageFormat::Unknown;
}

namespace image_detail {

void check_image_size(const char* format, int64_t width, int64_t height) {
  if (width < 1 || height < 1) fail<Error>(format, " image has no pixels (", width, "×", height, ")");
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels) {
    fail<Error>(format, " image is ", width, "×", height,
                " pixels: larger than the decoder accepts (2^15 = 32768 pixels a side, 2^28 in all)");
  }
}

// (19595 R + 38470 G + 7471 B + 32768) >> 16: libjpeg's rgb_gray constants (FIX(0.299),
// FIX(0.587), FIX(0.114) at 16 bits) with rounding. Going forwards in place is safe: pixel i
// is written at i after being read from 3i >= i.
void rgb_to_luma(uint8_t* pixels, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t r = pixels[3 * i], g = pixels[3 * i + 1], b = pixels[3 * i + 2];
    pixels[i] = static_cast<uint8_t>((19595u * r + 38470u * g + 7471u * b + 32768u) >> 16);
  }
}

}  // namespace image_detail

void decode_image(const uint8_t* data, std::size_t size, int channels, DecodedImage& out) {
  if (channels != 1 && channels != 3) fail<ValueError>("channels must be 1 or 3, got ", channels);
  if (size == 0) fail<Error>("no image data (0 bytes)");
  switch (sniff_image_format(data, size)) {
    case ImageFormat::Jpeg:
      image_detail::decode_jpeg(data, size, channels, out);
      return;
    case ImageFormat::Png:
      image_detail::decode_png(data, size, channels, out);
      return;
    case ImageFormat::Unknown:
      break;
  }
  // The first bytes, to tell an HTML error page or a GIF from random damage.
  std::string head;
  static const char* kHex = "0123456789abcdef";
  for (std::size_t i = 0; i < size && i < 8; ++i) {
    if (i) head += ' ';
    head += kHex[data[i] >> 4];
    head += kHex[data[i] & 15];
  }
  fail<Error>("not a JPEG or PNG image (", size, " bytes starting ", head, ")");
}

}  // namespace newton
