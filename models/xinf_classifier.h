/*  xinf_classifier: a reranker's classification head, as llama.cpp reads
    it from a GGUF file whose <arch>.pooling_type is rank (4): the matrix
    cls.output.weight [n_cls_out][dim] (F32, F16, BF16 or Q8_0) and its
    optional bias cls.output.bias, applied to the last position's final
    hidden state (normed by output_norm); for qwen3 files (Qwen3-Reranker,
    whose head is the "yes" and "no" rows of its output layer) a softmax
    follows when it has two outputs or more (llama.cpp's always does: a
    single output would then always be 1). The first output is the relevance score. Encoder heads
    (cls.weight, a dense layer with tanh before it) are not read: xinf
    runs decoders.
*/
#ifndef XINF_CLASSIFIER_H_INCLUDED
#define XINF_CLASSIFIER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "xinf_gguf.h"

typedef struct _xinf_classifier_t xinf_classifier_t;

//  The head of 'gguf' for hidden states of 'dim' floats, dequantized to
//  F32; a softmax follows for arch qwen3. NULL with the reason in 'error'
//  when the file has none, an encoder's, or one of the wrong shape or type.
xinf_classifier_t *xinf_classifier_load (xinf_gguf_t *gguf, size_t dim, char *error, size_t error_size);
void xinf_classifier_destroy (xinf_classifier_t **self_p);

//  Outputs per hidden state (n_cls_out).
size_t xinf_classifier_outputs (const xinf_classifier_t *self);
//  The head applied to 'hidden' [dim], in double: outputs into 'out'
//  [n_cls_out]. False when a result is not a finite number.
bool xinf_classifier_apply (const xinf_classifier_t *self, const double *hidden, double *out);

#endif
