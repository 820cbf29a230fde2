#!/usr/bin/env python3
"""gen_unicode_tables.py: generate data/unicode_tables.{c,h}, the Unicode data that the BERT
WordPiece tokenizer (data/wordpiece.c) needs, from Python's own `unicodedata` and `str.lower`
(so that the C tokenizer behaves exactly like BERT's tokenization.py run on this Python).

    /usr/bin/python3 scripts/gen_unicode_tables.py [OUT_DIR]     # default OUT_DIR: data

What is generated (Unicode version = unicodedata.unidata_version, stated in both files):
  * a property range table: every code point gets a small bit set
      DROP   BERT's _clean_text removes it: U+0000, U+FFFD, category Cc/Cf except \\t \\n \\r
      SPACE  a word separator: BERT's _is_whitespace (space \\t \\n \\r, Zs), plus what Python's
             str.split() also splits on and _clean_text keeps (U+2028, U+2029)
      MN     category Mn (removed by BERT's _run_strip_accents)
      PUNCT  BERT's _is_punctuation (ASCII 33-47, 58-64, 91-96, 123-126, or category P*)
      CASED, CASEIGN  Unicode Cased / Case_Ignorable as Python's str.lower() uses them for the
             final-sigma rule (U+03A3 lower-cases to U+03C2 at the end of a word); measured
             from str.lower() itself, not from a second data source
    stored as sorted uint32 values (start << 8 | props); a range ends where the next starts.
  * one mapping table: every code point c (not DROP, not MN, not a Hangul syllable, which
    wordpiece.c decomposes algorithmically) whose strip_Mn(NFD(c.lower())) differs from c,
    with that result as a UTF-8 string; sorted by code point for binary search. BERT lower-cases
    first, then NFD-normalises and drops Mn; doing it per code point is exact because lower()
    and NFD act per code point (apart from final sigma, handled in C) and the only reordering
    NFD does (canonical ordering of combining marks) concerns Mn marks, which are dropped, and
    25 Mc code points with a combining class (viramas, U+302E/F, musical symbols) that occur in
    no token of the BERT vocabulary (so any word holding one is [UNK] whatever their order).
"""
import os
import sys
import unicodedata as ud

SIGMA = 0x3A3
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
P_DROP, P_SPACE, P_MN, P_PUNCT, P_CASED, P_CASEIGN = 1, 2, 4, 8, 16, 32


def is_control(c):  # BERT _is_control
    if c in "\t\n\r":
        return False
    return ud.category(c) in ("Cc", "Cf")


def is_whitespace(c):  # BERT _is_whitespace
    return c in " \t\n\r" or ud.category(c) == "Zs"


def is_punct(c):  # BERT _is_punctuation
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return ud.category(c).startswith("P")


def case_class(c):
    """(cased, case_ignorable) as far as Python's final-sigma rule can observe them.
    'A'+c+'Σ' gives a final sigma iff c is ignorable or cased; 'AΣ'+c iff c is ignorable or not
    cased. When c is ignorable its cased bit is never consulted, so we report it as 0."""
    t1 = ("A" + c + "\u03a3").lower()[-1] == "\u03c2"
    t3 = ("A\u03a3" + c).lower()[1] == "\u03c2"
    if t1 and t3:
        return 0, 1
    if t1:
        return 1, 0
    return 0, 0


def strip_mn(s):
    return "".join(ch for ch in s if ud.category(ch) != "Mn")


def props(cp):
    if 0xD800 <= cp <= 0xDFFF:
        return 0
    c = chr(cp)
    p = 0
    if cp == 0 or cp == 0xFFFD or is_control(c):
        p |= P_DROP
    elif is_whitespace(c) or c.isspace():
        p |= P_SPACE
    if ud.category(c) == "Mn":
        p |= P_MN
    if is_punct(c):
        p |= P_PUNCT
    cased, ign = case_class(c)
    if cased:
        p |= P_CASED
    if ign:
        p |= P_CASEIGN
    return p


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "data"
    ver = ud.unidata_version
    all_props = [props(cp) for cp in range(0x110000)]
    ranges = []
    for cp, p in enumerate(all_props):
        if not ranges or ranges[-1][1] != p:
            ranges.append((cp, p))

    mapping = []
    max_cps = 1
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        p = all_props[cp]
        f = strip_mn(ud.normalize("NFD", c.lower()))
        if p & P_MN:
            assert f == "", hex(cp)  # Mn code points vanish whatever lower() does
            continue
        if p & (P_DROP | P_SPACE):
            continue
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        assert f, hex(cp)  # only Mn code points vanish
        for ch in f:  # results never need a second pass
            q = all_props[ord(ch)]
            assert not q & (P_DROP | P_SPACE | P_MN) and ord(ch) != SIGMA, hex(cp)
        if f != c:
            mapping.append((cp, f.encode("utf-8")))
            max_cps = max(max_cps, len(f))
    # Hangul syllables: NFD is the algorithmic L V (T) decomposition, nothing lower-cases.
    for cp in range(HANGUL_FIRST, HANGUL_LAST + 1):
        s = cp - HANGUL_FIRST
        want = chr(0x1100 + s // 588) + chr(0x1161 + (s % 588) // 28) + \
            (chr(0x11A7 + s % 28) if s % 28 else "")
        assert strip_mn(ud.normalize("NFD", chr(cp).lower())) == want
        assert all_props[cp] == 0 and all(all_props[ord(ch)] == 0 for ch in want)
    # The C code decodes ASCII with a fast path that assumes this.
    for cp in range(128):
        c = chr(cp)
        assert strip_mn(ud.normalize("NFD", c.lower())) == c.lower()
    blob = b""
    offs = []
    for cp, b in mapping:
        offs.append(len(blob))
        blob += b
    offs.append(len(blob))
    assert len(blob) < 65536

    head = ("/* %s: GENERATED by scripts/gen_unicode_tables.py from Python %d.%d's unicodedata\n"
            " * (Unicode %s). Do not edit: regenerate with\n"
            " *     /usr/bin/python3 scripts/gen_unicode_tables.py data\n"
            " * Unicode data for the BERT WordPiece tokenizer (data/wordpiece.c): code point\n"
            " * properties as ranges, and the lower-case + NFD + strip-Mn mapping. */\n")
    pyv = sys.version_info
    h = [head % ("unicode_tables.h", pyv[0], pyv[1], ver),
         "#ifndef DRRL_DATA_UNICODE_TABLES_H\n#define DRRL_DATA_UNICODE_TABLES_H\n\n",
         "#include <stdint.h>\n\n",
         '#define UNI_VERSION "%s"\n\n' % ver,
         "/* property bits (see scripts/gen_unicode_tables.py for their exact meaning) */\n",
         "enum {\n",
         "    UNI_DROP = %d,    /* removed before tokenizing: U+0000, U+FFFD, Cc/Cf but \\t \\n \\r */\n" % P_DROP,
         "    UNI_SPACE = %d,   /* word separator: space \\t \\n \\r, Zs, U+2028, U+2029 */\n" % P_SPACE,
         "    UNI_MN = %d,      /* category Mn: removed when stripping accents */\n" % P_MN,
         "    UNI_PUNCT = %d,   /* BERT punctuation: ASCII 33-47 58-64 91-96 123-126, P* */\n" % P_PUNCT,
         "    UNI_CASED = %d,  /* Cased (only when not Case_Ignorable) */\n" % P_CASED,
         "    UNI_CASEIGN = %d /* Case_Ignorable */\n" % P_CASEIGN,
         "};\n\n",
         "/* uni_prop_ranges[i] = start << 8 | props, sorted by start, uni_prop_ranges[0] starts at 0;\n"
         " * range i covers start_i .. start_{i+1} - 1 (the last one up to U+10FFFF). */\n",
         "#define UNI_PROP_COUNT %d\n" % len(ranges),
         "extern const uint32_t uni_prop_ranges[UNI_PROP_COUNT];\n\n",
         "/* properties of U+0000..U+007F */\n",
         "extern const uint8_t uni_prop_ascii[128];\n\n",
         "/* mapping: code point uni_map_cp[i] becomes the UTF-8 bytes\n"
         " * uni_map_str[uni_map_off[i] .. uni_map_off[i+1]) (never empty), at most\n"
         " * UNI_MAP_MAX_CPS code points. Sorted by code point. Code points not listed map to\n"
         " * themselves, except U+03A3 (final sigma rule) and Hangul syllables (algorithmic). */\n",
         "#define UNI_MAP_COUNT %d\n" % len(mapping),
         "#define UNI_MAP_MAX_CPS %d\n" % max_cps,
         "extern const uint32_t uni_map_cp[UNI_MAP_COUNT];\n",
         "extern const uint16_t uni_map_off[UNI_MAP_COUNT + 1];\n",
         "extern const uint8_t uni_map_str[%d];\n\n" % (len(blob) + 1),
         "#endif\n"]
    c = [head % ("unicode_tables.c", pyv[0], pyv[1], ver),
         '#include "unicode_tables.h"\n\n',
         "/* %d ranges */\nconst uint32_t uni_prop_ranges[UNI_PROP_COUNT] = {\n" % len(ranges)]

    def rows(items, per):
        for i in range(0, len(items), per):
            c.append("    " + ", ".join(items[i:i + per]) + ",\n")

    rows(["0x%x" % (s << 8 | p) for s, p in ranges], 8)
    c.append("};\n\nconst uint8_t uni_prop_ascii[128] = {\n")
    rows(["%d" % all_props[i] for i in range(128)], 16)
    c.append("};\n\n/* %d mapped code points */\nconst uint32_t uni_map_cp[UNI_MAP_COUNT] = {\n"
             % len(mapping))
    rows(["0x%x" % cp for cp, _ in mapping], 10)
    c.append("};\n\nconst uint16_t uni_map_off[UNI_MAP_COUNT + 1] = {\n")
    rows(["%d" % o for o in offs], 12)
    # a byte array, not a string literal (ISO C limits literals to 4095 characters);
    # one line per mapped code point
    c.append("};\n\n/* %d bytes and a final NUL */\nconst uint8_t uni_map_str[%d] = {\n"
             % (len(blob), len(blob) + 1))
    for cp, b in mapping:
        c.append("    /* U+%04X */ %s\n" % (cp, " ".join("0x%02x," % x for x in b)))
    c.append("    0x00,\n};\n")

    with open(os.path.join(out_dir, "unicode_tables.h"), "w", encoding="utf-8") as f:
        f.write("".join(h))
    with open(os.path.join(out_dir, "unicode_tables.c"), "w", encoding="utf-8") as f:
        f.write("".join(c))
    print("Unicode %s: %d property ranges, %d mapped code points, %d bytes of strings, "
          "at most %d code points per mapping" % (ver, len(ranges), len(mapping), len(blob),
                                                   max_cps))


if __name__ == "__main__":
    main()
