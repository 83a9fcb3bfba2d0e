"""Output-size arithmetic for convolutions and transposed convolutions.

Every FCN lesson comes back to one question: *what shape comes out?* A convolution
shrinks a feature map, a transposed convolution grows it back, and the two formulas
below say by exactly how much. They are written out by hand because the formulas are
the lesson; the tests check them against ``nn.Conv2d`` and ``nn.ConvTranspose2d``.

All functions accept either ints or ``(height, width)`` pairs for every argument, the
way PyTorch's layers do, and return an int or a pair accordingly.

Impossible settings raise :class:`ValueError` with a plain sentence naming the
parameter and the rule it breaks, at exactly the settings where PyTorch refuses.
"""

from __future__ import annotations

from typing import Sequence, Tuple, Union

IntOrPair = Union[int, Sequence[int]]

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "upsampling_params",
    "explain_conv_transpose_output_size",
]


def _pairs(**kwargs: IntOrPair) -> Tuple[bool, dict]:
    """Split every argument into (height, width) values; remember whether any was a pair."""
    any_pair = False
    out = {}
    for name, value in kwargs.items():
        if isinstance(value, bool):
            raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
        if isinstance(value, int):
            out[name] = (value, value)
            continue
        try:
            items = tuple(value)
        except TypeError:
            raise TypeError(
                f"{name} must be an int or an (h, w) pair of ints, got {value!r}"
            ) from None
        if len(items) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
        any_pair = True
        out[name] = items
    return any_pair, out


def _check_common(size: int, kernel_size: int, stride: int, padding: int, dilation: int, axis: str) -> None:
    if size < 1:
        raise ValueError(f"size{axis} must be at least 1, got {size}: a feature map has at least one pixel.")
    if kernel_size < 1:
        raise ValueError(f"kernel_size{axis} must be at least 1, got {kernel_size}.")
    if stride < 1:
        raise ValueError(f"stride{axis} must be at least 1, got {stride}: the kernel has to move forward.")
    if dilation < 1:
        raise ValueError(f"dilation{axis} must be at least 1, got {dilation} (1 means no gaps between kernel taps).")
    if padding < 0:
        raise ValueError(f"padding{axis} must not be negative, got {padding}.")


def _axis(i: int, any_pair: bool) -> str:
    return ("[height]", "[width]")[i] if any_pair else ""


def conv_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Union[int, Tuple[int, int]]:
    """Output size of a convolution (or pooling window) along each spatial axis.

    The kernel covers ``dilation * (kernel_size - 1) + 1`` input pixels. Sliding it in
    steps of ``stride`` over the padded input of ``size + 2 * padding`` pixels gives::

        out = floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1

    >>> conv_output_size(224, kernel_size=7, stride=2, padding=3)   # ResNet's first conv
    112
    >>> conv_output_size((320, 480), 3, stride=2, padding=1)
    (160, 240)
    """
    any_pair, v = _pairs(size=size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    result = []
    for i in range(2):
        n, k, s, p, d = (v[name][i] for name in ("size", "kernel_size", "stride", "padding", "dilation"))
        ax = _axis(i, any_pair)
        _check_common(n, k, s, p, d, ax)
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            raise ValueError(
                f"kernel_size{ax}={k} (spanning {span} pixels with dilation {d}) is larger than the padded "
                f"input size{ax} + 2*padding = {n} + 2*{p} = {n + 2 * p}; use a smaller kernel or more padding."
            )
        result.append((n + 2 * p - span) // s + 1)
    return tuple(result) if any_pair else result[0]


def conv_transpose_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Union[int, Tuple[int, int]]:
    """Output size of a transposed convolution along each spatial axis.

    Each input pixel scatters a copy of the kernel (spanning ``dilation*(kernel_size-1)+1``
    pixels) into the output, and consecutive input pixels land ``stride`` pixels apart.
    ``padding`` then trims pixels from both ends and ``output_padding`` adds pixels to
    one end (to pick between the several input sizes a strided convolution maps to the
    same output size)::

        out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1

    >>> conv_transpose_output_size(10, kernel_size=64, stride=32, padding=16)   # the seed's FCN
    320
    >>> conv_transpose_output_size((10, 15), 64, 32, 16)
    (320, 480)
    """
    any_pair, v = _pairs(
        size=size, kernel_size=kernel_size, stride=stride, padding=padding,
        output_padding=output_padding, dilation=dilation,
    )
    result = []
    for i in range(2):
        n, k, s, p, op, d = (
            v[name][i] for name in ("size", "kernel_size", "stride", "padding", "output_padding", "dilation")
        )
        ax = _axis(i, any_pair)
        _check_common(n, k, s, p, d, ax)
        if op < 0:
            raise ValueError(f"output_padding{ax} must not be negative, got {op}.")
        if op >= max(s, d):
            raise ValueError(
                f"output_padding{ax}={op} must be smaller than stride{ax}={s} or dilation{ax}={d} "
                f"(whichever is larger): it only chooses among the {max(s, d)} output sizes a strided "
                f"convolution maps to the same input size. Use output_padding < {max(s, d)}."
            )
        out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            raise ValueError(
                f"padding{ax}={p} trims 2*{p} = {2 * p} pixels, more than the {out + 2 * p} pixels the "
                f"transposed convolution produces, leaving {out}; use padding <= {(out + 2 * p - 1) // 2}."
            )
        result.append(out)
    return tuple(result) if any_pair else result[0]


def explain_conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> str:
    """The transposed-convolution formula with this setting's numbers filled in.

    For an impossible setting the text is the rule it breaks, so an explorer can show
    it instead of a traceback.

    >>> explain_conv_transpose_output_size(10, 64, 32, 16)
    '(10 - 1) x 32 - 2 x 16 + 1 x (64 - 1) + 0 + 1 = 320'
    """
    try:
        out = conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    except (ValueError, TypeError) as err:
        return f"Impossible setting: {err}"
    return (
        f"({size} - 1) x {stride} - 2 x {padding} + {dilation} x ({kernel_size} - 1)"
        f" + {output_padding} + 1 = {out}"
    )


def upsampling_params(factor: int) -> Tuple[int, int, int]:
    """``(kernel_size, stride, padding)`` of a transposed conv that upsamples exactly ``factor`` times.

    With stride ``s`` the formula above gives ``(n - 1) * s - 2p + k``, which equals ``n * s``
    for every ``n`` exactly when ``k - 2p = s``. The bilinear kernel wants ``k`` about ``2s``
    (each output pixel mixes the two nearest input pixels in each direction), so:

    * even ``s``: ``k = 2s``, ``p = s / 2``  (the seed's 64, 32, 16 for ``s = 32``)
    * odd ``s``:  ``k = 2s - 1``, ``p = (s - 1) / 2`` (an odd kernel whose centre is a pixel)

    >>> upsampling_params(32)
    (64, 32, 16)
    >>> upsampling_params(3)
    (5, 3, 1)
    """
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(f"factor must be an int, got {factor!r}")
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    kernel_size = 2 * factor - factor % 2
    return kernel_size, factor, factor // 2
