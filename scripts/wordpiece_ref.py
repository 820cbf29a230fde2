#!/usr/bin/env python3
"""wordpiece_ref.py: reference BERT uncased WordPiece tokenizer, written independently of
data/wordpiece.c from the published description of Google BERT's tokenization.py
(BasicTokenizer with do_lower_case=True, then WordpieceTokenizer), standard library only.

    python3 scripts/wordpiece_ref.py VOCAB < sentences.txt > ids.txt

Input: bytes, one sentence per LF-terminated line (nothing else is a line break; a CR stays
in the sentence). Each line is decoded as UTF-8 with invalid bytes replaced by U+FFFD.
Output: per input line, the word-piece ids separated by single spaces (no [CLS]/[SEP]).
"""
import sys
import unicodedata


def load_vocab(path):
    vocab = {}
    with open(path, "rb") as f:
        for index, raw in enumerate(f.read().decode("utf-8").split("\n")):
            token = raw.strip()
            if token:
                vocab[token] = index
    return vocab


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F
            or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


def clean_text(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def space_chinese(text):
    out = []
    for ch in text:
        if is_chinese_char(ord(ch)):
            out.extend((" ", ch, " "))
        else:
            out.append(ch)
    return "".join(out)


def strip_accents(text):
    return "".join(ch for ch in unicodedata.normalize("NFD", text)
                   if unicodedata.category(ch) != "Mn")


def split_punctuation(text):
    pieces, cur = [], []
    for ch in text:
        if is_punctuation(ch):
            if cur:
                pieces.append("".join(cur))
                cur = []
            pieces.append(ch)
        else:
            cur.append(ch)
    if cur:
        pieces.append("".join(cur))
    return pieces


def basic_tokenize(text):
    text = space_chinese(clean_text(text))
    tokens = []
    for word in text.split():
        tokens.extend(split_punctuation(strip_accents(word.lower())))
    return " ".join(tokens).split()


def wordpiece(token, vocab, unk_id, max_chars=100):
    if len(token) > max_chars:
        return [unk_id]
    ids, start = [], 0
    while start < len(token):
        end, found = len(token), None
        while start < end:
            piece = token[start:end]
            if start > 0:
                piece = "##" + piece
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [unk_id]
        ids.append(found)
        start = end
    return ids


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: wordpiece_ref.py VOCAB < sentences.txt > ids.txt")
    vocab = load_vocab(sys.argv[1])
    unk_id = vocab["[UNK]"]
    data = sys.stdin.buffer.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for raw in lines:
        ids = []
        for token in basic_tokenize(raw.decode("utf-8", errors="replace")):
            ids.extend(wordpiece(token, vocab, unk_id))
        out.append(" ".join(str(i) for i in ids))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))


if __name__ == "__main__":
    main()
