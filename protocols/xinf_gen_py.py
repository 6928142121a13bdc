"""xinf_gen_py: the Python codec of the protocol schemas (tools/xinf_proto.py):
the schemas as tables and the few functions that check a body against them."""

from xinf_schema import _expand_chars, _limits

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
    elif kind in ("str", "raw"):
        if not isinstance(value, str):
            _fail(where, f"must be str, got {type(value).__name__}")
        raw = value.encode("utf-8", "surrogateescape")
        if not low <= len(raw) <= (high if high is not None else len(raw)):
            _fail(where, f"has {len(raw)} bytes, must have {low} to {high}")
        if kind != "raw" and "\\0" in value:
            _fail(where, "contains a NUL byte")
        if kind == "str":
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
