/*  xinf_dtype: row sizes and names of the weight element types.  */
#include "xinf_dtype.h"

size_t
xinf_dtype_row_bytes (xinf_dtype_t dtype, size_t cols)
{
    switch (dtype) {
        case XINF_DTYPE_F32: return cols * 4;
        case XINF_DTYPE_F16: return cols * 2;
        case XINF_DTYPE_BF16: return cols * 2;
        case XINF_DTYPE_Q8_0:
            if (cols % XINF_Q8_0_BLOCK_SIZE)
                return 0;
            return cols / XINF_Q8_0_BLOCK_SIZE * XINF_Q8_0_BLOCK_BYTES;
    }
    return 0;
}

const char *
xinf_dtype_name (xinf_dtype_t dtype)
{
    switch (dtype) {
        case XINF_DTYPE_F32: return "F32";
        case XINF_DTYPE_F16: return "F16";
        case XINF_DTYPE_BF16: return "BF16";
        case XINF_DTYPE_Q8_0: return "Q8_0";
    }
    return "?";
}
