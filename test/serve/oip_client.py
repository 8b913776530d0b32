#!/usr/bin/env python3
"""An Open Inference Protocol v2 REST client written from the spec, not from Graft's code.

Spec: KServe open-inference-protocol, specification/protocol/inference_rest.md; binary tensor
extension: Triton's docs/protocol/extension_binary_data.md. Only the Python standard library.

Usage: oip_client.py BASE_URL MODEL IMAGE.jpg
Checks every endpoint's status and JSON shape, runs inference three ways (JSON BYTES base64,
binary BYTES tail, binary FP32 output) and prints one JSON object with the probabilities, so the
caller can compare them with its own. Exits 1 with a message at the first violation.
"""
import base64
import json
import struct
import sys
import urllib.error
import urllib.request

BASE, MODEL, IMAGE = sys.argv[1], sys.argv[2], sys.argv[3]


def fail(msg):
    print("PROTOCOL VIOLATION: " + msg, file=sys.stderr)
    sys.exit(1)


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(path, want=200):
    status, _, body = call("GET", path)
    if status != want:
        fail("GET %s: status %d, expected %d (%r)" % (path, status, want, body[:200]))
    return json.loads(body)


# Server metadata: name, version, extensions.
meta = get_json("/v2")
for k, t in (("name", str), ("version", str), ("extensions", list)):
    if not isinstance(meta.get(k), t):
        fail("/v2: %s missing or not %s" % (k, t.__name__))
if "binary_tensor_data" not in meta["extensions"]:
    fail("/v2: binary_tensor_data extension not listed")

# Health: 200 means true.
get_json("/v2/health/live")
get_json("/v2/health/ready")
ready = get_json("/v2/models/%s/ready" % MODEL)
if ready.get("name") != MODEL or ready.get("ready") is not True:
    fail("model ready response %r" % ready)

# Model metadata: name, versions, platform, inputs/outputs as {name, datatype, shape}; -1 batch.
mm = get_json("/v2/models/%s" % MODEL)
if mm.get("name") != MODEL or not isinstance(mm.get("platform"), str):
    fail("model metadata %r" % mm)
for t in mm["inputs"] + mm["outputs"]:
    if not (isinstance(t.get("name"), str) and isinstance(t.get("datatype"), str) and isinstance(t.get("shape"), list)):
        fail("metadata tensor %r" % t)
    if t["shape"][0] != -1:
        fail("metadata tensor %s: batch dimension is not -1" % t["name"])
version = mm["versions"][0]
get_json("/v2/models/%s/versions/%s" % (MODEL, version))
image_input = [t for t in mm["inputs"] if t["datatype"] == "BYTES"][0]["name"]
output = mm["outputs"][0]["name"]
classes = mm["outputs"][0]["shape"][1]

with open(IMAGE, "rb") as f:
    jpeg = f.read()

# 1. JSON inference, BYTES element as base64, id echoed.
req = {"id": "py-1", "inputs": [{"name": image_input, "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(jpeg).decode("ascii")]}]}
status, headers, body = call("POST", "/v2/models/%s/versions/%s/infer" % (MODEL, version), json.dumps(req).encode(), {"Content-Type": "application/json"})
if status != 200:
    fail("JSON infer: status %d %r" % (status, body[:300]))
res = json.loads(body)
if res.get("id") != "py-1" or res.get("model_name") != MODEL:
    fail("JSON infer: id/model_name not echoed: %r" % {k: res.get(k) for k in ("id", "model_name")})
out = res["outputs"][0]
if out["name"] != output or out["datatype"] != "FP32" or out["shape"] != [1, classes] or len(out["data"]) != classes:
    fail("JSON infer output %r" % {k: out.get(k) for k in ("name", "datatype", "shape")})
probs_json = out["data"]

# 2. Binary extension: the JPEG as a BYTES tail (4-byte little-endian length + bytes), output binary too.
tail = struct.pack("<I", len(jpeg)) + jpeg
head = json.dumps({"inputs": [{"name": image_input, "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": len(tail)}}],
                   "outputs": [{"name": output, "parameters": {"binary_data": True}}]}).encode()
status, headers, body = call("POST", "/v2/models/%s/infer" % MODEL, head + tail,
                             {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))})
if status != 200:
    fail("binary infer: status %d %r" % (status, body[:300]))
hl = {k.lower(): v for k, v in headers.items()}.get("inference-header-content-length")
if hl is None:
    fail("binary infer: no Inference-Header-Content-Length in the response")
rhead = json.loads(body[: int(hl)])
rout = rhead["outputs"][0]
size = rout["parameters"]["binary_data_size"]
raw = body[int(hl): int(hl) + size]
if size != 4 * classes or len(raw) != size or "data" in rout:
    fail("binary infer: binary_data_size %r for %d classes" % (size, classes))
probs_bin = list(struct.unpack("<%df" % classes, raw))

# 3. Errors: 4xx with {"error": string}.
for path, payload in (("/v2/models/%s/infer" % MODEL, b"{not json"), ("/v2/models/no-such-model/infer", b"{}")):
    status, _, body = call("POST", path, payload, {"Content-Type": "application/json"})
    err = json.loads(body)
    if not (400 <= status < 500) or not isinstance(err.get("error"), str):
        fail("error response for %s: %d %r" % (path, status, body[:200]))
status, _, body = call("GET", "/v2/models/no-such-model")
if status != 404 or not isinstance(json.loads(body).get("error"), str):
    fail("unknown model metadata: %d" % status)

print(json.dumps({"json": probs_json, "binary": probs_bin, "version": version}))
