#!/usr/bin/python3
"""bert_ref.py: a plain-PyTorch BERT classifier, the reference for drrl's model/bert.c (read by
tests/model/test_bert_torch.c).

Usage: /usr/bin/python3 scripts/bert_ref.py STATE_DICT.pt REF.h5

The model is HuggingFace's BertForSequenceClassification written out with torch.nn modules
(no transformers package here), with the same module names, so its state_dict keys are exactly
HuggingFace's (bert.embeddings.word_embeddings.weight, bert.encoder.layer.0.attention.self.
query.weight, ..., bert.pooler.dense.weight, classifier.weight, plus the position_ids buffer):
post-LN encoder layers, exact (erf) GELU, tanh pooler on token 0, dropout before the
classifier, additive attention mask (1 - mask) * -10000 as HuggingFace applies it.

Writes
  STATE_DICT.pt  the seeded random weights, float32, via torch.save (HuggingFace layout);
  REF.h5         root attributes format='drrl-bert-ref', format_version=1 and the
                 architecture (vocab, max_pos, type_vocab, d_model, n_heads, d_ff, n_layers,
                 n_classes, ln_eps); inputs /ids (B, N) int32, /type_ids (B, N) int32 (not all
                 zero), /mask (B, N) uint8 (1 = token, 0 = padding; lengths 9, 6, 3), /labels
                 (B) int32; outputs /logits (B, K) float64, /loss (1) float64 (mean
                 cross-entropy), and /grad/<name with '.' -> '/'> float64 for every parameter.
Sizes: vocab 50, max_pos 16, type_vocab 2, d_model 16, 2 heads, d_ff 24, 2 layers, 3 classes;
B = 3, N = 9. Dropout is off (eval mode). The weights are drawn, rounded to float32 (the
values the C code loads) and the model then runs in float64 from those values, so a
comparison measures only drrl's float32 error.
"""
import math
import sys

import h5py
import numpy as np
import torch
from torch import nn

FORMAT = "drrl-bert-ref"
FORMAT_VERSION = 1
SEED = 20240612

CFG = dict(vocab=50, max_pos=16, type_vocab=2, d_model=16, n_heads=2, d_ff=24, n_layers=2,
           n_classes=3, ln_eps=1e-12)


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab"], c["d_model"], padding_idx=0)
        self.position_embeddings = nn.Embedding(c["max_pos"], c["d_model"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab"], c["d_model"])
        self.LayerNorm = nn.LayerNorm(c["d_model"], eps=c["ln_eps"])
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("position_ids", torch.arange(c["max_pos"]).expand((1, -1)))

    def forward(self, ids, type_ids):
        n = ids.shape[1]
        e = self.word_embeddings(ids) + self.token_type_embeddings(type_ids)
        e = e + self.position_embeddings(self.position_ids[:, :n])
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.h = c["n_heads"]
        self.dh = d // self.h
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.dropout = nn.Dropout(0.1)

    def heads(self, x):  # (B, N, C) -> (B, H, N, dh)
        b, n, _ = x.shape
        return x.view(b, n, self.h, self.dh).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(self.dh) + ext_mask
        p = self.dropout(torch.softmax(s, dim=-1))
        o = p @ v  # (B, H, N, dh)
        b, _, n, _ = o.shape
        return o.permute(0, 2, 1, 3).reshape(b, n, self.h * self.dh)


class BertAddNorm(nn.Module):
    """HuggingFace's BertSelfOutput (d_in = d_model) and BertOutput (d_in = d_ff), which differ
    only in the input width: LayerNorm(dropout(dense(a)) + x), dense d_in -> d_model."""

    def __init__(self, c, d_in):
        super().__init__()
        self.dense = nn.Linear(d_in, c["d_model"])
        self.LayerNorm = nn.LayerNorm(c["d_model"], eps=c["ln_eps"])
        self.dropout = nn.Dropout(0.1)

    def forward(self, a, x):
        return self.LayerNorm(self.dropout(self.dense(a)) + x)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertAddNorm(c, c["d_model"])

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["d_model"], c["d_ff"])

    def forward(self, y):
        return torch.nn.functional.gelu(self.dense(y))  # exact erf form


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertAddNorm(c, c["d_ff"])

    def forward(self, x, ext_mask):
        y = self.attention(x, ext_mask)
        return self.output(self.intermediate(y), y)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["n_layers"])])

    def forward(self, x, ext_mask):
        for layer in self.layer:
            x = layer(x, ext_mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["d_model"], c["d_model"])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, ids, type_ids, mask):
        ext = (1.0 - mask[:, None, None, :].to(self.pooler.dense.weight.dtype)) * -10000.0
        return self.pooler(self.encoder(self.embeddings(ids, type_ids), ext))


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(c["d_model"], c["n_classes"])

    def forward(self, ids, type_ids, mask):
        return self.classifier(self.dropout(self.bert(ids, type_ids, mask)))


def seeded_model(cfg=CFG, seed=SEED):
    """The reference model with seeded float32 weights and the generator g that drew them
    (the inputs are drawn from it next): weights large enough that attention is far from
    uniform and every path carries signal. Also used by scripts/bert_safetensors_ref.py."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif p.dim() == 1:
                v = 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif "embeddings" in name:
                v = torch.randn(p.shape, generator=g, dtype=torch.float64)
            else:
                v = torch.randn(p.shape, generator=g, dtype=torch.float64) / math.sqrt(p.shape[1])
            p.copy_(v.to(torch.float32))
    return model, g


def batch(g, cfg=CFG):
    """The padded batch: B = 3 sequences of N = 9 tokens, lengths 9, 6, 3, a second segment
    inside the real tokens; returns (ids, type_ids, mask, labels) as torch tensors."""
    B, N = 3, 9
    lengths = [9, 6, 3]
    ids = torch.randint(1, cfg["vocab"], (B, N), generator=g)
    type_ids = torch.zeros(B, N, dtype=torch.long)
    mask = torch.zeros(B, N, dtype=torch.long)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = 0            # [PAD]
        type_ids[b, n // 2:n] = 1  # a second segment inside the real tokens
    labels = torch.tensor([2, 0, 1])
    return ids, type_ids, mask, labels


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bert_ref.py STATE_DICT.pt REF.h5")
    sd_path, out_path = sys.argv[1], sys.argv[2]
    model, g = seeded_model()
    torch.save(model.state_dict(), sd_path)  # float32, HuggingFace keys

    ids, type_ids, mask, labels = batch(g)
    B, N = ids.shape
    model = model.double().eval()
    logits = model(ids, type_ids, mask)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()

    with h5py.File(out_path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        for k, v in CFG.items():
            f.attrs[k] = np.float64(v) if k == "ln_eps" else np.int64(v)
        f.attrs["B"] = np.int64(B)
        f.attrs["N"] = np.int64(N)
        f.create_dataset("ids", data=ids.numpy().astype(np.int32))
        f.create_dataset("type_ids", data=type_ids.numpy().astype(np.int32))
        f.create_dataset("mask", data=mask.numpy().astype(np.uint8))
        f.create_dataset("labels", data=labels.numpy().astype(np.int32))
        f.create_dataset("logits", data=logits.detach().numpy().astype(np.float64))
        f.create_dataset("loss", data=np.array([loss.item()], dtype=np.float64))
        for name, p in model.named_parameters():
            f.create_dataset("grad/" + name.replace(".", "/"), data=p.grad.numpy().astype(np.float64))
    print(f"bert_ref.py: loss {loss.item():.9f}, {len(list(model.parameters()))} parameter tensors")


if __name__ == "__main__":
    main()
