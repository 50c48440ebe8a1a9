/*
 * Reference-data helper for flux4j: runs ggml's scalar reference quantizers
 * (quantize_row_qX_K_ref) on a raw little-endian float32 file and writes the
 * quantized blocks. It is compiled against a ggml checkout by
 * build_ggml_kquant_ref.sh; no ggml code lives in this repository.
 *
 * usage: ggml_kquant_ref <q2_K|q3_K|q4_K|q5_K|q6_K|q4_0|q4_1|q5_0|q5_1|q8_0> <in.f32> <out.bytes>
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-quants.h"

/* ggml-quants.c references a few ggml.c functions that the row reference quantizers never
 * call; the stubs keep the link self-contained instead of building all of ggml. */
void ggml_abort(const char * file, int line, const char * fmt, ...) {
    fprintf(stderr, "ggml_abort at %s:%d\n", file, line);
    abort();
}
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void) type; (void) ne; abort(); }
const char * ggml_type_name(enum ggml_type type) { (void) type; return "?"; }
size_t ggml_type_size(enum ggml_type type) { (void) type; abort(); }

typedef void (*row_fn)(const float *, void *, int64_t);

struct kind { const char * name; row_fn fn; int block; int bytes; };

static const struct kind KINDS[] = {
    { "q2_K", (row_fn) quantize_row_q2_K_ref, 256,  84 },
    { "q3_K", (row_fn) quantize_row_q3_K_ref, 256, 110 },
    { "q4_K", (row_fn) quantize_row_q4_K_ref, 256, 144 },
    { "q5_K", (row_fn) quantize_row_q5_K_ref, 256, 176 },
    { "q6_K", (row_fn) quantize_row_q6_K_ref, 256, 210 },
    { "q4_0", (row_fn) quantize_row_q4_0_ref,  32,  18 },
    { "q4_1", (row_fn) quantize_row_q4_1_ref,  32,  20 },
    { "q5_0", (row_fn) quantize_row_q5_0_ref,  32,  22 },
    { "q5_1", (row_fn) quantize_row_q5_1_ref,  32,  24 },
    { "q8_0", (row_fn) quantize_row_q8_0_ref,  32,  34 },
};

int main(int argc, char ** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <type> <in.f32> <out.bytes>\n", argv[0]);
        return 2;
    }
    const struct kind * k = NULL;
    for (size_t i = 0; i < sizeof(KINDS) / sizeof(KINDS[0]); i++) {
        if (strcmp(KINDS[i].name, argv[1]) == 0) k = &KINDS[i];
    }
    if (!k) { fprintf(stderr, "unknown type %s\n", argv[1]); return 2; }

    FILE * in = fopen(argv[2], "rb");
    if (!in) { perror(argv[2]); return 1; }
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    long n = size / 4;
    if (size % 4 != 0 || n % k->block != 0) {
        fprintf(stderr, "%s: %ld bytes is not a whole number of %d-float blocks\n", argv[2], size, k->block);
        return 1;
    }
    float * x = malloc(size);
    if (fread(x, 1, size, in) != (size_t) size) { perror("read"); return 1; }
    fclose(in);

    size_t out_size = (size_t) (n / k->block) * k->bytes;
    void * y = calloc(1, out_size);
    k->fn(x, y, n);

    FILE * out = fopen(argv[3], "wb");
    if (!out || fwrite(y, 1, out_size, out) != out_size) { perror(argv[3]); return 1; }
    fclose(out);
    free(x);
    free(y);
    return 0;
}
