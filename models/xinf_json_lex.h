/*  xinf_json_lex: the bytes of one JSON string, number or literal (true,
    false, null) after its first byte, one at a time: what the grammars of
    JSON answers (xinf_json_grammar.h, xinf_json_schema.h) share.

    Strings: escapes (\u with four hex digits), UTF-8 without overlong
    forms, surrogates or code points past U+10FFFF, no control characters.
    Numbers: JSON's (an integer one: no fraction or exponent). Its state is
    three plain bytes, kept inside the grammar's state.
*/
#ifndef XINF_JSON_LEX_H_INCLUDED
#define XINF_JSON_LEX_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t sub;                      //  where in the token
    uint8_t pending;                  //  UTF-8 continuation bytes or \u hex digits still due
    uint8_t aux;                      //  the next UTF-8 byte's range; a number's integer flag; the literal
} xinf_json_lex_t;

typedef enum {
    XINF_JSON_LEX_MORE = 0,           //  the byte is taken; the token goes on
    XINF_JSON_LEX_END,                //  the byte is taken and ends the token (a quote, a literal's last letter)
    XINF_JSON_LEX_AFTER,              //  the token ended before the byte (a number): the byte is what follows
    XINF_JSON_LEX_REFUSED             //  the byte cannot come here
} xinf_json_lex_result_t;

//  A string, after its opening quote.
void xinf_json_lex_string (xinf_json_lex_t *lex);
//  A number from its first byte ('-' or a digit; false for another);
//  'integer': no fraction, no exponent.
bool xinf_json_lex_number (xinf_json_lex_t *lex, unsigned char byte, bool integer);
//  A literal from its first byte ('t', 'f' or 'n'; false for another).
bool xinf_json_lex_literal (xinf_json_lex_t *lex, unsigned char byte);

xinf_json_lex_result_t xinf_json_lex_in_string (xinf_json_lex_t *lex, unsigned char byte);
xinf_json_lex_result_t xinf_json_lex_in_number (xinf_json_lex_t *lex, unsigned char byte);
xinf_json_lex_result_t xinf_json_lex_in_literal (xinf_json_lex_t *lex, unsigned char byte);

//  Whether a string is in its text: no escape or UTF-8 continuation due.
bool xinf_json_lex_in_text (const xinf_json_lex_t *lex);

bool xinf_json_lex_is_space (unsigned char byte);

#endif
