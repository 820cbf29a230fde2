#!/usr/bin/python3
"""convert_bert.py: convert a HuggingFace-layout BERT classifier state_dict into drrl's model
file (format 'drrl-model', version 1; see model/bert_io.h), so that a pretrained model made
elsewhere can be used as drrl's frozen model.

Usage:
  /usr/bin/python3 scripts/convert_bert.py STATE_DICT.pt OUT.h5 --n-heads H
          [--config-from CONFIG.json] [--ln-eps E] [--dropout P] [--attn-dropout P]

STATE_DICT.pt is read with torch.load: a BertForSequenceClassification state_dict (keys
'bert.embeddings...', 'bert.encoder.layer.<i>...', 'bert.pooler...', 'classifier...'), or the
same without the 'bert.' prefix (as BertModel writes it) plus 'classifier.*'. Also accepted:
a 'module.' prefix (DataParallel), a dict holding the weights under 'state_dict' or 'model',
and old TensorFlow-converted LayerNorm names ('gamma'/'beta'). The position_ids buffer is
ignored; pre-training heads ('cls.*') are ignored with a note; any other unknown key, a
missing tensor or a shape that does not fit the architecture is an error naming it.

The architecture is inferred from the tensor shapes: vocab, d_model (word embeddings),
max_pos, type_vocab, d_ff (intermediate.dense), n_layers (layer indices 0..L-1), n_classes
(classifier). The number of heads cannot be seen in the shapes: pass --n-heads or a
HuggingFace config.json with --config-from (num_attention_heads, layer_norm_eps,
hidden_dropout_prob, attention_probs_dropout_prob; hidden_act must be 'gelu', the exact form
drrl computes). Defaults: ln_eps 1e-12, dropout 0.1, attn_dropout 0.1. Options given on the
command line override the config file.

The output carries root attributes format='drrl-model', format_version=1 (int64), the
architecture (int64; ln_eps, dropout, attn_dropout float64), empty vocab_sha256/data_sha256,
dev_accuracy NaN, train_steps 0, a /config text noting the source, and one float32 dataset per
tensor at '/' + name.replace('.', '/'). It is written to OUT.h5.tmp.PID and renamed.
"""
import argparse
import json
import math
import os
import re
import sys

import h5py
import numpy as np
import torch

FORMAT = "drrl-model"
FORMAT_VERSION = 1
CHUNK_MIN = 4096  # as core/store.h: larger tensors are chunked and gzip-compressed

LAYER_SUFFIXES = [  # (suffix, shape as a function of (C, F))
    ("attention.self.query.weight", lambda C, F: (C, C)),
    ("attention.self.query.bias", lambda C, F: (C,)),
    ("attention.self.key.weight", lambda C, F: (C, C)),
    ("attention.self.key.bias", lambda C, F: (C,)),
    ("attention.self.value.weight", lambda C, F: (C, C)),
    ("attention.self.value.bias", lambda C, F: (C,)),
    ("attention.output.dense.weight", lambda C, F: (C, C)),
    ("attention.output.dense.bias", lambda C, F: (C,)),
    ("attention.output.LayerNorm.weight", lambda C, F: (C,)),
    ("attention.output.LayerNorm.bias", lambda C, F: (C,)),
    ("intermediate.dense.weight", lambda C, F: (F, C)),
    ("intermediate.dense.bias", lambda C, F: (F,)),
    ("output.dense.weight", lambda C, F: (C, F)),
    ("output.dense.bias", lambda C, F: (C,)),
    ("output.LayerNorm.weight", lambda C, F: (C,)),
    ("output.LayerNorm.bias", lambda C, F: (C,)),
]


def fail(msg):
    sys.exit("convert_bert.py: " + msg)


def normalise_keys(sd):
    """HuggingFace BertForSequenceClassification keys; drops buffers and pre-training heads."""
    out, ignored = {}, []
    for key, val in sd.items():
        k = key[len("module."):] if key.startswith("module.") else key
        if k.endswith("position_ids"):
            continue
        if k.startswith("cls."):
            ignored.append(k)
            continue
        if k.startswith(("embeddings.", "encoder.", "pooler.")):
            k = "bert." + k
        k = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", k)
        k = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", k)
        if not torch.is_tensor(val):
            fail(f"{key}: expected a tensor, found {type(val).__name__}")
        out[k] = val
    if ignored:
        print(f"convert_bert.py: note: ignoring {len(ignored)} pre-training head tensors (cls.*)",
              file=sys.stderr)
    return out


def shape_of(sd, key):
    if key not in sd:
        fail(f"{key}: missing from the state_dict (expected a BertForSequenceClassification "
             f"state_dict in HuggingFace layout)")
    return tuple(sd[key].shape)


def main():
    ap = argparse.ArgumentParser(description="convert a HuggingFace BERT classifier state_dict "
                                 "into a drrl model file")
    ap.add_argument("state_dict")
    ap.add_argument("out")
    ap.add_argument("--n-heads", type=int)
    ap.add_argument("--config-from", help="HuggingFace config.json")
    ap.add_argument("--ln-eps", type=float)
    ap.add_argument("--dropout", type=float)
    ap.add_argument("--attn-dropout", type=float)
    a = ap.parse_args()

    hf = {}
    if a.config_from:
        with open(a.config_from) as f:
            hf = json.load(f)
        act = hf.get("hidden_act", "gelu")
        if act != "gelu":
            fail(f"{a.config_from}: hidden_act: expected 'gelu' (exact erf GELU), found '{act}'")
        pet = hf.get("position_embedding_type", "absolute")
        if pet != "absolute":
            fail(f"{a.config_from}: position_embedding_type: expected 'absolute', found '{pet}'")
    n_heads = a.n_heads if a.n_heads is not None else hf.get("num_attention_heads")
    if n_heads is None:
        fail("the number of heads is not in the tensor shapes: pass --n-heads or --config-from")
    ln_eps = a.ln_eps if a.ln_eps is not None else hf.get("layer_norm_eps", 1e-12)
    dropout = a.dropout if a.dropout is not None else hf.get("hidden_dropout_prob", 0.1)
    attn_dropout = (a.attn_dropout if a.attn_dropout is not None
                    else hf.get("attention_probs_dropout_prob", 0.1))

    sd = torch.load(a.state_dict, map_location="cpu")
    if isinstance(sd, dict) and not any(torch.is_tensor(v) for v in sd.values()):
        for k in ("state_dict", "model"):
            if k in sd and isinstance(sd[k], dict):
                sd = sd[k]
                break
    sd = normalise_keys(sd)

    V, C = shape_of(sd, "bert.embeddings.word_embeddings.weight")
    P = shape_of(sd, "bert.embeddings.position_embeddings.weight")[0]
    T = shape_of(sd, "bert.embeddings.token_type_embeddings.weight")[0]
    layers = sorted({int(m.group(1)) for k in sd
                     for m in [re.match(r"bert\.encoder\.layer\.(\d+)\.", k)] if m})
    L = len(layers)
    if L == 0 or layers != list(range(L)):
        fail(f"encoder layers: expected indices 0..L-1, found {layers}")
    F = shape_of(sd, "bert.encoder.layer.0.intermediate.dense.weight")[0]
    K = shape_of(sd, "classifier.weight")[0]
    if C % n_heads != 0:
        fail(f"n_heads: expected a divisor of d_model ({C}), found {n_heads}")
    for key, want in (("vocab_size", V), ("hidden_size", C), ("max_position_embeddings", P),
                      ("type_vocab_size", T), ("intermediate_size", F),
                      ("num_hidden_layers", L)):
        if key in hf and hf[key] != want:
            fail(f"{a.config_from}: {key}: the state_dict has {want}, the config says {hf[key]}")

    expected = [("bert.embeddings.word_embeddings.weight", (V, C)),
                ("bert.embeddings.position_embeddings.weight", (P, C)),
                ("bert.embeddings.token_type_embeddings.weight", (T, C)),
                ("bert.embeddings.LayerNorm.weight", (C,)),
                ("bert.embeddings.LayerNorm.bias", (C,))]
    for l in range(L):
        expected += [(f"bert.encoder.layer.{l}.{s}", fn(C, F)) for s, fn in LAYER_SUFFIXES]
    expected += [("bert.pooler.dense.weight", (C, C)), ("bert.pooler.dense.bias", (C,)),
                 ("classifier.weight", (K, C)), ("classifier.bias", (K,))]
    names = {k for k, _ in expected}
    extra = sorted(k for k in sd if k not in names)
    if extra:
        fail("unexpected tensors (not part of a BERT classifier): " + ", ".join(extra[:10]) +
             (" ..." if len(extra) > 10 else ""))
    for k, shape in expected:
        got = shape_of(sd, k)
        if got != shape:
            fail(f"{k}: expected shape {list(shape)}, found {list(got)}")

    tmp = f"{a.out}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            for k, v in (("vocab", V), ("max_pos", P), ("type_vocab", T), ("d_model", C),
                         ("n_heads", n_heads), ("d_ff", F), ("n_layers", L), ("n_classes", K)):
                f.attrs[k] = np.int64(v)
            f.attrs["ln_eps"] = np.float64(ln_eps)
            f.attrs["dropout"] = np.float64(dropout)
            f.attrs["attn_dropout"] = np.float64(attn_dropout)
            f.attrs["vocab_sha256"] = ""
            f.attrs["data_sha256"] = ""
            f.attrs["dev_accuracy"] = np.float64(math.nan)
            f.attrs["train_steps"] = np.int64(0)
            note = (f"# converted by scripts/convert_bert.py from {os.path.basename(a.state_dict)}"
                    + (f" with {os.path.basename(a.config_from)}" if a.config_from else "") + "\n")
            f.create_dataset("config", data=note, dtype=h5py.string_dtype("utf-8"))
            for k, _ in expected:
                arr = sd[k].detach().to(torch.float32).cpu().numpy()
                path = "/" + k.replace(".", "/")
                if arr.size >= CHUNK_MIN:
                    f.create_dataset(path, data=arr, compression="gzip", compression_opts=4,
                                     shuffle=True)
                else:
                    f.create_dataset(path, data=arr)
        os.replace(tmp, a.out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    print(f"convert_bert.py: wrote {a.out}: vocab {V}, max_pos {P}, type_vocab {T}, d_model {C}, "
          f"n_heads {n_heads}, d_ff {F}, n_layers {L}, n_classes {K}, ln_eps {ln_eps}")


if __name__ == "__main__":
    main()
