#!/usr/bin/python3
"""PyTorch peer for `npm run bench:embed`: pooled-feature forward passes, random weights.

Two ways to run it (always with Debian's interpreter, which has python3-torch 1.13):

  Standalone: times every (model, memory format) and prints one JSON object.
    /usr/bin/python3 bench/peers/torch_embed.py --models mobilenet_v2 --repeats 10

  Server (--serve): bench/embed.ts drives it over stdin/stdout, one JSON object per line,
  so PyTorch samples can be interleaved with onnxruntime and TF.js samples in one run and
  machine noise hits every engine alike.
    -> {"cmd": "load", "model": "resnet50", "size": 224, "batch": 16}
    <- {"ok": true, "load_s": 1.2}
    -> {"cmd": "run", "model": "resnet50", "layout": "channels_last", "batches": 2}
    <- {"ok": true, "seconds": 2.05}
    -> {"cmd": "quit"}

No pretrained weights exist on these machines; speed does not depend on the weight values.
"""
import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time

import torch
import torchvision

# (builder, default input size). Inception's auxiliary head only runs in training mode, but
# dropping it keeps the module identical to Keras' InceptionV3 (which has none).
ARCHS = {
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), 224),
    "resnet50": (lambda: torchvision.models.resnet50(weights=None), 224),
    "inception_v3": (
        lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False),
        299,
    ),
}
LAYOUTS = ("contiguous", "channels_last")


def build(name):
    """A pooled-feature extractor: the architecture with its classifier replaced by Identity."""
    if name not in ARCHS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(ARCHS)}")
    model = ARCHS[name][0]()
    # torchvision's MobileNetV2 ends in `classifier` (Dropout + Linear); ResNet/Inception in `fc`.
    if hasattr(model, "classifier"):
        model.classifier = torch.nn.Identity()
    else:
        model.fc = torch.nn.Identity()
    return model.eval()


class Bench:
    """One model in both memory formats plus fixed random inputs for each."""

    def __init__(self, name, size, batch):
        t0 = time.perf_counter()
        base = build(name)
        x = torch.rand(batch, 3, size, size)
        self.batch = batch
        self.models = {
            "contiguous": base,
            "channels_last": copy.deepcopy(base).to(memory_format=torch.channels_last),
        }
        self.inputs = {
            "contiguous": x.contiguous(),
            "channels_last": x.contiguous(memory_format=torch.channels_last),
        }
        self.load_s = time.perf_counter() - t0

    def run(self, layout, batches=1):
        """Seconds for `batches` forward passes of one batch each."""
        if layout not in self.models:
            raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
        model, x = self.models[layout], self.inputs[layout]
        with torch.inference_mode():
            t0 = time.perf_counter()
            for _ in range(batches):
                out = model(x)
            dt = time.perf_counter() - t0
        if out.shape[0] != self.batch:
            raise RuntimeError(f"unexpected output shape {tuple(out.shape)}")
        return dt


def info(threads):
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "threads": threads,
        "mkldnn": torch.backends.mkldnn.is_available(),
    }


def serve(threads):
    """Line protocol for bench/embed.ts; every reply is one JSON line, errors included."""
    benches = {}
    out = sys.stdout
    out.write(json.dumps({"ok": True, "ready": True, **info(threads)}) + "\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "quit":
                break
            if cmd == "load":
                name = msg["model"]
                size = int(msg.get("size", ARCHS.get(name, (None, 224))[1]))
                b = Bench(name, size, int(msg.get("batch", 16)))
                benches[name] = b
                reply = {"ok": True, "load_s": b.load_s}
            elif cmd == "run":
                b = benches[msg["model"]]
                reply = {"ok": True, "seconds": b.run(msg["layout"], int(msg.get("batches", 1)))}
            elif cmd == "unload":
                benches.pop(msg["model"], None)
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": f"unknown cmd {cmd!r}; valid: load, run, unload, quit"}
        except Exception as e:  # the driver decides what to do; the server keeps running
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def standalone(args):
    results = []
    for name in args.models.split(","):
        size = ARCHS[name][1] if name in ARCHS else 224
        b = Bench(name, size, args.batch)
        for layout in LAYOUTS:
            for _ in range(args.warmup):
                b.run(layout)
        # Alternate the two layouts so slow drifts in machine load hit both.
        samples = {layout: [] for layout in LAYOUTS}
        for _ in range(args.repeats):
            for layout in LAYOUTS:
                samples[layout].append(args.batch / b.run(layout))
        for layout in LAYOUTS:
            s = samples[layout]
            results.append({
                "model": name, "size": size, "layout": layout, "batch": args.batch,
                "median_ips": statistics.median(s), "min_ips": min(s), "max_ips": max(s),
                "samples_ips": s,
            })
        del b
    print(json.dumps({**info(args.threads), "pid": os.getpid(), "results": results}, indent=2))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(ARCHS))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--serve", action="store_true", help="line protocol on stdin/stdout")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.serve:
        serve(args.threads)
    else:
        standalone(args)


if __name__ == "__main__":
    main()
