/*  xinf_json_lex: one JSON string, number or literal, byte by byte
    (xinf_json_lex.h).  */
#include "xinf_json_lex.h"

#include <string.h>

enum { S_PLAIN = 0, S_ESCAPE, S_HEX };
enum { N_MINUS = 0, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_SIGN, N_EXP };
enum { R_80_BF = 0, R_A0_BF, R_80_9F, R_90_BF, R_80_8F };

static const char *const s_literals [3] = { "true", "false", "null" };

bool
xinf_json_lex_is_space (unsigned char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
}

static bool
s_is_digit (unsigned char byte)
{
    return byte >= '0' && byte <= '9';
}

void
xinf_json_lex_string (xinf_json_lex_t *lex)
{
    *lex = (xinf_json_lex_t) { S_PLAIN, 0, R_80_BF };
}

bool
xinf_json_lex_number (xinf_json_lex_t *lex, unsigned char byte, bool integer)
{
    *lex = (xinf_json_lex_t) { byte == '-' ? N_MINUS : byte == '0' ? N_ZERO : N_INT, 0, integer };
    return byte == '-' || s_is_digit (byte);
}

bool
xinf_json_lex_literal (xinf_json_lex_t *lex, unsigned char byte)
{
    for (uint8_t literal = 0; literal < 3; literal++)
        if (byte == (unsigned char) s_literals [literal][0]) {
            *lex = (xinf_json_lex_t) { 1, 0, literal };
            return true;
        }
    return false;
}

//  A UTF-8 lead byte: how many continuation bytes follow and the range of
//  the first; false for bytes that lead nothing (or overlong forms).
static bool
s_utf8_lead (xinf_json_lex_t *lex, unsigned char byte)
{
    if (byte >= 0xC2 && byte <= 0xDF)
        lex->pending = 1, lex->aux = R_80_BF;
    else
    if (byte >= 0xE0 && byte <= 0xEF)
        lex->pending = 2, lex->aux = byte == 0xE0 ? R_A0_BF : byte == 0xED ? R_80_9F : R_80_BF;
    else
    if (byte >= 0xF0 && byte <= 0xF4)
        lex->pending = 3, lex->aux = byte == 0xF0 ? R_90_BF : byte == 0xF4 ? R_80_8F : R_80_BF;
    else
        return false;
    return true;
}

static xinf_json_lex_result_t
s_taken (bool taken)
{
    return taken ? XINF_JSON_LEX_MORE : XINF_JSON_LEX_REFUSED;
}

xinf_json_lex_result_t
xinf_json_lex_in_string (xinf_json_lex_t *lex, unsigned char byte)
{
    static const unsigned char low [] = { 0x80, 0xA0, 0x80, 0x90, 0x80 }, high [] = { 0xBF, 0xBF, 0x9F, 0xBF, 0x8F };
    if (lex->sub == S_ESCAPE) {
        lex->sub = byte == 'u' ? S_HEX : S_PLAIN;
        lex->pending = byte == 'u' ? 4 : 0;
        return s_taken (byte && strchr ("\"\\/bfnrtu", byte) != NULL);
    }
    if (lex->sub == S_HEX) {
        bool hex = s_is_digit (byte) || (byte >= 'a' && byte <= 'f') || (byte >= 'A' && byte <= 'F');
        if (hex && --lex->pending == 0)
            lex->sub = S_PLAIN;
        return s_taken (hex);
    }
    if (lex->pending) {
        if (byte < low [lex->aux] || byte > high [lex->aux])
            return XINF_JSON_LEX_REFUSED;
        lex->pending--;
        lex->aux = R_80_BF;
        return XINF_JSON_LEX_MORE;
    }
    if (byte == '"')
        return XINF_JSON_LEX_END;
    if (byte == '\\') {
        lex->sub = S_ESCAPE;
        return XINF_JSON_LEX_MORE;
    }
    return s_taken (byte >= 0x20 && (byte < 0x80 || s_utf8_lead (lex, byte)));
}

xinf_json_lex_result_t
xinf_json_lex_in_number (xinf_json_lex_t *lex, unsigned char byte)
{
    uint8_t sub = lex->sub;
    bool digit = s_is_digit (byte), integer = lex->aux;
    if (sub == N_MINUS) {
        lex->sub = byte == '0' ? N_ZERO : N_INT;
        return s_taken (digit);
    }
    if ((sub == N_INT || sub == N_FRAC || sub == N_EXP) && digit)
        return XINF_JSON_LEX_MORE;
    if ((sub == N_DOT || sub == N_SIGN) && digit) {
        lex->sub = sub == N_DOT ? N_FRAC : N_EXP;
        return XINF_JSON_LEX_MORE;
    }
    if (!integer && (sub == N_ZERO || sub == N_INT) && byte == '.') {
        lex->sub = N_DOT;
        return XINF_JSON_LEX_MORE;
    }
    if (!integer && (sub == N_ZERO || sub == N_INT || sub == N_FRAC) && (byte == 'e' || byte == 'E')) {
        lex->sub = N_E;
        return XINF_JSON_LEX_MORE;
    }
    if (sub == N_E && (byte == '+' || byte == '-' || digit)) {
        lex->sub = digit ? N_EXP : N_SIGN;
        return XINF_JSON_LEX_MORE;
    }
    //  A number that can end here ends: the byte is what follows it
    bool complete = sub == N_ZERO || sub == N_INT || sub == N_FRAC || sub == N_EXP;
    return complete ? XINF_JSON_LEX_AFTER : XINF_JSON_LEX_REFUSED;
}

xinf_json_lex_result_t
xinf_json_lex_in_literal (xinf_json_lex_t *lex, unsigned char byte)
{
    const char *literal = s_literals [lex->aux];
    if (byte != (unsigned char) literal [lex->sub])
        return XINF_JSON_LEX_REFUSED;
    return literal [++lex->sub] ? XINF_JSON_LEX_MORE : XINF_JSON_LEX_END;
}

bool
xinf_json_lex_in_text (const xinf_json_lex_t *lex)
{
    return lex->sub == S_PLAIN && lex->pending == 0;
}
