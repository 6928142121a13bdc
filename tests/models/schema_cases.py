"""Cases for unit_json_schema: schemas of the subset xinf compiles
(models/xinf_json_schema.h), random instances of each written with random
whitespace, and mutations of them, each with the verdict of a checker
written here from JSON Schema's rules plus xinf's own (properties in the
schema's order, each once; no other properties), on what Python's json
module reads. One a line: "SCHEMA VERDICT HEX"; the schemas first, one a
line: "SCHEMA HEX".

Usage: schema_cases.py OUT [COUNT]"""
import json
import random
import sys

SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                      "score": {"type": "number"}, "ok": {"type": "boolean"}},
     "required": ["name", "age"]},
    {"type": "object", "properties": {
        "kind": {"enum": ["cat", "car", "c", 7, 77, True, None]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}, {"type": "string"}]},
        "fixed": {"const": "x\u00e9"}},
     "required": ["kind", "fixed"]},
    {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 4,
     "$defs": {"node": {"type": "object", "properties": {"v": {"type": ["integer", "null"]},
                                                         "kids": {"type": "array", "items": {"$ref": "#/$defs/node"},
                                                                  "maxItems": 2}},
                        "required": ["v"]}}},
    {"type": "object", "properties": {"a": {"type": "object", "properties": {}}, "b": {"type": "array",
                                                                                      "items": {"type": "number"},
                                                                                      "maxItems": 0}},
     "required": ["a", "b"], "additionalProperties": False, "title": "t", "description": "d"},
]


def resolve(schema, root):
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].split("/")[-1]]
    return schema


def instance(rng, schema, root, depth=0):
    schema = resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "anyOf" in schema:
        return instance(rng, rng.choice(schema["anyOf"]), root, depth)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = rng.choice(kind)
    if kind == "object":
        out = {}
        required = schema.get("required", [])
        for name, sub in schema.get("properties", {}).items():
            if name in required or rng.random() < 0.5:
                out[name] = instance(rng, sub, root, depth + 1)
        return out
    if kind == "array":
        low, high = schema.get("minItems", 0), min(schema.get("maxItems", 4), 4 if depth < 3 else 0)
        return [instance(rng, schema["items"], root, depth + 1) for _ in range(rng.randint(low, max(low, high)))]
    if kind == "string":
        return "".join(rng.choice("ab \"\\\n\u00e9\u4e2d\U0001f600") for _ in range(rng.randrange(6)))
    if kind == "integer":
        return rng.randrange(-10**5, 10**5)
    if kind == "number":
        return rng.choice([0.5, -2, 1e-3, 3.25e10, 0, 7])
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def valid(value, schema, root):
    schema = resolve(schema, root)
    if "const" in schema:
        return type(value) is type(schema["const"]) and value == schema["const"]
    if "enum" in schema:
        return any(type(value) is type(item) and value == item for item in schema["enum"])
    if "anyOf" in schema:
        return any(valid(value, sub, root) for sub in schema["anyOf"])
    kinds = schema.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(valid_kind(value, kind, schema, root) for kind in kinds)


def valid_kind(value, kind, schema, root):
    if kind == "object":
        if not isinstance(value, Pairs):
            return False
        names = list(schema.get("properties", {}))
        positions = [names.index(key) if key in names else -1 for key, _ in value]
        if -1 in positions or positions != sorted(set(positions)):
            return False                       # unknown, repeated or out of order
        if not set(schema.get("required", [])) <= {key for key, _ in value}:
            return False
        return all(valid(item, schema["properties"][key], root) for key, item in value)
    if kind == "array":
        return (isinstance(value, list) and not isinstance(value, Pairs)
                and schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 10**9)
                and all(valid(item, schema["items"], root) for item in value))
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return value is None


class Pairs(list):
    """An object as Python's json module reads it: its (key, value) pairs in order."""


def pairs(items):
    return Pairs(tuple(item) for item in items)


def plain(value):
    """Pairs back into dicts (in their order), for writing."""
    if isinstance(value, Pairs):
        return {key: plain(item) for key, item in value}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def verdict(data, schema):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    if text != text.rstrip(" \t\r\n"):
        return 0
    def constant(name):
        raise ValueError(name)
    try:
        value = json.loads(text, parse_constant=constant, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return 0
    # integers written with a fraction or exponent are numbers, not integers
    return 1 if valid(value, schema, schema) else 0


def write(rng, value):
    # enum values and keys are matched as their JSON text: non-ASCII as it is, no \\u escapes
    out = json.dumps(value, ensure_ascii=False, indent=rng.choice([None, None, 1, "\t"]),
                     separators=rng.choice([(",", ":"), (", ", ": ")]))
    return ("".join(rng.choice(" \n") for _ in range(rng.randrange(3))) + out).encode("utf-8")


def mutate(rng, data):
    data = bytearray(data)
    at = rng.randrange(len(data) + 1)
    byte = rng.choice(b'{}[]",:\\ 0123456789-.eEtrufalsnkcx\x01\x80\xc3')
    choice = rng.randrange(3)
    if choice == 0 or not data:
        data.insert(at, byte)
    elif at < len(data):
        if choice == 1:
            del data[at]
        else:
            data[at] = byte
    return bytes(data)


def main():
    out, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 600
    rng = random.Random(20261205)
    lines, objects = [], 0
    for number, schema in enumerate(SCHEMAS):
        lines.append(f"{number} {json.dumps(schema).encode().hex()}")
    cases = []
    for number, schema in enumerate(SCHEMAS):
        for _ in range(count):
            data = write(rng, instance(rng, schema, schema))
            cases.append((number, data))
            cases.append((number, mutate(rng, data)))
            # the same text with keys out of the schema's order, where there are two
            value = json.loads(data, object_pairs_hook=pairs)
            if isinstance(value, Pairs) and len(value) > 1:
                cases.append((number, json.dumps(plain(Pairs(reversed(value))), ensure_ascii=False).encode("utf-8")))
    with open(out, "w") as file:
        file.write(f"{len(SCHEMAS)}\n")
        for line in lines:
            file.write(line + "\n")
        for number, data in cases:
            expected = verdict(data, SCHEMAS[number])
            objects += expected
            file.write(f"{number} {expected} {data.hex()}\n")
    print(f"{len(cases)} cases over {len(SCHEMAS)} schemas, {objects} valid")


if __name__ == "__main__":
    main()
