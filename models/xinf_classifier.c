/*  xinf_classifier: a reranker's classification head.  */
#include "xinf_classifier.h"
#include "xinf_check.h"
#include "xinf_dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_OUTPUTS_MAX 64              //  labels a head may have

struct _xinf_classifier_t {
    size_t rows, cols;
    float *weights;                   //  [rows][cols]
    float *bias;                      //  [rows] or NULL
    bool softmax;
};

//  The xinf type of a head's ggml type; false for one not read here.
static bool
s_dtype (uint32_t type, xinf_dtype_t *dtype)
{
    *dtype = type == XINF_GGML_F32 ? XINF_DTYPE_F32 : type == XINF_GGML_F16 ? XINF_DTYPE_F16
           : type == XINF_GGML_BF16 ? XINF_DTYPE_BF16 : XINF_DTYPE_Q8_0;
    return type == XINF_GGML_F32 || type == XINF_GGML_F16 || type == XINF_GGML_BF16 || type == XINF_GGML_Q8_0;
}

//  Tensor 'name' of ne {cols, rows} as F32 rows into 'out'. 0, or -1 with the reason.
static int
s_read (xinf_gguf_t *gguf, const xinf_gguf_tensor_t *tensor, size_t rows, size_t cols, float *out, char *error,
        size_t error_size)
{
    xinf_dtype_t dtype;
    if (!s_dtype (tensor->type, &dtype))
        return xinf_fail (error, error_size, "tensor '%s' is of a type the head is not read in (F32, F16, BF16, Q8_0)",
                          tensor->name);
    if (dtype == XINF_DTYPE_Q8_0 && cols % 32)
        return xinf_fail (error, error_size, "tensor '%s' is Q8_0 with rows of %zu values, not whole blocks of 32",
                          tensor->name, cols);
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    void *bytes = malloc (row_bytes * rows);
    if (!bytes)
        return xinf_fail (error, error_size, "out of memory for tensor '%s'", tensor->name);
    if (xinf_gguf_read (gguf, tensor->data, row_bytes * rows, bytes)) {
        free (bytes);
        return xinf_fail (error, error_size, "%s", xinf_gguf_error (gguf));
    }
    for (size_t row = 0; row < rows; row++)
        xinf_dtype_to_f32 (dtype, (const char *) bytes + row * row_bytes, cols, out + row * cols);
    free (bytes);
    return 0;
}

xinf_classifier_t *
xinf_classifier_load (xinf_gguf_t *gguf, size_t dim, char *error, size_t error_size)
{
    const xinf_gguf_tensor_t *head = xinf_gguf_find_tensor (gguf, "cls.output.weight");
    if (xinf_gguf_find_tensor (gguf, "cls.weight")) {
        xinf_fail (error, error_size, "the file's classifier has a dense layer (cls.weight): an encoder's head, "
                   "which xinf does not run");
        return NULL;
    }
    if (!head) {
        xinf_fail (error, error_size, "the file has no classification head (cls.output.weight)");
        return NULL;
    }
    size_t rows = head->n_dims == 2 ? (size_t) head->ne [1] : head->n_dims == 1 ? 1 : 0;
    if (head->ne [0] != dim || rows == 0 || rows > S_OUTPUTS_MAX) {
        xinf_fail (error, error_size, "tensor 'cls.output.weight' must be %zu x N (N 1 to %d outputs)", dim,
                   S_OUTPUTS_MAX);
        return NULL;
    }
    const xinf_gguf_tensor_t *bias = xinf_gguf_find_tensor (gguf, "cls.output.bias");
    if (bias && (bias->n_elements != rows || bias->type != XINF_GGML_F32)) {
        xinf_fail (error, error_size, "tensor 'cls.output.bias' must be %zu F32 values", rows);
        return NULL;
    }
    xinf_classifier_t *self = calloc (1, sizeof *self);
    if (self) {
        self->weights = malloc (rows * dim * sizeof (float));
        self->bias = bias ? malloc (rows * sizeof (float)) : NULL;
    }
    if (!self || !self->weights || (bias && !self->bias)) {
        xinf_fail (error, error_size, "out of memory for the classification head");
        xinf_classifier_destroy (&self);
        return NULL;
    }
    self->rows = rows;
    self->cols = dim;
    const char *arch = xinf_gguf_get_str (gguf, "general.architecture");
    self->softmax = arch && strcmp (arch, "qwen3") == 0 && rows >= 2;     //  (one output: its logit)
    if (s_read (gguf, head, rows, dim, self->weights, error, error_size)
    ||  (bias && s_read (gguf, bias, 1, rows, self->bias, error, error_size)))
        xinf_classifier_destroy (&self);
    return self;
}

void
xinf_classifier_destroy (xinf_classifier_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->weights);
        free ((*self_p)->bias);
        free (*self_p);
        *self_p = NULL;
    }
}

size_t
xinf_classifier_outputs (const xinf_classifier_t *self)
{
    return self->rows;
}

bool
xinf_classifier_apply (const xinf_classifier_t *self, const double *hidden, double *out)
{
    double top = -INFINITY, sum = 0;
    for (size_t row = 0; row < self->rows; row++) {
        const float *weights = self->weights + row * self->cols;
        double dot = self->bias ? self->bias [row] : 0;
        for (size_t i = 0; i < self->cols; i++)
            dot += weights [i] * hidden [i];
        out [row] = dot;
        top = dot > top ? dot : top;
    }
    for (size_t row = 0; self->softmax && row < self->rows; row++)
        sum += (out [row] = exp (out [row] - top));
    for (size_t row = 0; self->softmax && row < self->rows; row++)
        out [row] /= sum;
    for (size_t row = 0; row < self->rows; row++)
        if (!isfinite (out [row]))
            return false;
    return true;
}
