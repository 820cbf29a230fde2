/* safetensors_read.c: reading one tensor of an open .safetensors file (safetensors.h) by
 * pread of its byte range, SAFET_CHUNK bytes at a time, converting little-endian F32, F16,
 * BF16 and F64 to float32 on the way (byte by byte, so the host's byte order does not
 * matter).
 *   F16 (IEEE binary16): sign s (bit 15), exponent x (bits 10-14, bias 15), mantissa m (10
 *     bits): x = 0: (-1)^s m 2^-24 (zero and subnormals, exact in float32); x = 31: infinity
 *     (m = 0) or NaN (payload kept in float32's upper mantissa bits); else the float32 with
 *     exponent x - 15 + 127 and mantissa m << 13 (exact).
 *   BF16: the upper 16 bits of a float32 (exact: the lower 16 are zero).
 *   F64: rounded to the nearest float32 (C's conversion; beyond float's range: infinity). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/safetensors_internal.h"

/* read_at: n bytes at data-area offset off into buf (retrying short reads and EINTR) */
static Status read_at(const Safet *f, const SafetTensor *t, uint64_t off, unsigned char *buf,
                      size_t n, Err *e) {
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(f->fd, buf + got, n - got, (off_t)(f->data_start + off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return err_set(e, ST_IO, "%s: tensor '%s': reading bytes at %" PRIu64 " of the data "
                           "area: %s", f->path, t->name, off + got,
                           r < 0 ? strerror(errno) : "unexpected end of file (did it shrink?)");
        got += (size_t)r;
    }
    return ST_OK;
}

static float f16_to_f32(uint32_t h) {
    uint32_t sign = (h & 0x8000u) << 16, x = (h >> 10) & 0x1Fu, m = h & 0x3FFu, bits;
    if (x == 0) {
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    bits = x == 31 ? sign | 0x7F800000u | m << 13 : sign | (x + 112) << 23 | m << 13;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* convert: n elements of dtype t at p into out */
static void convert(SafetDtype t, const unsigned char *p, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        if (t == SAFET_F16) {
            out[i] = f16_to_f32((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8);
        } else if (t == SAFET_BF16) {
            uint32_t bits = ((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &bits, sizeof bits);
        } else if (t == SAFET_F32) {
            const unsigned char *q = p + 4 * i;
            uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                            (uint32_t)q[3] << 24;
            memcpy(&out[i], &bits, sizeof bits);
        } else { /* F64 */
            uint64_t bits = 0;
            for (int k = 7; k >= 0; k--) bits = bits << 8 | p[8 * i + (size_t)k];
            double d;
            memcpy(&d, &bits, sizeof d);
            out[i] = (float)d;
        }
    }
}

Status safet_read_f32(const Safet *f, const SafetTensor *t, float *out, size_t n, Err *e) {
    SafetDtype dt = t->dtype;
    if (dt != SAFET_F32 && dt != SAFET_F16 && dt != SAFET_BF16 && dt != SAFET_F64)
        return err_set(e, ST_SHAPE, "%s: tensor '%s': expected a floating-point dtype (F32, F16, "
                       "BF16 or F64), found %s", f->path, t->name, safet_dtype_name(dt));
    if (n != t->count)
        return err_set(e, ST_SHAPE, "%s: tensor '%s': expected a buffer of %" PRIu64 " floats, "
                       "found %zu", f->path, t->name, t->count, n);
    size_t sz = safet_dtype_size(dt), per = SAFET_CHUNK / sz;
    unsigned char *buf = malloc(n < per ? (n ? n * sz : 1) : SAFET_CHUNK);
    if (!buf) return err_set(e, ST_NOMEM, "%s: tensor '%s': out of memory", f->path, t->name);
    Status st = ST_OK;
    for (size_t i = 0; i < n && !st; i += per) {
        size_t k = n - i < per ? n - i : per;
        st = read_at(f, t, t->begin + i * sz, buf, k * sz, e);
        if (!st) convert(dt, buf, k, out + i);
    }
    free(buf);
    return st;
}

Status safet_read_raw(const Safet *f, const SafetTensor *t, void *out, size_t bytes, Err *e) {
    if (bytes != t->end - t->begin)
        return err_set(e, ST_SHAPE, "%s: tensor '%s': expected a buffer of %" PRIu64 " bytes, "
                       "found %zu", f->path, t->name, t->end - t->begin, bytes);
    return read_at(f, t, t->begin, out, bytes, e);
}
