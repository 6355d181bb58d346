// The op table: every op of the library is named here once. Backends say which ops and
// dtypes they support (Backend::supports), the dispatcher in ops.cpp refuses the rest with
// a clear error, and the tests iterate the same names. Adding an op touches: this table,
// its declaration in ops.h (shape checks in ops.cpp), each backend, one test case table,
// one benchmark line.
#pragma once

#include <cstdint>

namespace newton {

#define NEWTON_OP_LIST(X)                                              \
  X(Fill, "fill")                                                      \
  X(Copy, "copy")                                                      \
  X(Cast, "cast")                                                      \
  X(Add, "add")                                                        \
  X(Sub, "sub")                                                        \
  X(Mul, "mul")                                                        \
  X(Scale, "scale")                                                    \
  X(Axpy, "axpy")                                                      \
  X(Relu, "relu")                                                      \
  X(ReluMask, "reluMask")                                              \
  X(ReluBackward, "reluBackward")                                      \
  X(Sum, "sum")                                                        \
  X(Dot, "dot")                                                        \
  X(SquaredNorm, "squaredNorm")                                        \
  X(CgUpdate, "cgUpdate")                                              \
  X(Gemm, "gemm")                                                      \
  X(BiasAdd, "biasAdd")                                                \
  X(BiasGrad, "biasGrad")                                              \
  X(Conv2dForward, "conv2d")                                           \
  X(Conv2dBackwardData, "conv2dBackwardData")                          \
  X(Conv2dBackwardFilter, "conv2dBackwardFilter")                      \
  X(MaxPool2dForward, "maxPool2d")                                     \
  X(MaxPool2dBackward, "maxPool2dBackward")                            \
  X(MaxPool2dReluBackward, "maxPool2dReluBackward")                    \
  X(MaxPool2dJvp, "maxPool2dJvp")                                      \
  X(AvgPool2dForward, "avgPool2d")                                     \
  X(AvgPool2dBackward, "avgPool2dBackward")                            \
  X(SquaredLoss, "squaredLoss")                                        \
  X(SquaredLossGrad, "squaredLossGradient")                            \
  X(Softmax, "softmax")                                                \
  X(SoftmaxCrossEntropy, "softmaxCrossEntropy")                        \
  X(SoftmaxCrossEntropyGrad, "softmaxCrossEntropyGradient")            \
  X(SoftmaxCrossEntropyHvp, "softmaxCrossEntropyHessianProduct")       \
  X(RandomUniform, "randomUniform")                                    \
  X(RandomNormal, "randomNormal")

enum class Op : int {
#define NEWTON_OP_ENUM(id, name) id,
  NEWTON_OP_LIST(NEWTON_OP_ENUM)
#undef NEWTON_OP_ENUM
  Count
};

inline constexpr const char* kOpNames[] = {
#define NEWTON_OP_NAME(id, name) name,
    NEWTON_OP_LIST(NEWTON_OP_NAME)
#undef NEWTON_OP_NAME
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<int>(Op::Count),
              "every op needs a name");

// The JS-facing name of an op ("conv2dBackwardData"); also used in error messages.
inline const char* op_name(Op op) { return kOpNames[static_cast<int>(op)]; }

}  // namespace newton
