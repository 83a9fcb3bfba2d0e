"""The checks' messages in Chinese (``FCNLIB_LANG=zh``, set by the Chinese chapters' set-up cell).

One entry per key of ``MESSAGES["en"]``, with the same ``{placeholders}`` (tests/test_translation.py checks both).
Terms follow notebooks/zh/glossary.yml (d2l-zh's where it has one).
"""

from __future__ import annotations

from ._say import MESSAGES

__all__: list[str] = []

_HOW_ZH = "用 mode='bilinear', antialias=True 缩小；对分数 [C, h, w]（而不是标签）做双线性上采样，像第 1 章那样用 align_corners=False；然后 argmax(0)。"
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
        "kernel_stride.unwritten_both": "还没写：请把 {first} 和 {second} 分别设为一个核大小的列表。",
        "kernel_stride.form": "还不对：{name} 无法读作核大小：你写的是 {got}。请写一个整数列表，例如 [3, 5]，不加引号。",
        "kernel_stride.right": "对了！步幅为 {stride} 时，核大小 {flat} 让平坦的图像保持平坦，其中只有 {bright} "
        "还能保持它的亮度。",
        "kernel_stride.wrong": "还不对：步幅为 {stride} 时，核大小 {flat} 让平坦的图像保持平坦，{bright} "
        "还能保持它的亮度（你写的是 {got_flat} 和 {got_bright}）。提示：各相位之和相等，图像就保持平坦；"
        "各相位之和都为 1，亮度也保持不变。",
        # segmentation (chapter 0)
        "mask_box.unwritten": "还没写：mask_box 返回 None。把它补全，再运行这个单元格。",
        "mask_box.right": "对了！掩码的边界框是 {expected}。",
        "mask_box.wrong": "还不对：你的结果是 {answer}，应为 {expected}（x 表示列，y 表示行，两端都包含在内）。",
        "otsu.unwritten": "还没写：otsu 返回 None。下面仍会使用正确的阈值 {expected}。",
        "otsu.right": "对了！Otsu 阈值是 {expected}（灰度级从 0 到 255）。",
        "otsu.wrong": "还不对：你的结果是 {answer}；使类间方差最大的阈值是 {expected}。",
        "receptive_field.unwritten": "还没写：receptive_field 返回 None。",
        "receptive_field.right": "对了！全部 {count} 个例子的结果都正确；ResNet-18 最后一层之后 (r, j) = {last}。",
        "receptive_field.wrong": "还不对：对 {case!r}，你的结果是 {answer}，应为 {expected}。",
        "receptive_field.raised": "还不对：对 {case!r}，你的函数引发了 {error}。",
        "layer4.unwritten": "还没写：{entry!r} 仍是 None。把它替换掉，再运行这个单元格。",
        "layer4.right": "对了！在 {H} x {W} 的图像上，相邻位置相隔 {jump} 个像素，共 {h} x {w} 个位置，"
        "每个位置的感受野为 {field} x {field} 个像素。",
        "layer4.wrong": "还不对：{entry!r} 应为 {expected}，而不是 {answer!r}。",
        # transposed convolution (chapter 2)
        "transposed_size.unwritten": "还没写：transposed_size 返回 None。",
        "transposed_size.right": "对了：全部 {total} 组设置下，结果都与 PyTorch 转置卷积的输出尺寸相同。",
        "transposed_size.wrong": "还不对：{total} 组设置中有 {wrong} 组算错了，例如 n={n} k={k} s={s} p={p} op={op} "
        "d={d} 时应为 {truth}，你的结果是 {got}。提示：画布宽 (n - 1) * s + d * (k - 1) + 1 个像素，"
        "然后 padding 从两侧各裁掉 p 个，output_padding 再添上 op 个。",
        "transposed_size.raised": "还不对：transposed_size{args} 引发了 {error}。",
        "net_size.unanswered": "还没写：请设 answer = (高, 宽)，再运行一次。",
        "net_size.right": "对了：对尺寸为 {size} 的图像，网络返回 {truth}。",
        "net_size.wrong": "还不对：对尺寸为 {size} 的图像，网络返回的是 {truth}。提示：每次减半都向上取整。",
        "net_size.malformed": "还不对：answer 应当是两个整数 (高, 宽)，得到的是 {answer!r}。",
        "even_pairs.unanswered": "还没写：请把 answer 设为由 (kernel_size, stride) 对组成的列表。",
        "even_pairs.right": "对了：{pairs} 让每个内部像素得到的抽头数都相同。",
        "even_pairs.missing": "还不对：漏了 {pair}：它的内部像素都得到 {count} 个抽头。",
        "even_pairs.extra": "还不对：{pair} 让内部像素得到的抽头数有 {counts}，不止一种。提示：把每个核大小与它的步幅比较一下。",
        "even_pairs.unknown": "还不对：{pair} 不在要试的组合 {pairs} 之中。",
        "even_pairs.malformed": "还不对：answer 应当是由 (kernel_size, stride) 对组成的列表，得到的是 {answer!r}。",
        # convolutionalisation (chapter 3)
        "cross_detector.unsolved": "还没写：请把 bias 设为一个数，例如 -1.5，再运行一次。",
        "cross_detector.right": "对了：恰好是那 {real} 个真正的十字被判为“十字”。",
        "cross_detector.low": "还不对：被判为“十字”的窗口有 {found} 个；{real} 个真正的十字找到了 {hits} 个。"
        "阈值太低：其他窗口也能通过，其中 {near} 个与十字重叠，{noise} 个落在纯噪声上。",
        "cross_detector.high": "还不对：被判为“十字”的窗口有 {found} 个；{real} 个真正的十字找到了 {hits} 个。"
        "阈值太高：真正的十字得分不够，过不了阈值。",
        "score_map_shape.unsolved": "还没写：请设 answer = (N, C, H, W)，再运行一次。",
        "score_map_shape.right": "对了：形状是 {truth}。",
        "score_map_shape.wrong": "还不对：正确的形状是 {truth}。每个 ImageNet 类别一个分数（C = {classes}），每 32x32 个像素一个单元"
        "（H = {height} / 32，W = {width} / 32）。",
        "bilinear_upsampler.unsolved": "还没写：bilinear_upsampler 返回 None。",
        "bilinear_upsampler.right": "对了：放大倍数为 {factors} 时，结果都与双线性插值一致。",
        "bilinear_upsampler.size": "还不对：放大倍数 {factor} 得到 {got}，期望 {expected}。请检查核大小、步幅和填充"
        "（第 2 章：输出为 (n - 1) s - 2p + k）。",
        "bilinear_upsampler.values": "还不对：放大倍数 {factor} 的尺寸对了，但在远离边界处，数值与 F.interpolate 不同。"
        "设了 bias=False 吗？权重是否来自同一 k 的 fcnlib.bilinear_kernel？",
        "bilinear_upsampler.error": "还不对：放大倍数 {factor} 引发了 {error}。",
        "bilinear_upsampler.type": "还不对：bilinear_upsampler({factor}, {channels}) 返回了类型为 {kind} 的对象；"
        "请返回 nn.ConvTranspose2d，即 FCN 学习其权重的那一层。",
        # prediction (chapter 5)
        "padding.unsolved": "还没写：answer[{name!r}] 仍是 None。",
        "padding.form": '还不对：answer 要保持为字典：{{"padded size (H, W)": (H, W), "rows above": n}}，而不是 {got}。',
        "padding.right": "对了：{h}x{w} 被填充到 {padded}，上方填充 {above} 行，下方 {below} 行。",
        "padding.wrong": "还不对：{h}x{w} 应填充到 {padded}（下一个 32 的倍数），上方 {above} 行，下方 {below} 行"
        "（缺少的 {missing} 行取一半放在上方，向下取整）；你写的是 {got}。",
        "tile_starts.unsolved": "还没写：tile_starts 返回 None。提示：list(range(0, size - crop, stride))，再加上一个起点。",
        "tile_starts.right": "对了，全部 {n} 种情况都正确！tile_starts(500, 480, 240) = {example}",
        "tile_starts.wrong": "还不对：size 为 {size}、crop 为 {crop}、stride 为 {stride} 时，应为 {expected}，你的函数返回 {got}。",
        "tile_starts.error": "还不对：tile_starts({size}, {crop}, {stride}) 引发了 {error}。",
        "margin_guess.unsolved": '还没写：请把 guess 设为 "smaller" 或 "larger"（也可以写“更小”/“更大”），再运行一次。',
        "margin_guess.form": '还不对：请写 guess = "smaller" 或 guess = "larger"（也可以写“更小”/“更大”），而不是 {got}。',
        "margin_guess.none": "无从比较：在这些图像的每个像素上，填充和图块两种模式的结果都一致。",
        "margin_guess.right": "对了：填充和图块不一致处，top-2 分差的中位数是 {near:.2f}，比两者一致处的 {far:.2f} "
        "{word}。",
        "margin_guess.wrong": "还不对：填充和图块不一致处，top-2 分差的中位数是 {near:.2f}，比两者一致处的 {far:.2f} "
        "{word}。",
        # photos (chapter 7)
        "says_person.unsolved": "还没写：请设 answer = True 或 False，再运行一次。",
        "says_person.right_absent": "对了：'person' 不在它的 {n} 个类别（{names}）之中，所以没有哪个像素能被判为人。",
        "says_person.wrong_absent": "还不对：'person' 不在它的 {n} 个类别（{names}）之中。无论图中是什么，"
        "网络都只会用它训练过的某个类别来回答每个像素。",
        "says_person.right_present": "对了：person 是它的类别 {index}，它把 {share} 的像素判为这一类。",
        "says_person.wrong_present": "还不对：person 是它的类别 {index}，它把 {share} 的像素判为这一类。",
        "says_person.form": "还不对：请写 answer = True 或 False（也可以写“是”/“否”），而不是 {got}。",
        "top_probability.unsolved": "还没写：top_probability 返回 None。",
        "top_probability.right": "对了：这就是 {pixels} 个像素各自最大的 softmax 概率。",
        "top_probability.error": "还不对：top_probability 引发了 {error}。",
        "top_probability.shape": "还不对：期望一个形状为 {expected} 的张量（每个像素一个值），得到的是 {got}。",
        "top_probability.values": "还不对：形状对了，数值不对。先在类别上做 softmax（dim=0），再取每个像素上的最大值"
        "（.amax(0)）；这些值在 1/C 和 1 之间。",
        "predict_at_scale.unsolved": "还没写：predict_at_scale 返回 None。",
        "predict_at_scale.right": "对了：网络在 {height}x{width} 上运行时，{agree} 的像素得到与参考答案相同的标签；"
        "换成一个标签逐像素变化的虚构网络（缩放比例 1/8），这一比例为 {probe}。",
        "predict_at_scale.error": "还不对：predict_at_scale 引发了 {error}。",
        "predict_at_scale.shape": "还不对：应当返回与照片同尺寸 {expected} 的类别下标，得到的却是 {got}。"
        "先把分数恢复到照片的尺寸，再取 argmax。",
        "predict_at_scale.values": "还不对：你的网络在缩放比例 {scale} 下，只有 {agree} 的像素得到与参考答案相同的标签。"
        + _HOW_ZH,
        "predict_at_scale.values_probe": "还不对：用一个标签逐像素变化的虚构网络在缩放比例 1/8 下，只有 {agree} 的像素"
        "得到与参考答案相同的标签。" + _HOW_ZH,
        "predict_at_scale.probabilities": "还不对：只有 {agree} 的像素得到与参考答案相同的标签，而你的答案与先对 softmax "
        "概率做上采样的结果一致。请在任何 softmax 之前插值 full_scores 返回的分数：插值后的概率会让轮廓附近的一些像素翻到另一个类别。",
        "predict_at_scale.pair": "还不对：predict_at_scale 返回了一个 (values, indices) 对，就像 .max(dim=0) 那样；"
        "请返回类别下标，即 .argmax(0)。",
        "top_probability.pair": "还不对：top_probability 返回了一个 (values, indices) 对，就像 .max(dim=0) 那样；"
        "请返回它的 .values。",
        "dice.raised": "还不对：你的 dice 引发了 {error}。",
        "dice.right": "对了！每个类别的 Dice 系数：{expected}。",
        "dice.unwritten": "还没写：dice 返回 None。提示：n.diagonal()、n.sum(1) 和 n.sum(0) 就是要用到的三个计数。",
        "dice.wrong": "还不对：你的结果是 {answer}，正确结果是 {expected}。Dice 是 2 n_ii / (t_i + 预测为第 i 类的像素数)。",
        "training_step.right": "对了！每个迭代周期 {steps} 步，分数的形状是 {shape}。",
        "training_step.unwritten": "还没写：{entry!r} 仍是 None。把它替换掉，再运行这个单元格。",
        "training_step.wrong": "还不对：{entry!r} 应为 {expected}，而不是 {answer!r}。",
        "band_gap.close": "对了（差距很小，算你对）：离边缘 {width} 像素以内的差距是 {gap:+.3f}，{width3} 像素以内是 {gap3:+.3f}；"
        "这么小的差别，检查算作持平。",
        "band_gap.right": "对了：离边缘 {width} 像素以内的差距是 {gap:+.3f}，比 {width3} 像素以内的 {gap3:+.3f} {answer}。",
        "band_gap.unsolved": '还没写：设 guess = "larger" 或 "smaller"（也可以写“更大”/“更小”），再运行一次。',
        "band_gap.unknown": '还没写成这个检查能读懂的形式：{guess}；设 guess = "larger" 或 "smaller"（也可以写“更大”/“更小”），再运行一次。',
        "band_gap.wrong": "还不对：离边缘 {width} 像素以内的差距是 {gap:+.3f}，比 {width3} 像素以内的 {gap3:+.3f} {answer}。",
        "fcn16s.error": "还不对：你的函数引发了 {error}。",
        "fcn16s.right": "对了：你的 FCN-16s 给出的分数与网络自己的前向传播相同。",
        "fcn16s.shape": "还不对：期望形状为 {expected} 的张量，得到的是 {got}。提示：最后一步是 net.transpose_conv。",
        "fcn16s.unsolved": "还没写：fcn16s_scores 返回 None。补全它，再运行这个单元格。",
        "fcn16s.values": "还不对：形状对了，数值不对。提示：在最后一次上采样之前，把 score_layer3(layer3) 加到 2 倍上采样后的分数上。",
        "fusion_shapes.right": "对了：形状是 {truth}。",
        "fusion_shapes.unsolved": "还没写：在 answer 中填入各个形状 (N, C, H, W)，再运行一次。",
        "fusion_shapes.wrong": "还不对：正确的形状是 {wrong}。每次融合都把前一张图的网格（高和宽）各放大一倍；"
        "打分层之后的每张图都是每个类别一个通道。",
    }
)
