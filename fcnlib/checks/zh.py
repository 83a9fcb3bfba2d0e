"""The checks' messages in Chinese (``FCNLIB_LANG=zh``, set by the Chinese chapters' set-up cell).

One entry per key of ``MESSAGES["en"]``, with the same ``{placeholders}`` (tests/test_translation.py checks both).
Terms follow notebooks/zh/glossary.yml (d2l-zh's where it has one).
"""

from __future__ import annotations

from ._say import MESSAGES

__all__: list[str] = []

MESSAGES["zh"].update(
    {
        # interpolation (chapter 1)
        "linear_resize.unwritten": "还没写：{name} 返回 None。把它补全，再运行这个单元格。",
        "linear_resize.raised": "还不对：{name}({signal}, {factor}) 引发了 {error}。请返回一个数字列表。",
        "linear_resize.form": "还不对：{name} 返回了 {got}，无法读作一个扁平的数字列表。请返回 {m} 个浮点数的列表"
        "（list(...) 可以把生成器或 map 变成列表）。",
        "linear_resize.length": "还不对：{name} 返回了 {n} 个数，应当返回 {m} 个，每个输出像素一个"
        "（len(values) * factor = {size} * {factor}）。",
        "linear_resize.right": "对了！{n} 个值 -> {m} 个：{values}",
        "linear_resize.wrong": "还不对：期望 {expected}，得到 {got}。提示：插值之前先用 "
        "min(max(x, 0.0), len(values) - 1) 把位置截断到范围内。",
        "tent.unwritten": "还没写：answer[{missing!r}] 仍是 None。",
        "tent.form": '还不对：answer 应当是形如 {{"factor": 1, "taps": [...]}} 的字典，得到的是 {got}。',
        "tent.form_factor": "还不对：answer['factor'] 无法读作数字：你写的是 {got}。请写一个整数，例如 3"
        "（不加引号，不加方括号）。",
        "tent.form_taps": "还不对：answer['taps'] 无法读作扁平的数字列表：你写的是 {got}。"
        "请写一个含 {k} 个数的列表，例如 [0.5, 1.0, ...]，不加引号，也不要嵌套方括号。",
        "tent.right": "对了！bilinear_kernel(1, 1, {k}) 是为放大倍数 {factor} 设计的；它的抽头是 {taps}。",
        "tent.wrong": "还不对：factor = ({k} + 1) // 2 = {factor}，抽头 1 - |i - center| / factor 为 "
        "{taps}；你写的是 factor {got_factor}、抽头 {got_taps}。",
        "kernel_stride.unwritten": "还没写：请把 {missing} 设为一个核大小的列表。",
        "kernel_stride.form": "还不对：{name} 无法读作核大小：你写的是 {got}。请写一个整数列表，例如 [3, 5]，不加引号。",
        "kernel_stride.right": "对了！步幅为 {stride} 时，核大小 {flat} 让平坦的图像保持平坦，其中只有 {bright} "
        "还能保持它的亮度。",
        "kernel_stride.wrong": "还不对：步幅为 {stride} 时，核大小 {flat} 让平坦的图像保持平坦，{bright} "
        "还能保持它的亮度（你写的是 {got_flat} 和 {got_bright}）。提示：各相位之和相等，图像就保持平坦；"
        "各相位之和都为 1，亮度也保持不变。",
        # convolutionalisation (chapter 3)
        "cross_detector.unsolved": "还没写：请把 bias 设为一个数，例如 -1.5，再运行一次。",
        "cross_detector.right": "对了：恰好是那 {real} 个真正的十字被判为“十字”。",
        "cross_detector.low": "还不对：被判为“十字”的窗口有 {found} 个，真正的十字找到了 {real} 个中的 {hits} 个。"
        "阈值太低：其他窗口也能通过，其中 {near} 个与十字重叠，{noise} 个只有噪声。",
        "cross_detector.high": "还不对：被判为“十字”的窗口有 {found} 个，真正的十字找到了 {real} 个中的 {hits} 个。"
        "阈值太高：真正的十字得分不够，过不了阈值。",
        "score_map_shape.unsolved": "还没写：请设 answer = (N, C, H, W)，再运行一次。",
        "score_map_shape.right": "对了：{truth}。",
        "score_map_shape.wrong": "还不对：{truth}。每个 ImageNet 类别一个分数（C = {classes}），每 32x32 个像素一个单元"
        "（H = {height} / 32，W = {width} / 32）。",
        "bilinear_upsampler.unsolved": "还没写：bilinear_upsampler 返回 None。",
        "bilinear_upsampler.right": "对了：放大倍数 {factors} 都是双线性插值。",
        "bilinear_upsampler.size": "还不对：放大倍数 {factor} 得到 {got}，期望 {expected}。请检查核大小、步幅和填充"
        "（第 2 章：输出为 (n - 1) s - 2p + k）。",
        "bilinear_upsampler.values": "还不对：放大倍数 {factor} 的尺寸对了，但离开边界处的数值与 F.interpolate 不同。"
        "设了 bias=False 吗？权重是否来自同一 k 的 fcnlib.bilinear_kernel？",
        "bilinear_upsampler.error": "还不对：放大倍数 {factor} 引发了 {error}。",
        "bilinear_upsampler.type": "还不对：bilinear_upsampler({factor}, {channels}) 返回了类型为 {kind} 的对象；"
        "请返回 nn.ConvTranspose2d，即 FCN 学习其权重的那一层。",
    }
)
