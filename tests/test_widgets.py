"""fcnlib.widgets: what each explorer shows for a setting, and that moving a control redraws it.

Outside a running kernel an ``Output`` widget captures nothing, so these tests check what
the callbacks compute: the explorer's ``view`` (text and numbers) and ``png`` (the figure
as drawn), checked against PyTorch's own layers. Runs under ipywidgets 7.7 and 8.x.
"""

from __future__ import annotations

import base64
import itertools

import ipywidgets as widgets
import pytest
import torch
from torch import nn

from fcnlib import widgets as W
from fcnlib.upsampling import checkerboard, spread


def _torch_output_size(size, kernel_size, stride, padding, output_padding, dilation):
    """PyTorch's answer, or None where it refuses the setting."""
    layer = nn.ConvTranspose2d(1, 1, kernel_size, stride, padding, output_padding, dilation=dilation, bias=False)
    try:
        out = layer(torch.ones(1, 1, size, size))
    except RuntimeError:
        return None
    return out.shape[-1] if out.numel() else None


# --------------------------------------------------------------------------------------
# Pure view functions
# --------------------------------------------------------------------------------------


def test_transposed_conv_view_output_size_and_refusals_agree_with_pytorch():
    checked = refused = 0
    for size, k, s, p, op, d in itertools.product((1, 2, 3), (1, 2, 3), (1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2)):
        view = W.transposed_conv_view(size, k, s, p, op, d, figure=False)
        expected = _torch_output_size(size, k, s, p, op, d)
        if expected is None:
            refused += 1
            assert not view.ok and view.figure is None
            assert view.text.startswith("Impossible setting:"), view.text
            assert "Traceback" not in view.text
            # the text names the parameter that breaks the rule
            assert ("output_padding" in view.text) or ("padding" in view.text)
        else:
            checked += 1
            assert view.ok, view.text
            assert view.numbers["output_size"] == expected
            assert view.text.splitlines()[0].endswith(f"= {expected}")
    assert checked > 100 and refused > 30
    for setting in [(3, 3, 2, 1, 1, 1), (2, 3, 1, 0, 0, 2), (1, 1, 1, 0, 0, 1)]:  # and a few drawn
        view = W.transposed_conv_view(*setting)
        assert view.ok and view.figure is not None
        assert view.numbers["output_size"] == _torch_output_size(*setting)


def test_transposed_conv_view_formula_text_d2l_example():
    view = W.transposed_conv_view(2, 2)
    assert view.lines[0] == "output size = (2 - 1) x 1 - 2 x 0 + 1 x (2 - 1) + 0 + 1 = 3"
    # the taps per output pixel of a 2x2 kernel on a 2x2 input: 1 at the corners, 4 in the middle
    assert (view.numbers["overlap_min"], view.numbers["overlap_max"]) == (1, 4)
    assert "step 4/4: input pixel (1, 1) = 3" in view.text
    assert "step 1/4: input pixel (0, 0) = 0" in W.transposed_conv_view(2, 2, step=1).text
    assert "nothing scattered yet" in W.transposed_conv_view(2, 2, step=0).text


def test_bilinear_view_sizes_and_stripes():
    photo = torch.rand(3, 10, 12)
    for factor in range(1, 7):
        k = 2 * factor - factor % 2
        view = W.bilinear_view(factor, k, photo)
        assert view.ok and view.numbers["output_size"] == (10 * factor, 12 * factor)
        assert view.numbers["even"] and "the matching kernel" in view.text
        # the settings are a layer PyTorch accepts, with the promised output size
        layer = nn.ConvTranspose2d(
            3, 3, k, view.numbers["stride"], view.numbers["padding"], view.numbers["output_padding"]
        )
        assert layer(photo[None]).shape[-2:] == (10 * factor, 12 * factor)
    mismatched = W.bilinear_view(3, 4, photo)
    assert mismatched.ok and not mismatched.numbers["even"]
    assert "made for factor 2, used at stride 3" in mismatched.text and "stripes" in mismatched.text
    assert mismatched.numbers["output_size"] == (30, 36)
    shifted = W.bilinear_view(2, 3, photo)  # made for factor 2 too: phases of 1, the peak half a pixel off
    assert shifted.numbers["even"] and shifted.numbers["phase_sums"] == [1.0, 1.0] and "half" in shifted.text
    brighter = W.bilinear_view(2, 6, photo)  # made for factor 3: phases of 1.5, 2.25 times as bright
    assert brighter.numbers["phase_sums"] == pytest.approx([1.5, 1.5]) and "2.25 times as bright" in brighter.text
    impossible = W.bilinear_view(1, 2, photo)
    assert not impossible.ok and impossible.figure is None and "output_padding" in impossible.text


def test_kernel_labels_say_when_they_are_rounded(close_figures):
    from fcnlib import viz

    ax = W.bilinear_view(2, 4, torch.rand(3, 8, 8)).figure.axes[0]  # 1/16, 3/16, 9/16: exact to 4 decimals
    assert ax.get_title() == "4x4 kernel" and {t.get_text() for t in ax.texts} == {"0.0625", "0.1875", "0.5625"}
    ax = W.bilinear_view(3, 5, torch.rand(3, 8, 8)).figure.axes[0]  # 1/9, 2/9, ...: rounded to 2
    assert ax.get_title() == "5x5 kernel (rounded)" and "0.11" in {t.get_text() for t in ax.texts}
    assert W.bilinear_view(2, 3, torch.rand(3, 8, 8)).figure.axes[0].get_title() == "3x3 kernel"  # 1/4, 1/2, 1
    assert viz.plot_kernel(8).axes[0].get_title() == "8x8 kernel: heat map (rounded)"  # 0.765625 shown as 0.77
    assert viz.plot_kernel(3).axes[0].get_title() == "3x3 kernel: heat map"


def test_checkerboard_view_numbers():
    for k, s, layers, method in [
        (3, 2, 2, "transposed"),
        (4, 2, 3, "transposed"),
        (3, 2, 2, "resize"),
        (5, 3, 1, "transposed"),
    ]:
        view = W.checkerboard_view(k, s, layers, method)
        assert view.numbers["spread_one"] == pytest.approx(spread(checkerboard(k, s, 1, 4, method))[2])
        assert view.numbers["spread_many"] == pytest.approx(spread(checkerboard(k, s, layers, 2, method))[2])
        flat = method == "resize" or k % s == 0
        assert view.numbers["even"] == flat
        assert (view.numbers["spread_one"] < 1e-6) == flat
        assert ("a checkerboard" in view.text) != flat
    # kernel 3, stride 2: 1 or 2 taps per axis, so after one layer the values are 4:2:1 (spread (4-1)/2.25)
    assert W.checkerboard_view(3, 2, 1).numbers["spread_one"] == pytest.approx(3 / 2.25)
    one, many = W.checkerboard_view(3, 2, 3).figure.axes[1:3]  # maxima 1.78 and 2.19, on one grey scale
    assert one.images[0].get_clim() == many.images[0].get_clim()


# --------------------------------------------------------------------------------------
# Wiring: build the explorers, move their controls, check what they show
# --------------------------------------------------------------------------------------


def test_transposed_conv_explorer_redraws_when_sliders_move():
    e = W.transposed_conv_explorer()
    assert isinstance(e, widgets.VBox)
    assert set(e.controls) == {"size", "kernel_size", "stride", "padding", "output_padding", "dilation", "step"}
    assert e.view.numbers["output_size"] == 3 and e.png is not None
    assert "= 3" in e.info.value
    first_png, updates = e.png, e.updates

    e.controls["stride"].value = 2  # as a user moving the slider would
    assert e.updates == updates + 1
    assert e.view.numbers["output_size"] == _torch_output_size(2, 2, 2, 0, 0, 1) == 4
    assert "(2 - 1) x 2" in e.info.value and e.png != first_png

    e.controls["output_padding"].value = 2  # not allowed at stride 2: the rule, as text, no figure
    assert not e.view.ok and e.png is None
    assert "Impossible setting" in e.info.value and "output_padding" in e.info.value
    assert "Traceback" not in e.info.value

    e.controls["output_padding"].value = 1
    assert e.view.ok and e.view.numbers["output_size"] == _torch_output_size(2, 2, 2, 0, 1, 1) == 5


def test_transposed_conv_explorer_step_follows_input_size():
    e = W.transposed_conv_explorer()
    e.controls["size"].value = 3
    assert e.controls["step"].max == 9 and e.controls["step"].value == 9
    assert e.view.numbers["steps"] == 9 and e.view.numbers["step"] == 9
    before = e.png
    e.controls["step"].value = 2
    assert "step 2/9: input pixel (0, 1)" in e.view.text and e.png != before
    e.controls["size"].value = 2
    assert e.controls["step"].max == 4 and e.view.numbers["step"] == 4


def test_bilinear_explorer_factor_sets_the_matching_kernel_in_one_redraw():
    e = W.bilinear_explorer(photo_size=16)
    assert e.view.numbers["output_size"] == (32, 32)
    updates = e.updates
    e.controls["factor"].value = 3
    assert e.controls["kernel_size"].value == 5
    assert e.updates == updates + 1  # factor and kernel_size changed, drawn once
    assert e.view.numbers["output_size"] == (48, 48) and e.view.numbers["even"]
    png = e.png
    e.controls["kernel_size"].value = 4
    assert not e.view.numbers["even"] and "stripes" in e.info.value and e.png != png
    impossible = W.bilinear_view(1, 2)  # factor 1 with an even kernel: shown as a sentence, never raised
    assert not impossible.ok and "Impossible setting" in impossible.text


def test_every_setting_the_bilinear_explorer_offers_can_be_drawn():
    e = W.bilinear_explorer(photo_size=8)
    assert e.controls["factor"].min == 2  # factor 1 takes odd kernels only (chapter 1's note says so)
    for factor in range(e.controls["factor"].min, e.controls["factor"].max + 1):
        for kernel_size in range(e.controls["kernel_size"].min, e.controls["kernel_size"].max + 1):
            view = W.bilinear_view(factor, kernel_size, photo=torch.ones(3, 4, 4))
            assert view.ok, (factor, kernel_size, view.text)


def test_checkerboard_explorer_toggle_resize_conv():
    e = W.checkerboard_explorer()
    assert isinstance(e.controls["method"], widgets.ToggleButtons)
    assert e.view.numbers["spread_one"] > 1
    png = e.png
    e.controls["method"].value = "resize"
    assert e.view.numbers["spread_one"] == pytest.approx(0) and "flat" in e.info.value and e.png != png
    e.controls["method"].value = "transposed"
    e.controls["kernel_size"].value = 4
    assert e.view.numbers["spread_one"] == pytest.approx(0)
    e.controls["layers"].value = 3
    assert e.view.numbers["size_many"] == (16, 16)


def test_explorer_set_rejects_unknown_control():
    e = W.checkerboard_explorer()
    with pytest.raises(KeyError, match="kernel_size"):
        e.set(kernel=3)


def test_refresh_pauses_the_garbage_collector_and_restores_it():
    """Redraws run with the cyclic collector paused (no full collection mid-update) and leave it as found."""
    import gc

    seen = []

    def view(k: int):
        seen.append(gc.isenabled())
        if k == 3:
            raise RuntimeError("a bug in a view function")
        return W.View([f"k={k}"])

    e = W.Explorer({"k": widgets.IntSlider(value=1, min=0, max=5)}, view, title="test")
    assert gc.isenabled() and seen == [False]
    e.set(k=2)
    assert gc.isenabled() and seen == [False, False] and e.view.lines == ["k=2"]
    with pytest.raises(RuntimeError, match="a bug"):
        e.set(k=3)
    assert gc.isenabled(), "re-enabled even when the view function fails"
    gc.disable()
    try:
        e.set(k=4)
        assert not gc.isenabled(), "a collector the user switched off stays off"
    finally:
        gc.enable()


class _PixelNet(nn.Module):
    """A 1x1 convolution: per-pixel class scores of the input size (and it counts its calls)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.conv(x)


def test_render_png_is_a_png():
    png = W.render_png(W.checkerboard_view().figure)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------
# The figure functions of fcnlib.viz.upsampling (chapters 1 and 2): they draw the pure results
# --------------------------------------------------------------------------------------


@pytest.fixture
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _image(ax):
    return torch.as_tensor(ax.images[0].get_array().data).float()


def test_plot_overlap_and_plot_scatter_draw_pytorch_values(close_figures):
    import torch.nn.functional as F

    from fcnlib import viz

    fig = viz.plot_overlap(3, 3, stride=2)
    ref = F.conv_transpose2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3), stride=2)[0, 0]
    assert torch.equal(_image(fig.axes[0]), ref)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(str(int(v)) for v in ref.flatten())

    X = K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    fig = viz.plot_scatter(X, K)
    assert len(fig.axes) == 3
    full = F.conv_transpose2d(X[None, None], K[None, None])[0, 0]
    assert torch.equal(_image(fig.axes[2]), full)
    fig = viz.plot_scatter(X, K, step=1)  # only pixel (0, 0) = 0 so far: all zeros
    assert torch.equal(_image(fig.axes[2]), torch.zeros(3, 3))
    fig = viz.plot_scatter_steps(X, K)
    assert len(fig.axes) == 4 and torch.equal(_image(fig.axes[-1]), full)
    from matplotlib.collections import PatchCollection

    fig = viz.plot_scatter(X, K, step=2)  # pixel (0, 1) writes rows 0-1, columns 1-2 of the canvas: outlined
    (outlines,) = [c for c in fig.axes[2].collections if isinstance(c, PatchCollection)]
    assert fig.axes[2].get_title() == "step 2/4: pixel (0, 1) adds 1 x kernel to the red cells"  # X[0, 1] = 1
    assert sorted(tuple(p.vertices.min(0) + 0.5) for p in outlines.get_paths()) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    # padding: the canvas is drawn whole, with the kept part boxed
    fig = viz.plot_scatter(torch.ones(3, 3), torch.ones(3, 3), stride=2, padding=1)
    assert _image(fig.axes[2]).shape == (7, 7) and "5x5 output kept" in fig.axes[2].texts[-1].get_text()


def test_plot_kernel_profile_and_conv_matrix(close_figures):
    from fcnlib import bilinear_kernel, viz
    from fcnlib.upsampling import conv_matrix

    fig = viz.plot_kernel(4)
    assert len(fig.axes) == 2 and torch.allclose(_image(fig.axes[0]), bilinear_kernel(1, 1, 4)[0, 0])
    fig = viz.plot_kernel(bilinear_kernel(3, 3, 6), surface=False)
    assert len(fig.axes) == 1 and _image(fig.axes[0]).shape == (6, 6)
    with pytest.raises(ValueError, match="kernel must be"):
        viz.plot_kernel(torch.ones(2, 2, 2))

    fig = viz.plot_kernel_profile((4, 5))
    for ax, k in zip(fig.axes, (4, 5)):
        f = (k + 1) // 2
        center = f - 1 if k % 2 else f - 0.5
        stems = ax.containers[0].markerline.get_ydata()
        assert stems == pytest.approx([1 - abs(i - center) / f for i in range(k)])  # the tent, by hand

    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    fig = viz.plot_conv_matrix((3, 3), K)
    assert torch.equal(_image(fig.axes[0]), conv_matrix((3, 3), K))
    assert torch.equal(_image(fig.axes[1]), conv_matrix((3, 3), K).T)


def test_side_by_side_and_resize_vs_transposed(close_figures):
    from fcnlib import viz

    img = torch.rand(3, 8, 10)
    fig = viz.show_images_side_by_side([img, img.repeat_interleave(2, 1).repeat_interleave(2, 2)], ["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["a 8x10", "b 16x20"]
    assert torch.allclose(torch.as_tensor(fig.axes[0].images[0].get_array()), img.permute(1, 2, 0))
    dark = torch.full((1, 4, 4), 0.25)  # grey images share one scale, so a dark one stays dark
    fig = viz.show_images_side_by_side([dark, dark.clone().fill_(1.0)])
    assert [ax.images[0].get_clim() for ax in fig.axes] == [(0, 1), (0, 1)]
    with pytest.raises(ValueError, match="titles"):
        viz.show_images_side_by_side([img], ["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        viz.show_images_side_by_side([])

    fig = viz.plot_resize_vs_transposed(3, 2, layers=(1, 2))
    assert len(fig.axes) == 5 and fig.axes[4].get_ylabel().startswith("value")  # four panels and a colour bar
    resize_row = [fig.axes[2], fig.axes[3]]  # axes are stored row by row
    for ax in resize_row:
        assert torch.allclose(_image(ax), torch.ones_like(_image(ax)))
    assert _image(fig.axes[0]).std() > 0.1  # the transposed row shows the checkerboard
    top = max(float(_image(ax).max()) for ax in fig.axes[:4])  # one grey scale: 0 to just above the largest value
    assert all(ax.images[0].get_clim() == pytest.approx((0, top * 1.05)) for ax in fig.axes[:4])


# --------------------------------------------------------------------------------------
# Impossible settings: a View with a plain message, never an exception (issue 15, section 5)
# --------------------------------------------------------------------------------------

IMPOSSIBLE = [
    (W.bilinear_view, dict(factor=0, kernel_size=4), "factor"),
    (W.bilinear_view, dict(factor=-1, kernel_size=4), "factor"),
    (W.bilinear_view, dict(factor=2, kernel_size=0), "kernel_size"),
    (W.bilinear_view, dict(factor=2.5, kernel_size=4), "factor"),
    (W.bilinear_view, dict(factor="2", kernel_size=4), "factor"),
    (W.bilinear_view, dict(factor=100, kernel_size=200), "side"),
    (W.transposed_conv_view, dict(size=0), "size"),
    (W.transposed_conv_view, dict(size=-2), "size"),
    (W.transposed_conv_view, dict(kernel_size=0), "kernel_size"),
    (W.transposed_conv_view, dict(stride=0), "stride"),
    (W.transposed_conv_view, dict(dilation=0), "dilation"),
    (W.transposed_conv_view, dict(padding=-1), "padding"),
    (W.transposed_conv_view, dict(output_padding=-1), "output_padding"),
    (W.transposed_conv_view, dict(size=2.5), "size"),
    (W.transposed_conv_view, dict(size=None), "size"),
    (W.transposed_conv_view, dict(step="a"), "step"),
    (W.transposed_conv_view, dict(size=40), "input size"),
    (W.checkerboard_view, dict(kernel_size=0), "kernel_size"),
    (W.checkerboard_view, dict(kernel_size=-3), "kernel_size"),
    (W.checkerboard_view, dict(stride=0), "stride"),
    (W.checkerboard_view, dict(layers=0), "layers"),
    (W.checkerboard_view, dict(layers=1.5), "layers"),
    (W.checkerboard_view, dict(method="bilinear"), "method"),
    (W.checkerboard_view, dict(stride=4, layers=8), "side"),
]


@pytest.mark.parametrize("view_function, setting, named", IMPOSSIBLE, ids=[str(s) for _, s, _ in IMPOSSIBLE])
def test_view_functions_answer_impossible_settings_with_a_message(view_function, setting, named):
    view = view_function(**setting)  # never raises
    assert not view.ok and view.figure is None
    assert view.text.startswith("Impossible setting:") and named in view.text, view.text
    assert "Traceback" not in view.text and "invalid literal" not in view.text
    assert all(view.numbers[k] == v for k, v in setting.items())  # the setting, for the curious


def test_view_numbers_hold_the_setting_defaults_included_and_unknown_names_become_a_message():
    view = W.checkerboard_view(4)
    assert view.ok and (view.numbers["kernel_size"], view.numbers["stride"], view.numbers["layers"]) == (4, 2, 2)
    assert view.numbers["method"] == "transposed" and view.numbers["spread_one"] == pytest.approx(0)
    assert "photo" not in W.bilinear_view(2, 4, torch.rand(3, 8, 8)).numbers  # tensors are left out
    view = W.checkerboard_view(kernel=3)  # a name the view does not take: a message, not an exception
    assert not view.ok and "kernel" in view.text and view.figure is None


def test_explorer_shows_a_view_functions_value_error_as_a_message():
    def view(k: int):
        if k == 0:
            raise ValueError("k must be positive")
        return W.View([f"k={k}"])

    e = W.Explorer({"k": widgets.IntSlider(value=1, min=0, max=3)}, view)
    e.set(k=0)
    assert not e.view.ok and e.view.text == "Impossible setting: k must be positive" and e.png is None


# --------------------------------------------------------------------------------------
# Stored outputs: the live widget plus the current figure as PNG for static viewers (issue 13, section 4)
# --------------------------------------------------------------------------------------


def test_explorer_mimebundle_carries_the_widget_its_png_and_a_sentence():
    import base64

    e = W.checkerboard_explorer()
    bundle = e._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == e.png and e.png.startswith(b"\x89PNG")
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == e.model_id
    text = bundle["text/plain"]
    assert not text.startswith("Explorer(children") and "Explorer(" not in text
    assert text.startswith("Checkerboard artifacts explorer: transposed conv, kernel 3, stride 2")
    e.set(kernel_size=4)  # the bundle follows the current setting
    assert base64.b64decode(e._repr_mimebundle_()["image/png"]) == e.png
    t = W.transposed_conv_explorer()
    t.set(stride=2, output_padding=2)  # impossible: no figure, the rule in the text
    bundle = t._repr_mimebundle_()
    assert "image/png" not in bundle and "Impossible setting" in bundle["text/plain"]
    e.close()  # a closed widget has no live view left: the picture and the sentence remain
    bundle = W.Explorer._repr_mimebundle_(e)
    assert "application/vnd.jupyter.widget-view+json" not in bundle and "image/png" in bundle


def test_displaying_an_explorer_publishes_the_widget_then_its_sentence_and_picture(monkeypatch):
    """What IPython sends to the notebook (and nbclient stores) when an explorer ends a cell: three outputs."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    e, other = W.bilinear_explorer(photo_size=8), W.checkerboard_explorer()  # built first: no shell to draw into
    shell = InteractiveShell.instance()
    published = []
    updates = []
    monkeypatch.setattr(
        shell.display_pub,
        "publish",
        lambda data, metadata=None, **kw: (updates if kw.get("update") else published).append(data),
    )
    try:
        display(e)
        data, _ = shell.display_formatter.format(other)  # a cell's result: published by the explorer itself
        first_png, shown = e.png, list(published)  # (outside a kernel the Output widget captures nothing)
        e.set(factor=3)  # a redraw updates the static copy in place (its display id), for the saved notebook
    finally:
        InteractiveShell.clear_instance()
    assert len(shown) == 6 and data == {}
    widget, sentence, picture = shown[:3]
    assert set(widget) == {"text/plain", "application/vnd.jupyter.widget-view+json"}
    assert sentence["text/plain"].startswith("Bilinear kernel explorer: factor 2: 8x8 -> 16x16")
    assert set(picture) == {"image/png", "text/plain"} and base64.b64decode(picture["image/png"]) == first_png
    assert updates[-2:] == [{"text/plain": e.sentence()}, {**picture, "image/png": base64.b64encode(e.png).decode()}]
    assert updates[-2]["text/plain"].startswith("Bilinear kernel explorer: factor 3: 8x8 -> 24x24")


# What JupyterLab 4 shows of an output: the first mimetype it can render, in its rank order (rendermime's
# standard factories; the widget renderer, rank 0, is not "safe", so untrusted outputs skip it).
JUPYTERLAB_RANKS = ["application/vnd.jupyter.widget-view+json", "text/html", "image/png", "text/plain"]


def _shown(outputs, trusted, widget_models):
    """``[(mimetype, what is seen)]`` per output: a widget whose model is gone shows JupyterLab's error."""
    seen = []
    for data in outputs:
        ranks = JUPYTERLAB_RANKS if trusted else JUPYTERLAB_RANKS[1:]
        mime = next(m for m in ranks if m in data)
        if mime.endswith("widget-view+json") and data[mime]["model_id"] not in widget_models:
            seen.append((mime, "Error displaying widget: model not found"))
        else:
            seen.append((mime, data[mime] if mime.startswith("text/") else "picture"))
    return seen


def test_a_saved_and_reopened_notebook_shows_the_picture_and_the_sentence():
    """jupyterlab#4127: a notebook run and saved in JupyterLab 4 is trusted; reopened, its widget output has no
    model. The picture and its sentence are in outputs of their own, so they show in every case, once."""
    e = W.transposed_conv_explorer()
    outputs = W.Explorer.static_outputs(e)
    for trusted in (True, False):  # reopened after saving (trusted), or opened from a download (not trusted)
        seen = _shown(outputs, trusted, widget_models=set())
        assert [s for s in seen if s[1] == "picture"] == [("image/png", "picture")], seen
        assert ("text/plain", e.sentence()) in seen, seen
    assert _shown(outputs, True, {e.model_id})[0] == ("application/vnd.jupyter.widget-view+json", "picture")
    assert _shown([e._repr_mimebundle_()], True, set()) == [
        ("application/vnd.jupyter.widget-view+json", "Error displaying widget: model not found")
    ]  # what one bundle gave: no picture left


def test_live_style_hides_the_static_copy_only_after_a_live_explorer():
    assert "fcnlib-explorer" in W.LIVE_STYLE and "display: none" in W.LIVE_STYLE
    e = W.checkerboard_explorer()
    assert e.children[-1].value == W.LIVE_STYLE  # rendered with the widget, so gone when the widget is
    e.close()
    assert len(W.Explorer.static_outputs(e)) == 1  # closed: one bundle, picture included
