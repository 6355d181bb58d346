/* _gfortran_concat_string with libgfortran's behaviour and ABI (GCC >= 8: lengths are size_t),
 * compiled into the prebuilt addon by scripts/prebuild.js:
 * the static OpenBLAS's LAPACK routines (dormqr, … reached from dsyevd) call it for Fortran's
 * string concatenation, and libgfortran has no static library without gfortran installed.
 * Concatenates s1 and s2 into dest, truncated or blank-padded to destlen. */
#include <stddef.h>
#include <string.h>

__attribute__((visibility("hidden")))
void _gfortran_concat_string(size_t destlen, char *dest, size_t len1, const char *s1,
                             size_t len2, const char *s2) {
  if (len1 >= destlen) {
    memcpy(dest, s1, destlen);
    return;
  }
  memcpy(dest, s1, len1);
  dest += len1;
  destlen -= len1;
  if (len2 >= destlen) {
    memcpy(dest, s2, destlen);
    return;
  }
  memcpy(dest, s2, len2);
  memset(dest + len2, ' ', destlen - len2);
}
