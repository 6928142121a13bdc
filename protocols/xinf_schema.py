"""xinf_schema: the protocol schemas (protocols/<name>.xml) read into
records, fields and error codes for the generators (xinf_gen_c.py,
xinf_gen_py.py, xinf_gen_doc.py) and the drift checks (xinf_gen.py).

Schema format (see client.xml):

    <protocol name="client" title="XINF-CLIENT/1" spec="client.md">
      <type name="wait"> doc  <field .../> </type>
      <message name="LAUNCH" from="client" to="supervisor" reply="LAUNCH_REPLY">
        doc
        <field name="uid" type="str" min="1" max="64" chars="A-Z a-z 0-9 . _ -">doc</field>
        <field name="replicas" type="uint" min="1" max="16" default="1">doc</field>
        <field name="workers" type="array" item="str" item_max="64" max="16" optional="1">doc</field>
      </message>
      <error code="NO_WORKER">doc</error>
    </protocol>

Field types: str (text: valid UTF-8 without NUL; min/max length in bytes),
raw (a MessagePack str of any bytes, not checked as UTF-8: only the bytes
a model generates, which may end or start inside a character), uint, int, float
(min/max range), bool, bin (max length), array (max/min count; 'item' is
the element type, with item_min/item_max), map (max entries; its values
unchecked), any, or the name of a <type> (a map checked field by field).
'values' (a|b|c) restricts a str to those; 'chars' to a set of characters;
a 'default' makes a field optional. Bodies may hold keys the schema does
not name: receivers ignore them (envelope.md, versioning).
"""
import os
import re
import xml.etree.ElementTree as ElementTree

SCALARS = ("str", "raw", "uint", "int", "float", "bool", "bin")
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
        if self.type in ("str", "raw") and self.max is None:
            raise SchemaError(f"{self.where}: a {self.type} needs max=")
        if self.item in ("str", "raw") and self.item_max is None:
            raise SchemaError(f"{self.where}: items of {self.item} need item_max=")
        if (self.values or self.chars) and self.type != "str":
            raise SchemaError(f"{self.where}: values= and chars= are for str")

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


def _expand_chars(described):
    allowed = []
    for token in described.split():
        if len(token) == 3 and token[1] == "-":
            allowed += [chr(code) for code in range(ord(token[0]), ord(token[2]) + 1)]
        else:
            allowed += list(token)
    return "".join(allowed)


def _write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as old:
            if old.read() == text:
                return
    except OSError:
        pass
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
