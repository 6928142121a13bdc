#!/usr/bin/python3
"""xinf_gen: one schema per protocol, everything else generated from it.

Each protocol of xinf is described once, in protocols/<name>.xml (after
CZMQ's zproto model files): its messages, the maps they carry (types),
every field's type, range, length, character set or values, whether it is
optional and what it means, and the protocol's error codes. From it:

    xinf_gen.py c SCHEMA OUTDIR          the C codec xinf_<name>_msg.h/.c
                                         (structs, validating decoders,
                                         encoders), at build time
    xinf_gen.py python OUT SCHEMA...     the Python codec (tools/xinf_proto.py)
    xinf_gen.py doc SCHEMA SPEC          rewrites the generated tables in
                                         the Markdown spec in place
    xinf_gen.py check SCHEMA... --spec-dir DIR --python FILE --sources DIR...
                      [--collective collective.md xinf_coll_wire.h]
                                         the drift test (CTest proto_schema):
                                         every spec table is what the schema
                                         gives, the Python codec is current,
                                         every message type and error code
                                         the C code names is in a schema;
                                         XCOL's tables agree with its codec

Schema format (see client.xml):

    <protocol name="client" title="XINF-CLIENT/1" spec="client.md">
      <type name="wait"> doc  <field .../> </type>
      <message name="LAUNCH" from="client" to="supervisor" reply="LAUNCH_REPLY">
        doc
        <field name="uid" type="str" min="1" max="64" chars="A-Z a-z 0-9 . _ -">doc</field>
        <field name="replicas" type="uint" min="1" max="16" default="1" optional="1">doc</field>
        <field name="workers" type="array" item="str" item_max="64" max="16" optional="1">doc</field>
      </message>
      <error code="NO_WORKER">doc</error>
    </protocol>

Field types: str (bytes without NUL; min/max length), text (str that must
be valid UTF-8), uint, int, float (min/max range), bool, bin (max length),
array (max/min count; 'item' is the element type, with item_min/item_max),
map (max entries; its values unchecked), any, or the name of a <type>
(a map checked field by field). 'values' (a|b|c) restricts a str to those;
'chars' to a set of characters. Bodies may hold keys the schema does not
name: receivers ignore them (envelope.md, versioning).
"""
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

SCALARS = ("str", "text", "raw", "uint", "int", "float", "bool", "bin")
KINDS = SCALARS + ("array", "map", "any")
UINT_MAX = (1 << 64) - 1
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
MARK_END = "<!-- /schema -->"


class SchemaError(Exception):
    pass


def _text(element):
    """An element's own text, whitespace folded."""
    return " ".join((element.text or "").split())


def _number(text, where):
    if text is None:
        return None
    try:
        value = float(text) if re.search(r"[.eE]", text) and not text.startswith("0x") else int(text, 0)
    except ValueError:
        raise SchemaError(f"{where}: '{text}' is not a number") from None
    return value


class Field:
    def __init__(self, element, owner, protocol):
        self.name = element.get("name")
        where = f"{protocol.source}: {owner} field {self.name}"
        if not self.name or not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise SchemaError(f"{where}: name must be lowercase a-z 0-9 _")
        self.type = element.get("type", "")
        self.min = _number(element.get("min"), where)
        self.max = _number(element.get("max"), where)
        self.item = element.get("item")
        self.item_min = _number(element.get("item_min"), where)
        self.item_max = _number(element.get("item_max"), where)
        self.values = element.get("values").split("|") if element.get("values") else None
        self.chars = element.get("chars")
        self.optional = element.get("optional") in ("1", "yes", "true")
        self.default = element.get("default")
        self.doc = _text(element)
        self.where = where
        if self.default is not None:
            self.optional = True

    def resolve(self, protocol):
        for kind in (self.type, self.item):
            if kind and kind not in KINDS and kind not in protocol.types:
                raise SchemaError(f"{self.where}: unknown type '{kind}'")
        if self.type == "array" and not self.item:
            raise SchemaError(f"{self.where}: an array needs item=")
        if self.type in ("array", "map", "bin") and self.max is None:
            raise SchemaError(f"{self.where}: a {self.type} needs max=")
        if self.values and self.max is None:
            self.min, self.max = 1, max(len(value.encode()) for value in self.values)
        if self.type in ("str", "text", "raw") and self.max is None:
            raise SchemaError(f"{self.where}: a {self.type} needs max=")
        if self.item in ("str", "text", "raw") and self.item_max is None:
            raise SchemaError(f"{self.where}: items of {self.item} need item_max=")
        if (self.values or self.chars) and self.type not in ("str", "text"):
            raise SchemaError(f"{self.where}: values= and chars= are for str and text")

    def limits(self):
        """(min, max) of a number or length, with the type's defaults."""
        return _limits(self.type, self.min, self.max)


def _limits(kind, low, high):
    if kind == "uint":
        return (0 if low is None else low, UINT_MAX if high is None else high)
    if kind == "int":
        return (INT_MIN if low is None else low, INT_MAX if high is None else high)
    if kind == "float":
        return (-1.7976931348623157e308 if low is None else low, 1.7976931348623157e308 if high is None else high)
    return (0 if low is None else low, high)


class Record:
    """A message or a named map type: fields in order."""

    def __init__(self, element, protocol, is_message):
        self.name = element.get("name")
        self.is_message = is_message
        pattern = r"[A-Z][A-Z0-9_]{0,31}" if is_message else r"[a-z][a-z0-9_]*"
        if not self.name or not re.fullmatch(pattern, self.name):
            raise SchemaError(f"{protocol.source}: bad {'message' if is_message else 'type'} name '{self.name}'")
        self.sender = element.get("from", "")
        self.receiver = element.get("to", "")
        self.reply = element.get("reply", "")
        self.doc = _text(element)
        self.fields = [Field(child, self.name, protocol) for child in element if child.tag == "field"]
        names = [field.name for field in self.fields]
        if len(set(names)) != len(names):
            raise SchemaError(f"{protocol.source}: {self.name} names a field twice")

    @property
    def lower(self):
        return self.name.lower()


class Protocol:
    def __init__(self, path):
        self.source = os.path.basename(path)
        root = ElementTree.parse(path).getroot()
        if root.tag != "protocol":
            raise SchemaError(f"{self.source}: the root element must be <protocol>")
        self.name = root.get("name")
        self.title = root.get("title", self.name)
        self.spec = root.get("spec", "")
        self.doc = _text(root)
        self.types = {}
        self.messages = []
        self.errors = []
        for child in root:
            if child.tag == "type":
                record = Record(child, self, False)
                self.types[record.name] = record
            elif child.tag == "message":
                self.messages.append(Record(child, self, True))
            elif child.tag == "error":
                self.errors.append((child.get("code"), _text(child)))
            elif child.tag is not ElementTree.Comment:
                raise SchemaError(f"{self.source}: unknown element <{child.tag}>")
        for record in self.records():
            for field in record.fields:
                field.resolve(self)
        names = [message.name for message in self.messages]
        for message in self.messages:
            if message.lower in self.types:
                raise SchemaError(f"{self.source}: type {message.lower} has the C name of message {message.name}")
        if len(set(names)) != len(names):
            raise SchemaError(f"{self.source}: a message is described twice")

    def records(self):
        return list(self.types.values()) + self.messages

    def prefix(self):
        return f"xinf_{self.name}_msg"


# ------------------------------------------------------------------- C codec

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
        comment = f"   //  {field.doc[:60]}" if field.doc else ""
        kind = field.type
        if kind in ("str", "text", "raw"):
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
    elif kind in ("str", "text"):
        out.append(f"{lvalue} = xinf_check_{kind} (check, map, {_c_string(name)}, {_c_length(low)}, {_c_length(high)});")
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
    if field.type in ("str", "text", "raw"):
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
    elif kind in ("str", "text"):
        call = f"xinf_check_item_{kind} (check, item, key, {_c_length(low)}, {_c_length(high)});"
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
    if kind in ("str", "text", "raw"):
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


def _expand_chars(described):
    allowed = []
    for token in described.split():
        if len(token) == 3 and token[1] == "-":
            allowed += [chr(code) for code in range(ord(token[0]), ord(token[2]) + 1)]
        else:
            allowed += list(token)
    return "".join(allowed)


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
        header.append(f"//  {record.name}: {record.doc[:200]}" if record.doc else f"//  {record.name}")
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
    _write_if_changed(os.path.join(outdir, f"{prefix}.h"), "\n".join(header))
    _write_if_changed(os.path.join(outdir, f"{prefix}.c"), "\n".join(source))


def _write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as old:
            if old.read() == text:
                return
    except OSError:
        pass
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


# -------------------------------------------------------------- Python codec

PYTHON_ENGINE = '''

class ProtoError(ValueError):
    """A body that breaks its schema; the message names the field."""


def _fail(where, what):
    raise ProtoError(f"field '{where}' {what}")


def _check_value(protocol, kind, value, where, low, high, field):
    if kind in ("uint", "int"):
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(where, f"must be {'uint64' if kind == 'uint' else 'int64'}, got {type(value).__name__}")
        if kind == "uint" and value < 0:
            _fail(where, f"must be uint64, got {value}")
        if not low <= value <= high:
            _fail(where, f"is {value}, must be in [{low}, {high}]")
    elif kind == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            _fail(where, f"must be a number, got {type(value).__name__}")
        if not low <= value <= high:
            _fail(where, f"is {value}, must be in [{low}, {high}]")
    elif kind == "bool":
        if not isinstance(value, bool):
            _fail(where, f"must be bool, got {type(value).__name__}")
    elif kind in ("str", "text", "raw"):
        if not isinstance(value, str):
            _fail(where, f"must be str, got {type(value).__name__}")
        raw = value.encode("utf-8", "surrogateescape")
        if not low <= len(raw) <= (high if high is not None else len(raw)):
            _fail(where, f"has {len(raw)} bytes, must have {low} to {high}")
        if kind != "raw" and "\\0" in value:
            _fail(where, "contains a NUL byte")
        if kind == "text":
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                _fail(where, f"is not valid UTF-8 (byte {error.start})")
        if field and field.get("values") and value not in field["values"]:
            _fail(where, f"must be one of {', '.join(field['values'])}, got '{value}'")
        if field and field.get("chars") and any(char not in field["chars_allowed"] for char in value):
            _fail(where, f"may only hold {field['chars']}")
    elif kind == "bin":
        if not isinstance(value, (bytes, bytearray)):
            _fail(where, f"must be bin, got {type(value).__name__}")
        if len(value) > high:
            _fail(where, f"has {len(value)} bytes, at most {high} allowed")
    elif kind in ("array", "map"):
        wanted = list if kind == "array" else dict
        if not isinstance(value, wanted):
            _fail(where, f"must be {kind}, got {type(value).__name__}")
        if high is not None and len(value) > high:
            _fail(where, f"has {len(value)} elements, at most {high} allowed")
        if low and len(value) < low:
            _fail(where, f"has {len(value)} elements, at least {low} needed")
        if kind == "array" and field:
            item = field["item"]
            for index, element in enumerate(value):
                if item in TYPES[protocol]:
                    _check_record(protocol, TYPES[protocol][item], element, f"{where}[{index}]")
                elif item not in ("any", "map", "array"):
                    _check_value(protocol, item, element, f"{where}[{index}]", field["item_min"], field["item_max"], None)
    elif kind != "any":
        _check_record(protocol, TYPES[protocol][kind], value, where)


def _check_record(protocol, fields, body, where=""):
    if not isinstance(body, dict):
        raise ProtoError(f"{where or 'the body'}: not a map")
    for field in fields:
        name = field["name"]
        value = body.get(name)
        if value is None:
            if field["optional"]:
                continue
            _fail(f"{where}.{name}" if where else name, "is missing")
        _check_value(protocol, field["type"], value, f"{where}.{name}" if where else name,
                     field["min"], field["max"], field)


def check(protocol, msg_type, body):
    """Validates a message body against its schema; raises ProtoError naming
    the bad field, KeyError for a type the protocol does not have."""
    _check_record(protocol, MESSAGES[protocol][msg_type], body)
    return body


def encode(protocol, msg_type, **fields):
    """A body from keyword arguments (None: left out), validated."""
    return check(protocol, msg_type, {key: value for key, value in fields.items() if value is not None})


def knows(protocol, msg_type):
    return msg_type in MESSAGES.get(protocol, {})
'''


def _py_field(protocol, field):
    low, high = field.limits()
    if field.type in ("array", "map"):
        low, high = field.min or 0, field.max
    item_low, item_high = _limits(field.item, field.item_min, field.item_max) if field.item else (None, None)
    entry = {"name": field.name, "type": field.type, "min": low, "max": high, "optional": field.optional}
    if field.item:
        entry.update(item=field.item, item_min=item_low, item_max=item_high)
    if field.values:
        entry["values"] = field.values
    if field.chars:
        entry.update(chars=field.chars, chars_allowed=_expand_chars(field.chars))
    return entry


def emit_python(protocols):
    lines = ['"""xinf_proto: the Python codec of the xinf protocols.',
             "",
             "GENERATED by protocols/xinf_gen.py from protocols/*.xml: edit the schemas and",
             "run `cmake --build build --target proto_python`, not this file (CTest",
             "proto_schema fails when it is not current).",
             "",
             "    import xinf_proto",
             '    xinf_proto.check("client", "LAUNCH_REPLY", body)   # raises ProtoError',
             '"""',
             "",
             "MESSAGES = {"]
    for protocol in protocols:
        lines.append(f"    {protocol.name!r}: {{")
        for message in protocol.messages:
            lines.append(f"        {message.name!r}: [")
            lines += [f"            {_py_field(protocol, field)!r}," for field in message.fields]
            lines.append("        ],")
        lines.append("    },")
    lines += ["}", "", "TYPES = {"]
    for protocol in protocols:
        lines.append(f"    {protocol.name!r}: {{")
        for record in protocol.types.values():
            lines.append(f"        {record.name!r}: [")
            lines += [f"            {_py_field(protocol, field)!r}," for field in record.fields]
            lines.append("        ],")
        lines.append("    },")
    lines += ["}", "", "ERRORS = {"]
    for protocol in protocols:
        lines.append(f"    {protocol.name!r}: {[code for code, _ in protocol.errors]!r},")
    lines.append("}")
    return "\n".join(lines) + PYTHON_ENGINE


# ------------------------------------------------------------- Markdown spec

def _md_range(low, high, unit=""):
    def show(value):
        if value == UINT_MAX:
            return "2^64−1"
        if value == (1 << 32) - 1:
            return "2^32−1"
        return f"{value:,}" if isinstance(value, int) and value >= 100000 else f"{value}"
    if low is None and high is None:
        return ""
    if high is None:
        return f"≥ {show(low)}{unit}"
    if low in (None, 0) and unit:
        return f"≤ {show(high)}{unit}"
    return f"{show(low)}–{show(high)}{unit}"


def _md_type(field):
    kind = "str" if field.type == "raw" else field.type
    if kind == "array":
        kind = f"array of {'str' if field.item == 'raw' else field.item}"
    return kind + (", opt" if field.optional else "")


def _md_constraints(field):
    parts = []
    kind = field.type
    if kind in ("uint", "int", "float") and (field.min is not None or field.max is not None):
        parts.append(_md_range(field.min if field.min is not None else (0 if kind == "uint" else None), field.max))
    if kind == "raw":
        parts.append(_md_range(field.min or 0, field.max, " bytes") + ", any bytes")
    if kind in ("str", "text"):
        if field.values:
            parts.append("one of " + ", ".join(f"`{value}`" for value in field.values))
        else:
            parts.append(_md_range(field.min or 0, field.max, " bytes"))
        if field.chars:
            parts.append(f"of `{field.chars}`")
        if kind == "text":
            parts.append("valid UTF-8")
    if kind == "bin":
        parts.append(_md_range(0, field.max, " bytes"))
    if kind in ("array", "map"):
        parts.append(_md_range(field.min or 0, field.max, " entries"))
    if field.item in ("uint", "int", "float") and (field.item_min is not None or field.item_max is not None):
        parts.append("each " + _md_range(field.item_min if field.item_min is not None else 0, field.item_max))
    if field.item in ("str", "text", "raw"):
        parts.append("each " + _md_range(field.item_min or 0, field.item_max, " bytes"))
    if field.default is not None:
        parts.append(f"default {field.default}")
    return ", ".join(part for part in parts if part)


def _md_cell(text):
    return text.replace("|", "\\|")


def md_block(protocol, record):
    if record.is_message:
        route = f"{record.sender} → {record.receiver}" if record.sender else ""
        reply = f"; reply `{record.reply}`" if record.reply else ""
        lines = [f"<!-- schema {protocol.source} {record.name}: generated by protocols/xinf_gen.py, do not edit -->",
                 f"**`{record.name}`** ({route}{reply})" + (f": {record.doc}" if record.doc else "")]
    else:
        lines = [f"<!-- schema {protocol.source} type {record.name}: generated by protocols/xinf_gen.py, do not edit -->",
                 f"**A `{record.name}` map**" + (f": {record.doc}" if record.doc else "")]
    if record.fields:
        lines += ["", "| key | type | constraints | meaning |", "|---|---|---|---|"]
        for field in record.fields:
            lines.append(f"| `{field.name}` | {_md_cell(_md_type(field))} | {_md_cell(_md_constraints(field))} | "
                         f"{_md_cell(field.doc)} |")
    else:
        lines += ["", "No body fields."]
    lines.append(MARK_END)
    return "\n".join(lines)


def md_errors(protocol):
    lines = [f"<!-- schema {protocol.source} errors: generated by protocols/xinf_gen.py, do not edit -->",
             "| code | meaning |", "|---|---|"]
    lines += [f"| `{code}` | {_md_cell(doc)} |" for code, doc in protocol.errors]
    lines.append(MARK_END)
    return "\n".join(lines)


def _blocks(protocol):
    """marker key -> generated text."""
    blocks = {}
    for record in protocol.records():
        key = record.name if record.is_message else f"type {record.name}"
        blocks[key] = md_block(protocol, record)
    if protocol.errors:
        blocks["errors"] = md_errors(protocol)
    return blocks


BLOCK = re.compile(r"<!-- schema (\S+) (type [a-z0-9_]+|errors|[A-Z][A-Z0-9_]*)[:\s][^>]*-->.*?" + re.escape(MARK_END), re.S)


def rewrite_spec(protocol, text):
    """The spec with every generated block replaced by the schema's; the
    blocks it lacks are reported by check_spec."""
    blocks = _blocks(protocol)

    def replace(match):
        if match.group(1) != protocol.source:
            return match.group(0)
        return blocks.get(match.group(2), match.group(0))
    return BLOCK.sub(replace, text)


def check_spec(protocol, text, spec_name):
    problems = []
    blocks = _blocks(protocol)
    found = {}
    for match in BLOCK.finditer(text):
        if match.group(1) != protocol.source:
            continue
        key = match.group(2)
        if key in found:
            problems.append(f"{spec_name}: the table of {key} appears twice")
        found[key] = match.group(0)
        if key not in blocks:
            problems.append(f"{spec_name}: a generated table of {key}, which {protocol.source} does not describe")
        elif match.group(0) != blocks[key]:
            problems.append(f"{spec_name}: the table of {key} differs from {protocol.source} "
                            f"(run: cmake --build build --target proto_docs)")
    for key in blocks:
        if key not in found:
            problems.append(f"{spec_name}: no generated table of {key} from {protocol.source} "
                            f"(add '<!-- schema {protocol.source} {key} -->' ... '{MARK_END}' where it belongs)")
    # Field tables written by hand drift: every one must be generated
    outside = BLOCK.sub("", text)
    for line_number, line in enumerate(outside.splitlines(), 1):
        if line.startswith("| key | type |"):
            problems.append(f"{spec_name}: a field table outside the generated ones (near '{line[:40]}')")
    return problems


# ------------------------------------------------------------------ the code

LITERAL = re.compile(r'"([A-Z][A-Z0-9_]{2,31})"')
#  Upper-case strings in the actors' and runtime's C sources that are not
#  message types or error codes: HTTP methods, log levels, file magic,
#  and INTERNAL, the HTTP gateway's own name for an answer without a code.
NOT_PROTOCOL = {"POST", "GET", "DELETE", "PUT", "GGUF", "BIND", "VALUE", "TRACE", "DEBUG", "INFO", "WARN", "ERR",
                "OPTIONS", "HEAD", "INTERNAL"}


def check_sources(protocols, roots):
    known = {"ERROR"}
    for protocol in protocols:
        known.update(message.name for message in protocol.messages)
        known.update(code for code, _ in protocol.errors)
    problems = []
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in sorted(files):
                if not name.endswith(".c") or name.startswith("xinf_gen"):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8", errors="replace") as source:
                    for number, line in enumerate(source, 1):
                        if line.lstrip().startswith("//") or "#include" in line:
                            continue
                        for word in LITERAL.findall(line):
                            if word not in known and word not in NOT_PROTOCOL:
                                problems.append(f"{path}:{number}: '{word}' is not a message type or error code "
                                                f"of any protocol schema (protocols/*.xml)")
    return problems


# ------------------------------------------------------ XCOL (collective.md)

def check_collective(spec_path, header_path):
    """XCOL is a binary protocol with a hand-written codec (its frames are
    not MessagePack): its spec's header and kinds tables are checked
    against the codec's constants in xinf_coll_wire.h."""
    problems = []
    with open(spec_path, encoding="utf-8") as handle:
        spec = handle.read()
    with open(header_path, encoding="utf-8") as handle:
        code = handle.read()
    name = os.path.basename(spec_path)
    constants = {key: int(value) for key, value in re.findall(r"#define (XINF_COLL_WIRE_\w+)\s+(\d+)\b", code)}
    kinds_code = {int(value): key for key, value in re.findall(r"XINF_COLL_([A-Z]+) = (\d+)", code)}
    kinds_spec = {int(number): kind for number, kind in re.findall(r"^\| (\d) ([A-Z]+) \|", spec, re.M)}
    if kinds_spec != kinds_code:
        problems.append(f"{name}: kinds {kinds_spec} differ from xinf_coll_wire.h's {kinds_code}")
    header = spec[spec.index("## 3. Header"):spec.index("## 4. Kinds")]
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\w+) \|", header, re.M)
    offset = 0
    for at, size, field in rows:
        if int(at) != offset:
            problems.append(f"{name}: header field {field} at offset {at}, expected {offset}")
        offset = int(at) + int(size)
    if offset != constants.get("XINF_COLL_WIRE_HEADER_SIZE"):
        problems.append(f"{name}: the header table adds up to {offset} bytes, the codec's header has "
                        f"{constants.get('XINF_COLL_WIRE_HEADER_SIZE')}")
    version = re.search(r"^\| 4 \| 1 \| version \| `0*(\d+)` \|", header, re.M)
    if not version or int(version.group(1)) != constants.get("XINF_COLL_WIRE_VERSION"):
        problems.append(f"{name}: the version byte differs from XINF_COLL_WIRE_VERSION")
    if f"group id {constants.get('XINF_COLL_WIRE_GROUP_MAX')} bytes" not in spec:
        problems.append(f"{name}: the group id limit differs from XINF_COLL_WIRE_GROUP_MAX")
    return problems


# ----------------------------------------------------------------------- main

def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    verb = argv[1]
    try:
        if verb == "c" and len(argv) == 4:
            emit_c(Protocol(argv[2]), argv[3])
        elif verb == "python" and len(argv) >= 4:
            _write_if_changed(argv[2], emit_python([Protocol(path) for path in argv[3:]]))
        elif verb == "doc" and len(argv) == 4:
            protocol = Protocol(argv[2])
            with open(argv[3], encoding="utf-8") as spec:
                text = spec.read()
            _write_if_changed(argv[3], rewrite_spec(protocol, text))
            for problem in check_spec(protocol, rewrite_spec(protocol, text), argv[3]):
                print(problem, file=sys.stderr)
        elif verb == "check":
            return _check(argv[2:])
        else:
            sys.exit(__doc__)
    except (SchemaError, ElementTree.ParseError) as error:
        sys.exit(f"xinf_gen: {error}")
    return 0


def _check(args):
    schemas, spec_dir, python, sources, collective = [], None, None, [], []
    mode = schemas
    for arg in args:
        if arg == "--spec-dir":
            mode = "spec"
        elif arg == "--python":
            mode = "python"
        elif arg == "--sources":
            mode = sources
        elif arg == "--collective":
            mode = collective
        elif mode == "spec":
            spec_dir, mode = arg, schemas
        elif mode == "python":
            python, mode = arg, schemas
        else:
            mode.append(arg)
    protocols = [Protocol(path) for path in schemas]
    problems = []
    for protocol in protocols:
        spec = os.path.join(spec_dir, protocol.spec)
        with open(spec, encoding="utf-8") as handle:
            problems += check_spec(protocol, handle.read(), protocol.spec)
    if python:
        with open(python, encoding="utf-8") as handle:
            if handle.read() != emit_python(protocols):
                problems.append(f"{python} is not what the schemas give (run: cmake --build build --target proto_python)")
    problems += check_sources(protocols, sources)
    if collective:
        problems += check_collective(*collective)
    names = {}
    for protocol in protocols:
        for message in protocol.messages:
            names.setdefault(message.name, []).append(protocol.name)
    for problem in problems:
        print(problem)
    count = sum(len(protocol.messages) for protocol in protocols)
    print(f"{len(protocols)} schemas, {count} message types, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
