"""2-D convolution that picks the faster CPU kernel for small inputs.

PyTorch runs an fp32 CPU convolution through oneDNN unless the input is a single small image
(batch 1 and at most 20,480 elements), where its own im2col + GEMM kernel is faster. The same
holds for the small batched inputs of a denoising step with classifier-free guidance (batch 2,
a few thousand elements): there oneDNN's per-call set-up (a primitive and a reordered copy of the
weight on every call) costs several times the arithmetic. Measured per U-Net conv shape, the
native kernel was 1.3-6x faster up to 4,096 input elements on 1 and 2 threads; at 8,192 it was
even on 1 thread and 1.3-5x faster on 2; above that oneDNN won on 1 thread. So :class:`Conv2d`
sends inputs of at most 8,192 elements to it (including SD's 4-channel `conv_in` on 32x32
latents, 3.6 ms through oneDNN against 0.6 ms). Larger inputs, other devices and dtypes,
tensor subclasses, traced (TorchScript, ONNX export) or compiled code, and calls under a
dispatch mode (FLOP counters, fake tensors) keep PyTorch's own choice. Both kernels compute
the same convolution; results differ only by float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: Largest input (elements, whole batch) sent to the native kernel.
NATIVE_KERNEL_MAX_ELEMENTS = 8192

_native_conv2d: Callable[..., torch.Tensor] | None = getattr(torch._C._nn, "thnn_conv2d", None)


class Conv2d(nn.Conv2d):
    """:class:`torch.nn.Conv2d` with the same parameters and state, faster on small CPU inputs."""

    def _conv_forward(
        self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if self._native_kernel_fits(input, weight):
            assert _native_conv2d is not None
            return _native_conv2d(input, weight, self.kernel_size, bias, self.stride, self.padding)
        return super()._conv_forward(input, weight, bias)

    def _native_kernel_fits(self, input: torch.Tensor, weight: torch.Tensor) -> bool:
        return (
            _native_conv2d is not None
            and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()
            and input.numel() <= NATIVE_KERNEL_MAX_ELEMENTS
            and input.is_cpu
            and input.dtype == torch.float32
            and input.is_contiguous()
            and self.groups == 1
            and self.dilation == (1, 1)
            and self.padding_mode == "zeros"
            and not isinstance(self.padding, str)
            and not torch.jit.is_scripting()
            and not torch.overrides.has_torch_function((input, weight))
            and torch._C._len_torch_dispatch_stack() == 0
        )
