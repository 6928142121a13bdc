#!/usr/bin/python3
"""xinf_gen: one schema per protocol, everything else generated from it.

Each protocol of xinf is described once, in protocols/<name>.xml (after
CZMQ's zproto model files; the format is in xinf_schema.py): its messages,
the maps they carry, every field's type, range, length, character set or
values, whether it is optional and what it means, and the protocol's error
codes. From it:

    xinf_gen.py c SCHEMA OUTDIR          the C codec xinf_<name>_msg.h/.c
                                         (xinf_gen_c.py), at build time
    xinf_gen.py python OUT SCHEMA...     the Python codec tools/xinf_proto.py
                                         (xinf_gen_py.py)
    xinf_gen.py doc SCHEMA SPEC          rewrites the generated tables in the
                                         Markdown spec in place (xinf_gen_doc.py)
    xinf_gen.py check SCHEMA... --spec-dir DIR --python FILE --sources DIR...
                      [--collective collective.md xinf_coll_wire.h]
                                         the drift test (CTest proto_schema):
                                         every spec table is what the schema
                                         gives, the Python codec is current,
                                         every message type and error code
                                         the C code names is in a schema;
                                         XCOL's tables agree with its codec
"""
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_gen_c import emit_c  # noqa: E402
from xinf_gen_doc import check_spec, rewrite_spec  # noqa: E402
from xinf_gen_py import emit_python  # noqa: E402
from xinf_schema import Protocol, SchemaError, _write_if_changed  # noqa: E402


# ------------------------------------------------------------------ the code

LITERAL = re.compile(r'"([A-Z][A-Z0-9_]{2,31})"')
#  Upper-case strings in the actors' and runtime's C sources that are not
#  message types or error codes: HTTP methods, log levels, file magic,
#  INTERNAL, the HTTP gateway's own name for an answer without a code, and
#  DENY, the web console's X-Frame-Options header value, and the environment
#  variables of the step watchdog's injected hang and of drafts taken whatever
#  they cost (XINF_SPEC_EVERY_DRAFT), ZeroMQ's security
#  mechanisms as a ZMTP greeting names them, and LLM, Xinference's
#  model_type of a generating model (GET /v1/models/{id}).
NOT_PROTOCOL = {"POST", "GET", "DELETE", "PUT", "GGUF", "BIND", "VALUE", "TRACE", "DEBUG", "INFO", "WARN", "ERR",
                "OPTIONS", "HEAD", "INTERNAL", "DENY", "XINF_FAULT_HANG", "XINF_SPEC_EVERY_DRAFT", "CURVE", "NULL",
                "LLM"}


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
