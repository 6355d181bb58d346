// The oneDNN C API as function pointers into the library opened at run time (note [oneDNN at
// run time] in onednn_library.cpp), for onednn_conv.cpp. Only built with oneDNN's headers
// (NEWTON_HAVE_ONEDNN); the public side is onednn_conv.h.
#pragma once

#ifdef NEWTON_HAVE_ONEDNN

#include <oneapi/dnnl/dnnl.h>

#include <string>

namespace newton {

struct OneDnnApi {
  decltype(&dnnl_engine_create) engine_create = nullptr;
  decltype(&dnnl_stream_create) stream_create = nullptr;
  decltype(&dnnl_stream_wait) stream_wait = nullptr;
  decltype(&dnnl_memory_desc_create_with_tag) memory_desc_create_with_tag = nullptr;
  decltype(&dnnl_memory_desc_destroy) memory_desc_destroy = nullptr;
  decltype(&dnnl_memory_desc_equal) memory_desc_equal = nullptr;
  decltype(&dnnl_memory_desc_get_size) memory_desc_get_size = nullptr;
  decltype(&dnnl_memory_create) memory_create = nullptr;
  decltype(&dnnl_memory_set_data_handle) memory_set_data_handle = nullptr;
  decltype(&dnnl_memory_destroy) memory_destroy = nullptr;
  decltype(&dnnl_primitive_attr_create) primitive_attr_create = nullptr;
  decltype(&dnnl_primitive_attr_destroy) primitive_attr_destroy = nullptr;
  decltype(&dnnl_primitive_attr_set_post_ops) primitive_attr_set_post_ops = nullptr;
  decltype(&dnnl_post_ops_create) post_ops_create = nullptr;
  decltype(&dnnl_post_ops_destroy) post_ops_destroy = nullptr;
  decltype(&dnnl_post_ops_append_sum) post_ops_append_sum = nullptr;
  decltype(&dnnl_post_ops_append_eltwise) post_ops_append_eltwise = nullptr;
  decltype(&dnnl_convolution_forward_primitive_desc_create) conv_forward_pd_create = nullptr;
  decltype(&dnnl_convolution_backward_data_primitive_desc_create) conv_backward_data_pd_create = nullptr;
  decltype(&dnnl_convolution_backward_weights_primitive_desc_create) conv_backward_weights_pd_create = nullptr;
  decltype(&dnnl_reorder_primitive_desc_create) reorder_pd_create = nullptr;
  decltype(&dnnl_primitive_desc_query_md) primitive_desc_query_md = nullptr;
  decltype(&dnnl_primitive_desc_destroy) primitive_desc_destroy = nullptr;
  decltype(&dnnl_primitive_create) primitive_create = nullptr;
  decltype(&dnnl_primitive_execute) primitive_execute = nullptr;
  decltype(&dnnl_primitive_destroy) primitive_destroy = nullptr;
  // From the OpenMP runtime oneDNN was built with (none for a TBB or sequential build).
  void (*omp_set_num_threads)(int) = nullptr;
  int (*omp_get_max_threads)() = nullptr;

  dnnl_engine_t engine = nullptr;  // the CPU engine, never destroyed (used up to exit)
  dnnl_stream_t stream = nullptr;  // one in-order stream; calls are serialised by onednn_conv.cpp
};

// The loaded API, or null when oneDNN is unavailable (onednn_missing() says why). Loads on the
// first call; thread-safe.
const OneDnnApi* onednn_api();

// Makes oneDNN's OpenMP team as large as the pool (note [oneDNN threads]) on the calling thread.
void onednn_match_threads(const OneDnnApi& api);

}  // namespace newton

#endif  // NEWTON_HAVE_ONEDNN
