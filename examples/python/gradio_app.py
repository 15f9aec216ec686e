#!/usr/bin/env python3
"""A Gradio app: a photo or the browser's webcam, stylized with any installed model.

    python examples/python/gradio_app.py            # http://127.0.0.1:7860/
    python examples/python/gradio_app.py --port 8000

Needs gradio (pip install gradio). Served on 127.0.0.1 only; nothing is sent anywhere else (Gradio's
analytics are turned off below).
"""
import argparse
import os
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

import stylize  # noqa: E402

_models = {}
_lock = threading.Lock()


def model_named(name: str) -> stylize.Model:
    """Each model loaded once and kept (Gradio calls from several threads)."""
    with _lock:
        if name not in _models:
            _models[name] = stylize.Model(name)
        return _models[name]


def stylize_frame(frame, name: str, strength: float, preserve_color: bool):
    """The app's one function: a numpy RGB frame in, the stylized frame out (None passes through)."""
    if frame is None:
        return None
    try:
        return model_named(name)(frame[..., :3], strength=strength, preserve_color=preserve_color)
    except stylize.Error as e:
        raise gr.Error(str(e))


def build() -> gr.Blocks:
    names = [m["name"] for m in stylize.models() if not m["broken"]]
    default = "mosaic-lite" if "mosaic-lite" in names else names[0]
    with gr.Blocks(title="stylize") as app:
        gr.Markdown("# stylize\nA painting's look on a photo or your webcam.")
        with gr.Row():
            name = gr.Dropdown(names, value=default, label="style")
            strength = gr.Slider(0, 1, value=1, step=0.05, label="strength")
            keep = gr.Checkbox(label="keep the photo's colours")
        controls = [name, strength, keep]
        with gr.Tab("photo"):
            with gr.Row():
                photo = gr.Image(type="numpy", label="photo", sources=["upload", "clipboard"])
                result = gr.Image(type="numpy", label="stylized")
            gr.Button("stylize").click(stylize_frame, [photo, *controls], result)
        with gr.Tab("webcam"):
            with gr.Row():
                cam = gr.Image(type="numpy", sources=["webcam"], streaming=True, label="webcam")
                live = gr.Image(type="numpy", label="stylized")
            cam.stream(stylize_frame, [cam, *controls], live, stream_every=0.1)
    return app


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=7860)
    a = ap.parse_args()
    build().launch(server_name="127.0.0.1", server_port=a.port)


if __name__ == "__main__":
    main()
