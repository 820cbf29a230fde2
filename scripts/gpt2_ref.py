#!/usr/bin/python3
"""gpt2_ref.py: a plain-PyTorch GPT-2 language model, the reference for drrl's decoder
(model/lm.h; read by tests/model/test_lm_torch.c).

Usage: /usr/bin/python3 scripts/gpt2_ref.py DIR {learned|conv}

The model is Hugging Face's GPT2LMHeadModel written out with torch operations (no
transformers package here) on a dict of tensors with GPT2Model's state_dict names and layouts:
wte.weight (V, C), wpe.weight (P, C), h.<l>.ln_1.{weight,bias}, h.<l>.attn.c_attn.weight
(C, 3C) and .bias (3C) (Conv1D: y = x W + b, W stored (in, out); q, k, v side by side),
h.<l>.attn.c_proj.*, h.<l>.ln_2.*, h.<l>.mlp.c_fc.weight (C, F), h.<l>.mlp.c_proj.weight
(F, C), ln_f.*; pre-LN blocks, causal attention with a key padding mask, the tanh GELU
("gelu_new"), LM head tied to wte. 'conv' replaces wpe by drrl's causal depthwise
convolution (wpe.conv.weight (k, C), wpe.conv.bias (C): x = e + conv(mask * e), tap j reading
position n - k + 1 + j) and uses the exact erf GELU, so both activations are covered.

Writes, all in float64 arithmetic on float32-representable weights:
  DIR/model.h5  a drrl model file (format 'drrl-model', version 2, arch 'decoder') holding the
                weights at GPT-2's names ('.' -> '/');
  DIR/grad.h5   the same format holding d(loss)/d(weight) by autograd;
  DIR/fd.h5     the same format holding central finite differences of the loss (h = 1e-6) for
                every weight element: the independent check of the autograd gradients;
  DIR/config.json, DIR/model.safetensors  ('learned' only) the same weights as Hugging Face
                serves a GPT2LMHeadModel: every key under 'transformer.', lm_head.weight (tied:
                a copy of wte), the causal-mask buffers h.<l>.attn.bias (U8, (1, 1, P, P)) and
                h.<l>.attn.masked_bias (F32 scalar) of older checkpoints, every weight F32 (so
                the converted model equals model.h5 bit for bit: drrl-convert gpt2,
                tests/model/test_lm_torch.c);
  DIR/ref.h5    format 'drrl-lm-ref' version 1: /ids (B, N) int32, /mask (B, N) uint8
                (rows of 9, 6 and 3 real tokens, padding at the end), /targets (B, N) int32
                (the next real token, -1 where none), /logits (B, N, V) float64, /loss (1)
                float64 (mean cross-entropy over the targets).
"""
import json
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

import refutil
from bert_safetensors_ref import write_safetensors

V, P, C, H, FF, L, K = 11, 12, 8, 2, 12, 2, 3
B, N = 3, 9
LENS = (9, 6, 3)
EPS = 1e-5


def weights(g, conv):
    """the random weights, GPT-2 names and layouts, float32-representable float64."""
    w = {"wte.weight": refutil.randn(g, V, C, scale=0.5)}
    if conv:
        w["wpe.conv.weight"] = refutil.randn(g, K, C, scale=0.5)
        w["wpe.conv.bias"] = refutil.randn(g, C, scale=0.2)
    else:
        w["wpe.weight"] = refutil.randn(g, P, C, scale=0.3)
    for l in range(L):
        p = "h.%d." % l
        for ln in ("ln_1", "ln_2"):
            w[p + ln + ".weight"] = refutil.f32(1.0 + 0.2 * torch.randn(C, generator=g,
                                                                         dtype=torch.float64))
            w[p + ln + ".bias"] = refutil.randn(g, C, scale=0.1)
        w[p + "attn.c_attn.weight"] = refutil.randn(g, C, 3 * C, scale=0.4)
        w[p + "attn.c_attn.bias"] = refutil.randn(g, 3 * C, scale=0.1)
        w[p + "attn.c_proj.weight"] = refutil.randn(g, C, C, scale=0.3)
        w[p + "attn.c_proj.bias"] = refutil.randn(g, C, scale=0.1)
        w[p + "mlp.c_fc.weight"] = refutil.randn(g, C, FF, scale=0.4)
        w[p + "mlp.c_fc.bias"] = refutil.randn(g, FF, scale=0.1)
        w[p + "mlp.c_proj.weight"] = refutil.randn(g, FF, C, scale=0.3)
        w[p + "mlp.c_proj.bias"] = refutil.randn(g, C, scale=0.1)
    w["ln_f.weight"] = refutil.f32(1.0 + 0.2 * torch.randn(C, generator=g, dtype=torch.float64))
    w["ln_f.bias"] = refutil.randn(g, C, scale=0.1)
    return w


def forward(w, ids, mask, conv, heads=H, eps=EPS, tanh=None):
    """logits (B, N, V) of the GPT-2 above on weights w (names as above; the number of layers
    from w's keys, widths from the tensors), heads attention heads, layer-norm eps; conv:
    causal convolutional positions of wpe.conv.weight's width; tanh: the tanh GELU (default:
    learned positions use it, conv ones the erf GELU, as this script's two models)."""
    if tanh is None:
        tanh = not conv
    e = w["wte.weight"][ids]
    bsz, n = ids.shape
    c = e.shape[-1]
    if conv:
        k = w["wpe.conv.weight"].shape[0]
        xm = (e * mask[..., None]).transpose(1, 2)                 # (B, C, N)
        wt = w["wpe.conv.weight"].t().unsqueeze(1)                  # (C, 1, k)
        x = e + F.conv1d(F.pad(xm, (k - 1, 0)), wt, w["wpe.conv.bias"], groups=c).transpose(1, 2)
    else:
        x = e + w["wpe.weight"][:n]
    allowed = torch.tril(torch.ones(n, n, dtype=torch.bool))[None, None] & \
        (mask[:, None, None, :] > 0)                                # (B, 1, N, N)
    dh = c // heads
    layers = len({key.split(".")[1] for key in w if key.startswith("h.")})
    for l in range(layers):
        p = "h.%d." % l
        y = F.layer_norm(x, (c,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = y @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, kk, v = (t.reshape(bsz, n, heads, dh).transpose(1, 2) for t in qkv.split(c, dim=2))
        s = (q @ kk.transpose(-1, -2)) / math.sqrt(dh)
        a = torch.softmax(s.masked_fill(~allowed, -math.inf), dim=-1) @ v
        a = a.transpose(1, 2).reshape(bsz, n, c)
        x = x + a @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        z = F.layer_norm(x, (c,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = z @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        gact = F.gelu(h, approximate="tanh") if tanh else F.gelu(h)
        x = x + gact @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    zf = F.layer_norm(x, (c,), w["ln_f.weight"], w["ln_f.bias"], eps)
    return zf @ w["wte.weight"].t()


def loss_of(logits, targets):
    keep = targets >= 0
    return F.cross_entropy(logits[keep], targets[keep].long())


def write_model(path, tensors, conv):
    """a drrl model file (model/bert_io.h, version 2) holding tensors at their names."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "drrl-model"
        f.attrs["format_version"] = np.int64(2)
        for k, v in (("vocab", V), ("max_pos", P), ("type_vocab", 1), ("d_model", C),
                     ("n_heads", H), ("d_ff", FF), ("n_layers", L), ("n_classes", V)):
            f.attrs[k] = np.int64(v)
        f.attrs["ln_eps"] = np.float64(EPS)
        f.attrs["dropout"] = np.float64(0.0)
        f.attrs["attn_dropout"] = np.float64(0.0)
        f.attrs["position"] = "conv" if conv else "learned"
        if conv:
            f.attrs["conv_kernel"] = np.int64(K)
        f.attrs["arch"] = "decoder"
        f.attrs["act"] = "gelu" if conv else "gelu_tanh"
        f.attrs["vocab_sha256"] = ""
        f.attrs["data_sha256"] = ""
        f.attrs["dev_accuracy"] = np.float64(math.nan)
        f.attrs["train_steps"] = np.int64(0)
        f.create_dataset("config", data="gpt2_ref.py", dtype=h5py.string_dtype("utf-8"))
        for name, t in tensors.items():
            f.create_dataset("/" + name.replace(".", "/"),
                             data=t.detach().numpy().astype(np.float32))


def write_hf(out, w):
    """config.json and model.safetensors of a GPT2LMHeadModel holding w (see above)."""
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V,
           "n_positions": P, "n_ctx": P, "n_embd": C, "n_head": H, "n_layer": L, "n_inner": FF,
           "activation_function": "gelu_new", "layer_norm_epsilon": EPS, "resid_pdrop": 0.1,
           "embd_pdrop": 0.1, "attn_pdrop": 0.1, "scale_attn_weights": True,
           "initializer_range": 0.02, "bos_token_id": 0, "eos_token_id": 0,
           "torch_dtype": "float32"}
    with open(out + "/config.json", "w") as f:
        json.dump(cfg, f, indent=2)
    tensors = []
    for name, t in w.items():
        tensors.append(("transformer." + name, t.detach().to(torch.float32), "F32"))
        if name.endswith("ln_1.bias"):
            l = name.split(".")[1]
            tril = torch.tril(torch.ones(P, P)).to(torch.uint8).view(1, 1, P, P)
            tensors.append(("transformer.h.%s.attn.bias" % l, tril, "U8"))
            tensors.append(("transformer.h.%s.attn.masked_bias" % l,
                            torch.tensor(-1e4, dtype=torch.float32), "F32"))
    tensors.append(("lm_head.weight", w["wte.weight"].detach().to(torch.float32), "F32"))
    write_safetensors(out + "/model.safetensors", tensors)


def main(argv):
    if len(argv) != 3 or argv[2] not in ("learned", "conv"):
        sys.stderr.write("usage: gpt2_ref.py DIR {learned|conv}\n")
        return 2
    out, conv = argv[1], argv[2] == "conv"
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(20261207 + conv)
    w = weights(g, conv)
    ids = torch.randint(0, V, (B, N), generator=g)
    mask = torch.zeros(B, N, dtype=torch.float64)
    for b, n in enumerate(LENS):
        mask[b, :n] = 1
    ids = ids * (mask > 0)                                         # padding id 0
    targets = torch.full((B, N), -1, dtype=torch.int64)
    for b, n in enumerate(LENS):
        targets[b, :n - 1] = ids[b, 1:n]
    for t in w.values():
        t.requires_grad_(True)
    logits = forward(w, ids, mask, conv)
    loss = loss_of(logits, targets)
    loss.backward()
    write_model(out + "/model.h5", w, conv)
    if not conv:
        write_hf(out, w)
    write_model(out + "/grad.h5", {k: t.grad for k, t in w.items()}, conv)
    fd = {}
    h = 1e-6
    with torch.no_grad():
        for name, t in w.items():
            d = torch.zeros_like(t)
            flat, dflat = t.view(-1), d.view(-1)
            for i in range(flat.numel()):
                x0 = flat[i].item()
                flat[i] = x0 + h
                lp = loss_of(forward(w, ids, mask, conv), targets).item()
                flat[i] = x0 - h
                lm = loss_of(forward(w, ids, mask, conv), targets).item()
                flat[i] = x0
                dflat[i] = (lp - lm) / (2 * h)
            fd[name] = d
    write_model(out + "/fd.h5", fd, conv)
    with h5py.File(out + "/ref.h5", "w") as f:
        f.attrs["format"] = "drrl-lm-ref"
        f.attrs["format_version"] = np.int64(1)
        f.create_dataset("ids", data=ids.numpy().astype(np.int32))
        f.create_dataset("mask", data=mask.numpy().astype(np.uint8))
        f.create_dataset("targets", data=targets.numpy().astype(np.int32))
        f.create_dataset("logits", data=logits.detach().numpy())
        f.create_dataset("loss", data=np.array([loss.item()]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
