"""xinf_gen_c: the C codec of a protocol schema, xinf_<name>_msg.h/.c: a
struct per message and map type, a decoder that validates every field and
names the bad one (through runtime/xinf_check.h and protocols/xinf_codec.h),
an encoder, and the protocol-wide validate."""
import os
import textwrap

from xinf_schema import (INT_MAX, INT_MIN, UINT_MAX, SchemaError, _expand_chars, _limits, _number)


def _c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _c_number(kind, value):
    if kind == "float":
        return repr(float(value))
    if kind == "int":
        return "INT64_MIN" if value == INT_MIN else "INT64_MAX" if value == INT_MAX else f"{value}LL"
    return "UINT64_MAX" if value == UINT_MAX else f"{value}ULL"


def _c_length(value):
    return "SIZE_MAX" if value is None else f"{value}"


def _struct_name(protocol, record):
    return f"{protocol.prefix()}_{record.lower}_t"


def _c_members(protocol, record):
    lines = []
    for field in record.fields:
        lines += ["    //  " + line for line in textwrap.wrap(field.doc, 100)]
        comment = ""
        kind = field.type
        if kind in ("str", "raw"):
            lines.append(f"    const char *{field.name};{comment}")
        elif kind == "uint":
            lines.append(f"    uint64_t {field.name};{comment}")
        elif kind == "int":
            lines.append(f"    int64_t {field.name};{comment}")
        elif kind == "float":
            lines.append(f"    double {field.name};{comment}")
        elif kind == "bool":
            lines.append(f"    bool {field.name};{comment}")
        elif kind == "bin":
            lines.append(f"    const void *{field.name};{comment}")
            lines.append(f"    size_t {field.name}_size;")
        else:
            lines.append(f"    const xinf_value_t *{field.name};{comment}")
        if field.optional:
            lines.append(f"    bool has_{field.name};")
    if not lines:
        lines.append("    int empty;                          //  no fields")
    return lines


def _c_read(protocol, field, target):
    """Statements that read one field of 'map' into 'target' (an lvalue prefix)."""
    name, kind = field.name, field.type
    low, high = field.limits()
    out = []
    lvalue = f"{target}{name}"
    if kind in ("uint", "int", "float"):
        out.append(f"{lvalue} = xinf_check_{kind} (check, map, {_c_string(name)}, "
                   f"{_c_number(kind, low)}, {_c_number(kind, high)});")
    elif kind == "bool":
        out.append(f"{lvalue} = xinf_check_bool (check, map, {_c_string(name)});")
    elif kind == "raw":
        out.append(f"{lvalue} = xinf_codec_raw (check, map, {_c_string(name)}, {_c_length(low)}, {_c_length(high)});")
    elif kind == "str":
        out.append(f"{lvalue} = xinf_check_str (check, map, {_c_string(name)}, {_c_length(low)}, {_c_length(high)});")
        if field.values:
            values = ", ".join(_c_string(value) for value in field.values)
            out.append(f"xinf_codec_enum (check, {_c_string(name)}, {lvalue}, (const char *const []) {{ {values}, NULL }});")
        if field.chars:
            out.append(f"xinf_codec_chars (check, {_c_string(name)}, {lvalue}, {_c_string(_expand_chars(field.chars))}, "
                       f"{_c_string(field.chars)});")
    elif kind == "bin":
        out.append(f"{lvalue} = xinf_check_bin (check, map, {_c_string(name)}, {_c_length(high)}, &{lvalue}_size);")
    elif kind == "any":
        out.append(f"{lvalue} = xinf_codec_any (check, map, {_c_string(name)}, true);")
    elif kind == "array":
        out.append(f"{lvalue} = xinf_check_array (check, map, {_c_string(name)}, {_c_length(high)});")
        if low:
            out.append(f"xinf_codec_count_min (check, {_c_string(name)}, {lvalue}, {low});")
        out.extend(_c_items(protocol, field, lvalue))
    elif kind == "map":
        out.append(f"{lvalue} = xinf_check_map (check, map, {_c_string(name)}, {_c_length(high)});")
    else:
        out.append(f"{lvalue} = xinf_check_map (check, map, {_c_string(name)}, SIZE_MAX);")
        out.append(f"if ({lvalue} && !check->failed) {{")
        out.append(f"    {protocol.prefix()}_{kind}_t item;")
        out.append(f"    {protocol.prefix()}_{kind}_decode ({lvalue}, &item, check);")
        out.append(f"    xinf_codec_within (check, false, {_c_string(name)});")
        out.append("}")
    if field.optional:
        default = _c_default(field)
        has = f"{target}has_{name}"
        first = out[0]
        if first.startswith(f"{lvalue} = ") and not out[0].endswith("{"):
            expression = first[len(lvalue) + 3:-1]
            rest = out[1:]
            if not any(line.startswith("for") or line.startswith("if") for line in rest):
                fallback = default if default is not None else ("NULL" if field.type not in ("uint", "int", "float", "bool") else "0")
                return [f"{has} = xinf_codec_has (map, {_c_string(name)});",
                        f"{lvalue} = {has} ? {expression} : {fallback};", *rest]
        body = ["    " + line for line in out]
        out = [f"{target}has_{name} = xinf_codec_has (map, {_c_string(name)});",
               f"if ({target}has_{name}) {{", *body, "}"]
        if default is not None:
            out += ["else", f"    {lvalue} = {default};"]
    return out


def _c_default(field):
    if field.default is None:
        return None
    if field.type in ("str", "raw"):
        return _c_string(field.default)
    if field.type == "bool":
        return "true" if field.default in ("1", "true") else "false"
    if field.type in ("uint", "int", "float"):
        return _c_number(field.type, _number(field.default, field.where))
    raise SchemaError(f"{field.where}: a default is for scalars only")


def _c_items(protocol, field, lvalue):
    kind = field.item
    low, high = _limits(kind, field.item_min, field.item_max)
    call = None
    if kind in ("uint", "int", "float"):
        call = f"xinf_check_item_{kind} (check, item, key, {_c_number(kind, low)}, {_c_number(kind, high)});"
    elif kind == "bool":
        call = "xinf_check_item_bool (check, item, key);"
    elif kind == "str":
        call = f"xinf_check_item_str (check, item, key, {_c_length(low)}, {_c_length(high)});"
    elif kind == "raw":
        call = f"xinf_codec_item_raw (check, item, key, {_c_length(low)}, {_c_length(high)});"
    elif kind in protocol.types:
        call = None
    else:
        return []    # any, map, array items: the count is all that is checked
    out = [f"for (size_t index = 0; {lvalue} && !check->failed && index < xinf_value_count ({lvalue}); index++) {{",
           f"    const xinf_value_t *item = xinf_array_at ({lvalue}, index);",
           "    char key [64];",
           f"    xinf_codec_item_key (key, sizeof key, {_c_string(field.name)}, index);"]
    if call:
        out.append(f"    {call}")
    else:
        out += [f"    {protocol.prefix()}_{kind}_t decoded;",
                "    xinf_codec_item_map (check, item, key);",
                "    if (!check->failed) {",
                f"        {protocol.prefix()}_{kind}_decode (item, &decoded, check);",
                "        xinf_codec_within (check, false, key);",
                "    }"]
    out.append("}")
    return out


def _c_put(field, source):
    name, kind = field.name, field.type
    value = f"{source}{name}"
    key = _c_string(name)
    if kind in ("str", "raw"):
        line = f"xinf_map_put_str (map, {key}, {value} ? {value} : \"\");"
    elif kind == "uint":
        line = f"xinf_map_put_uint (map, {key}, {value});"
    elif kind == "int":
        line = f"xinf_map_put_int (map, {key}, {value});"
    elif kind == "float":
        line = f"xinf_map_put_float (map, {key}, {value});"
    elif kind == "bool":
        line = f"xinf_map_put_bool (map, {key}, {value});"
    elif kind == "bin":
        line = f"xinf_map_put (map, {key}, xinf_value_new_bin ({value}, {value}_size));"
    else:
        empty = "xinf_value_new_array ()" if kind == "array" else "xinf_value_new_nil ()" if kind == "any" \
            else "xinf_value_new_map ()"
        line = f"xinf_map_put (map, {key}, {value} ? xinf_value_dup ({value}) : {empty});"
    if field.optional:
        return [f"if ({source}has_{name})", f"    {line}"]
    return [line]


def emit_c(protocol, outdir):
    prefix = protocol.prefix()
    guard = f"{prefix.upper()}_H_INCLUDED"
    header = [f"/*  {prefix}: the codec of {protocol.title} ({protocol.spec}).",
              "",
              f"    GENERATED by protocols/xinf_gen.py from protocols/{protocol.source}: edit",
              "    the schema, not this file.",
              "",
              "    Decoders validate every field the schema names (type, range, length,",
              "    UTF-8, values) and fill the struct with pointers into the body (valid",
              "    while the body lives), or fail with the reason naming the field.",
              "    Encoders build the message (or fill a map) from the struct; optional",
              "    fields go out when their has_ flag is set.",
              "*/",
              f"#ifndef {guard}", f"#define {guard}", "", '#include "xinf_codec.h"', ""]
    for message in protocol.messages:
        header.append(f"#define {prefix.upper()}_{message.name} {_c_string(message.name)}")
    header.append("")
    for record in protocol.records():
        struct = _struct_name(protocol, record)
        header += ["//  " + line for line in textwrap.wrap(f"{record.name}: {record.doc}" if record.doc else record.name, 100)]
        header.append("typedef struct {")
        header += _c_members(protocol, record)
        header.append(f"}} {struct};")
        header.append("")
    for record in protocol.records():
        struct = _struct_name(protocol, record)
        base = f"{prefix}_{record.lower}"
        header.append(f"int {base}_decode (const xinf_value_t *map, {struct} *self, xinf_check_t *check);")
        header.append(f"void {base}_put (const {struct} *self, xinf_value_t *map);")
        if record.is_message:
            header.append(f"xinf_msg_t *{base}_encode (const {struct} *self);")
    header += ["",
               "//  Validates a body of any message of the protocol: 0 when valid, -1",
               "//  (reason in check) when not, 1 when the protocol has no such type.",
               f"int {prefix}_validate (const char *type, const xinf_value_t *body, xinf_check_t *check);",
               "//  The protocol's message types, NULL-terminated.",
               f"extern const char *const {prefix}_types [];",
               "", "#endif", ""]
    source = [f"/*  {prefix}: GENERATED from protocols/{protocol.source} by protocols/xinf_gen.py.  */",
              f'#include "{prefix}.h"', ""]
    for record in protocol.records():
        struct = _struct_name(protocol, record)
        base = f"{prefix}_{record.lower}"
        source += ["int", f"{base}_decode (const xinf_value_t *map, {struct} *self, xinf_check_t *check)", "{",
                   "    memset (self, 0, sizeof *self);"]
        if not record.fields:
            source.append("    (void) map;")
        for field in record.fields:
            source += ["    " + line for line in _c_read(protocol, field, "self->")]
        source += ["    return check->failed ? -1 : 0;", "}", ""]
        source += ["void", f"{base}_put (const {struct} *self, xinf_value_t *map)", "{"]
        if not record.fields:
            source += ["    (void) self;", "    (void) map;"]
        for field in record.fields:
            source += ["    " + line for line in _c_put(field, "self->")]
        source += ["}", ""]
        if record.is_message:
            source += ["xinf_msg_t *", f"{base}_encode (const {struct} *self)", "{",
                       f"    xinf_msg_t *msg = xinf_msg_new ({_c_string(record.name)});",
                       f"    {base}_put (self, xinf_msg_body (msg));",
                       "    return msg;", "}", ""]
    source += ["int", f"{prefix}_validate (const char *type, const xinf_value_t *body, xinf_check_t *check)", "{"]
    for message in protocol.messages:
        source += [f"    if (streq (type, {_c_string(message.name)})) {{",
                   f"        {_struct_name(protocol, message)} decoded;",
                   f"        return {prefix}_{message.lower}_decode (body, &decoded, check);",
                   "    }"]
    source += ["    return 1;", "}", "", f"const char *const {prefix}_types [] = {{"]
    source += [f"    {_c_string(message.name)}," for message in protocol.messages]
    source += ["    NULL", "};", ""]
    os.makedirs(outdir, exist_ok=True)
    #  Written every time: the build tool then sees the outputs newer than
    #  the schema and the generator, and does not run this again
    for name, lines in ((f"{prefix}.h", header), (f"{prefix}.c", source)):
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
