#!/usr/bin/python3
"""PyTorch peer for `npm run bench` (bench/run.ts): the end-to-end workloads a PyTorch user
would write, on the same image folders Graft reads. Run with Debian's interpreter (python3-torch
1.13, torchvision 0.14). Every subcommand prints one JSON object on stdout.

  embed    ImageFolder + DataLoader -> pooled features under inference_mode, timed per pass.
           torch_e2e.py embed --data DIR --model mobilenet_v2 --layout channels_last --passes 3
  train    The standard transfer recipe: backbone frozen with requires_grad=False and run every
           epoch, a new Linear head (or the top block(s) + head with --mode finetune), Adam.
           torch_e2e.py train --data DIR --model resnet50 --mode head --epochs 10 --timed-epochs 2
  save     Writes a 10-class model (state_dict) for `predict`.
  predict  Cold process: import torch, build, load the state_dict, classify one image.
           torch_e2e.py predict --model-file M.pt --classes 10 IMAGE

No pretrained weights exist on these machines (torchvision has none offline); speed does not
depend on the weight values, so models are randomly initialised.
"""
import argparse
import json
import sys
import time

T_START = time.perf_counter()

import torch  # noqa: E402  (timed: part of a cold start)
import torchvision  # noqa: E402
from torchvision import datasets, transforms  # noqa: E402

T_IMPORT = time.perf_counter() - T_START


def build(name, classes=None):
    """torchvision architecture; classifier replaced by Identity (features) or a new Linear head."""
    if name == "mobilenet_v2":
        m = torchvision.models.mobilenet_v2(weights=None)
        d = m.classifier[1].in_features
        m.classifier = torch.nn.Identity() if classes is None else torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(d, classes))
    elif name == "resnet50":
        m = torchvision.models.resnet50(weights=None)
        d = m.fc.in_features
        m.fc = torch.nn.Identity() if classes is None else torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(d, classes))
    else:
        raise SystemExit(f"unknown model {name!r}; valid: mobilenet_v2, resnet50")
    return m


def top_modules(model, name, blocks):
    """The modules Graft's fineTuneBlocks unfreezes, by torchvision name.
    MobileNetV2: features[18] is Keras' Conv_1 ('top'), features[17] is block_16, ...
    ResNet50: layer4 is Keras' conv5, layer3 conv4, ..."""
    if name == "mobilenet_v2":
        return [model.features[18 - i] for i in range(blocks)]
    return [getattr(model, f"layer{4 - i}") for i in range(blocks)]


def tfm(size=224):
    # Graft decodes with a bilinear resize of the shorter side + centre crop: the same here.
    return transforms.Compose([
        transforms.Resize(size),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])


def loader(ds, batch, workers, shuffle=False, seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=shuffle, num_workers=workers,
                                       generator=g, persistent_workers=False)


def to_layout(x, layout):
    return x.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else x


def cmd_embed(a):
    t0 = time.perf_counter()
    model = build(a.model).eval()
    if a.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    ds = datasets.ImageFolder(a.data, transform=tfm())
    if a.limit and a.limit < len(ds):
        # An evenly spaced subset (every class), when the driver samples throughput on fewer images.
        ds = torch.utils.data.Subset(ds, [i * len(ds) // a.limit for i in range(a.limit)])
    setup = time.perf_counter() - t0
    passes = []
    for _ in range(a.passes):
        t = time.perf_counter()
        n = 0
        with torch.inference_mode():
            for x, _y in loader(ds, a.batch, a.workers):
                out = model(to_layout(x, a.layout))
                n += out.shape[0]
        passes.append(time.perf_counter() - t)
    return {"setup_s": setup, "pass_s": passes, "images": n, "dims": int(out.shape[1])}


def split(n, seed, val_frac=0.2):
    g = torch.Generator()
    g.manual_seed(seed)
    perm = torch.randperm(n, generator=g).tolist()
    k = int(round(n * val_frac))
    return perm[k:], perm[:k]


def cmd_train(a):
    t0 = time.perf_counter()
    torch.manual_seed(a.seed)
    ds = datasets.ImageFolder(a.data, transform=tfm())
    model = build(a.model, classes=len(ds.classes))
    head = model.classifier if a.model == "mobilenet_v2" else model.fc
    for p in model.parameters():
        p.requires_grad = False
    trainable = [head] + (top_modules(model, a.model, a.blocks) if a.mode == "finetune" else [])
    for m in trainable:
        for p in m.parameters():
            p.requires_grad = True
    if a.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tr, va = split(len(ds), a.seed)
    train_dl = loader(torch.utils.data.Subset(ds, tr), a.batch, a.workers, shuffle=True, seed=a.seed)
    val_dl = loader(torch.utils.data.Subset(ds, va), 64, a.workers)
    setup = time.perf_counter() - t0
    epochs = []
    timed = min(a.epochs, a.timed_epochs or a.epochs)
    for ep in range(timed):
        t = time.perf_counter()
        model.train()  # as the torchvision fine-tuning tutorial does, frozen layers included
        tot, correct, seen = 0.0, 0, 0
        for x, y in train_dl:
            opt.zero_grad(set_to_none=True)
            out = model(to_layout(x, a.layout))
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            tot += float(loss) * len(y)
            correct += int((out.argmax(1) == y).sum())
            seen += len(y)
        model.eval()
        vc, vn = 0, 0
        with torch.inference_mode():
            for x, y in val_dl:
                vc += int((model(to_layout(x, a.layout)).argmax(1) == y).sum())
                vn += len(y)
        epochs.append({"seconds": time.perf_counter() - t, "loss": tot / max(seen, 1), "acc": correct / max(seen, 1), "val_acc": vc / max(vn, 1)})
    return {"setup_s": setup, "epochs": epochs, "epochs_wanted": a.epochs, "train_images": len(tr), "val_images": len(va),
            "trainable_params": sum(p.numel() for p in params)}


def cmd_save(a):
    model = build(a.model, classes=a.classes).eval()
    torch.save(model.state_dict(), a.out)
    return {"file": a.out}


def cmd_predict(a):
    from PIL import Image
    t0 = time.perf_counter()
    model = build(a.model, classes=a.classes)
    model.load_state_dict(torch.load(a.model_file))
    model.eval()
    with torch.inference_mode():
        x = tfm()(Image.open(a.image).convert("RGB")).unsqueeze(0)
        p = torch.softmax(model(x), 1)[0]
    top = torch.topk(p, 3)
    return {"import_s": T_IMPORT, "load_and_predict_s": time.perf_counter() - t0,
            "top": [[int(i), float(v)] for v, i in zip(top.values, top.indices)]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("embed")
    t = sub.add_parser("train")
    for q in (e, t):
        q.add_argument("--data", required=True)
        q.add_argument("--model", default="mobilenet_v2")
        q.add_argument("--layout", choices=["contiguous", "channels_last"], default="contiguous")
        q.add_argument("--workers", type=int, default=1)
    e.add_argument("--batch", type=int, default=16)
    e.add_argument("--passes", type=int, default=1)
    e.add_argument("--limit", type=int, default=0, help="embed only this many images, evenly spaced")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--mode", choices=["head", "finetune"], default="head")
    t.add_argument("--blocks", type=int, default=1)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--timed-epochs", type=int, default=0, help="run only this many epochs (the rest extrapolated by the driver)")
    t.add_argument("--seed", type=int, default=42)
    s = sub.add_parser("save")
    s.add_argument("--model", default="mobilenet_v2")
    s.add_argument("--classes", type=int, default=10)
    s.add_argument("--out", required=True)
    r = sub.add_parser("predict")
    r.add_argument("--model", default="mobilenet_v2")
    r.add_argument("--classes", type=int, default=10)
    r.add_argument("--model-file", required=True)
    r.add_argument("image")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    fn = {"embed": cmd_embed, "train": cmd_train, "save": cmd_save, "predict": cmd_predict}[a.cmd]
    res = fn(a)
    info = {"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": torch.get_num_threads()}
    sys.stdout.write(json.dumps({"ok": True, **info, **res}) + "\n")


if __name__ == "__main__":
    main()
