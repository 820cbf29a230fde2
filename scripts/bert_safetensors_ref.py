#!/usr/bin/python3
"""bert_safetensors_ref.py: a Hugging Face BERT checkpoint as the Hub serves it (config.json and
.safetensors), written without the transformers or safetensors packages, with reference logits;
read by tests/model/test_convert_bert.c to test drrl-convert bert end to end.

Usage: /usr/bin/python3 scripts/bert_safetensors_ref.py DIR

The model is scripts/bert_ref.py's (a plain-PyTorch BertForSequenceClassification with Hugging
Face's module names, so its state_dict keys are exactly Hugging Face's) with its seeded weights,
and the inputs are its padded batch (B = 3, N = 9, type ids not all zero).

A .safetensors file is written by hand (the format is simple): the header's length as an
unsigned 64-bit little-endian integer, the header (JSON: {name: {"dtype", "shape",
"data_offsets": [begin, end]}}, "__metadata__" {"format": "pt"}, padded with spaces to a
multiple of 8 bytes as the safetensors package pads it), then each tensor's little-endian
bytes, row-major, back to back in the header's order. BF16 is the upper half of float32's bits
(torch's round-to-nearest-even conversion).

Writes into DIR
  config.json        the BERT config (vocab_size 50, hidden_size 16, 2 heads, intermediate_size
                     24, 2 layers, max_position_embeddings 16, type_vocab_size 2, id2label of 3
                     classes, hidden_act "gelu") with the keys transformers adds (architectures,
                     classifier_dropout null, torch_dtype, ...)
  model.safetensors  BertForSequenceClassification's tensors in F32 (state_dict order) and the
                     bert.embeddings.position_ids buffer (I64, (1, 16))
  mixed.safetensors  the same weights in other dtypes: word embeddings BF16, layer 0 F16, the
                     pooler F64, the rest F32, written in reverse order, plus pre-training heads
                     (cls.predictions.*, cls.seq_relationship.*) that the converter must ignore
  ref.h5             attributes format = "drrl-bert-safetensors-ref", format_version = 1, B, N;
                     /ids, /type_ids (B, N) int32, /mask (B, N) uint8, and float64 logits (B, 3)
                     in eval mode: /logits of model.safetensors' weights, /logits_mixed of
                     mixed.safetensors' weights as stored (rounded to F16/BF16), both computed
                     in float64 from the values the C code loads.
"""
import json
import os
import struct
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_ref  # noqa: E402  (the model and its seeded weights and batch)

FORMAT = "drrl-bert-safetensors-ref"
FORMAT_VERSION = 1
NUMPY = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "U8": "<u1"}
TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
         "F64": torch.float64}


def raw(t, dtype):
    """tensor t's little-endian bytes in dtype"""
    t = t.detach()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(NUMPY[dtype]).tobytes()


def write_safetensors(path, tensors):
    """tensors: [(name, tensor, dtype)] in file order"""
    header, blobs, at = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t, dtype in tensors:
        b = raw(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def mixed_dtype(name):
    if name == "bert.embeddings.word_embeddings.weight":
        return "BF16"
    if name.startswith("bert.encoder.layer.0."):
        return "F16"
    if name.startswith("bert.pooler."):
        return "F64"
    return "F32"


def config(cfg):
    labels = ["negative", "neutral", "positive"][:cfg["n_classes"]]
    return {
        "architectures": ["BertForSequenceClassification"],
        "attention_probs_dropout_prob": 0.1, "classifier_dropout": None, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": cfg["d_model"],
        "id2label": {str(i): l for i, l in enumerate(labels)},
        "label2id": {l: i for i, l in enumerate(labels)},
        "initializer_range": 0.02, "intermediate_size": cfg["d_ff"],
        "layer_norm_eps": cfg["ln_eps"], "max_position_embeddings": cfg["max_pos"],
        "model_type": "bert", "num_attention_heads": cfg["n_heads"],
        "num_hidden_layers": cfg["n_layers"], "pad_token_id": 0,
        "position_embedding_type": "absolute", "problem_type": "single_label_classification",
        "torch_dtype": "float32", "transformers_version": "4.30.2",
        "type_vocab_size": cfg["type_vocab"], "use_cache": True, "vocab_size": cfg["vocab"],
    }


def logits_of(model, state, inputs):
    """float64 eval-mode logits of model with the parameters in state (float64 values)"""
    m = bert_ref.BertForSequenceClassification(bert_ref.CFG).double().eval()
    m.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()})
    with torch.no_grad():
        return m(*inputs).numpy().astype(np.float64)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bert_safetensors_ref.py DIR")
    out = sys.argv[1]
    cfg = bert_ref.CFG
    model, g = bert_ref.seeded_model()
    ids, type_ids, mask, _ = bert_ref.batch(g)
    sd = model.state_dict()  # float32 weights and the position_ids buffer (int64)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config(cfg), f, indent=2)
    write_safetensors(os.path.join(out, "model.safetensors"),
                      [(k, v, "I64" if k.endswith("position_ids") else "F32") for k, v in sd.items()])
    params = [(k, v, mixed_dtype(k)) for k, v in sd.items() if not k.endswith("position_ids")]
    C, V = cfg["d_model"], cfg["vocab"]
    heads = [("cls.predictions.bias", torch.randn(V, generator=g)),
             ("cls.predictions.transform.dense.weight", torch.randn(C, C, generator=g)),
             ("cls.predictions.transform.LayerNorm.weight", torch.randn(C, generator=g)),
             ("cls.seq_relationship.weight", torch.randn(2, C, generator=g))]
    write_safetensors(os.path.join(out, "mixed.safetensors"),
                      params[::-1] + [(k, v, "F32") for k, v in heads])
    # the mixed file's values as the C code reads them: rounded to the stored dtype
    mixed = {k: v.to(TORCH[d]).to(torch.float64) for k, v, d in params}
    mixed["bert.embeddings.position_ids"] = sd["bert.embeddings.position_ids"]
    inputs = (ids, type_ids, mask)
    with h5py.File(os.path.join(out, "ref.h5"), "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["B"] = np.int64(ids.shape[0])
        f.attrs["N"] = np.int64(ids.shape[1])
        f.create_dataset("ids", data=ids.numpy().astype(np.int32))
        f.create_dataset("type_ids", data=type_ids.numpy().astype(np.int32))
        f.create_dataset("mask", data=mask.numpy().astype(np.uint8))
        f.create_dataset("logits", data=logits_of(model, sd, inputs))
        f.create_dataset("logits_mixed", data=logits_of(model, mixed, inputs))
    print(f"bert_safetensors_ref.py: wrote {out}/config.json, model.safetensors, "
          f"mixed.safetensors, ref.h5")


if __name__ == "__main__":
    main()
