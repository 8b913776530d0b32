"""PyTorch peer for bench/ort-train.ts: Adam training steps of MobileNetV2 (torchvision, random
weights), either the top after Keras' block_13 (torchvision features[15:] = block_14..16 + Conv_1)
on cached [n, 160, 7, 7] activations, or the whole network at 224 px.

Usage: /usr/bin/python3 bench/peers/torch_top_train.py --workload top|full --batch 16 --steps 6 --layout contiguous|channels_last
Prints one JSON line: {"imgPerSec", "maxRssMiB", "stepSec"}.
"""
import argparse
import json
import os
import resource
import time

import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument('--arch', choices=['mobilenet_v2', 'resnet50'], default='mobilenet_v2')
p.add_argument('--workload', choices=['top', 'full'], default='top')
p.add_argument('--batch', type=int, default=16)
p.add_argument('--steps', type=int, default=6)
p.add_argument('--layout', choices=['contiguous', 'channels_last'], default='contiguous')
p.add_argument('--warmup', type=int, default=1)
p.add_argument('--threads', type=int, default=len(os.sched_getaffinity(0)))
a = p.parse_args()
# Debian's torch 1.13 starts with ONE intra-op thread on this machine (torch.get_num_threads() == 1):
# without this line the peer used half the cores that onnxruntime gets.
torch.set_num_threads(a.threads)

if a.arch == 'resnet50':
    net = torchvision.models.resnet50(num_classes=5)
    if a.workload == 'top':
        # layer4 is Keras' conv5 block; it trains on cached layer3 (conv4) outputs.
        model = torch.nn.Sequential(net.layer4, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(2048, 5))
        x = torch.rand(a.batch, 1024, 14, 14)
    else:
        model = net
        x = torch.rand(a.batch, 3, 224, 224)
else:
    net = torchvision.models.mobilenet_v2(num_classes=5)
if a.arch == 'resnet50':
    pass
elif a.workload == 'top':
    # features[k + 1] is Keras' block_k; features[18] is Conv_1.
    model = torch.nn.Sequential(net.features[15:], torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(1280, 5))
    x = torch.rand(a.batch, 160, 7, 7)
else:
    model = net
    x = torch.rand(a.batch, 3, 224, 224)
fmt = torch.channels_last if a.layout == 'channels_last' else torch.contiguous_format
model = model.to(memory_format=fmt).train()
x = x.contiguous(memory_format=fmt)
y = torch.arange(a.batch) % 5
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()


def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


for _ in range(a.warmup):
    step()
times = []
for _ in range(a.steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
med = sorted(times)[len(times) // 2]
print(json.dumps({'threads': torch.get_num_threads(), 'imgPerSec': a.batch / med, 'maxRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'stepSec': times}))
